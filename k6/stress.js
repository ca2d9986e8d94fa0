// The stress test: the official mix (debits : credits : statements as
// 220 : 110 : 10) as one arrival rate ramping from stress.start_rate to
// stress.max_rate (k6/mix.json), until the stack saturates. Thresholds abort
// the ramp once p99 or the error rate pass their bounds (or on any
// inconsistency); the summary reports the highest rate sustained, i.e. the
// ramp's target rate stress.abort_delay_s before the abort.
//
//   k6 run k6/stress.js
//   BASE_URL=http://127.0.0.1:9999 TIME_SCALE=0.2 P99_MS=50 k6 run k6/stress.js
//
// Environment: BASE_URL, TIME_SCALE (ramp duration multiplied by it),
// P99_MS (overrides stress.p99_bound_ms), MAX_RATE (overrides
// stress.max_rate), SUMMARY_PATH, K6_VERSION, RUN_COMMIT, RUN_DIRTY, RUN_DATE.
//
// Caveat: k6 evaluates thresholds over the whole run so far, not over a
// sliding window, so p99 crosses its bound somewhat after the moment the
// stack saturates; the reported rate is an upper estimate of the sustained one.
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate } from 'k6/metrics';
import {
  judge,
  randomClient,
  randomTransacao,
  statusMetric,
  STATUS_CODES,
  timeScale,
  stressScenarios,
  stressRateAt,
  buildSummary,
  textSummary,
} from './lib.js';

const MIX = JSON.parse(open('./mix.json'));
if (__ENV.MAX_RATE) MIX.stress.max_rate = parseFloat(__ENV.MAX_RATE);
if (__ENV.P99_MS) MIX.stress.p99_bound_ms = parseFloat(__ENV.P99_MS);
const BASE = (__ENV.BASE_URL || 'http://127.0.0.1:9999').replace(/\/$/, '');
const SCALE = timeScale(__ENV.TIME_SCALE);
const S = MIX.stress;
const DELAY = S.abort_delay_s + 's';

const inconsistencies = new Counter('inconsistencies');
const unexpected = new Counter('unexpected');
const slaOk = new Rate('sla_ok');
const statusCounters = {};
STATUS_CODES.map(statusMetric)
  .concat(['status_other'])
  .forEach(function (n) {
    statusCounters[n] = new Counter(n);
  });

export const options = {
  scenarios: stressScenarios(MIX, SCALE),
  summaryTrendStats: ['avg', 'min', 'med', 'p(50)', 'p(90)', 'p(95)', 'p(98)', 'p(99)', 'max'],
  thresholds: {
    http_req_duration: [{ threshold: 'p(99)<' + S.p99_bound_ms, abortOnFail: true, delayAbortEval: DELAY }],
    http_req_failed: [{ threshold: 'rate<' + S.error_rate_bound, abortOnFail: true, delayAbortEval: DELAY }],
    inconsistencies: [{ threshold: 'count==0', abortOnFail: true }],
    // Listed so that their values reach handleSummary.
    'http_reqs{phase:load}': ['count>=0'],
    'http_req_duration{phase:load}': ['max>=0'],
    unexpected: ['count>=0'],
    sla_ok: ['rate>=0'],
  },
};

function record(kind, client, res) {
  statusCounters[statusMetric(res.status)].add(1);
  const j = judge(MIX, kind, client, res.status, res.body);
  if (!j.expected) unexpected.add(1);
  if (j.inconsistent) inconsistencies.add(1);
  slaOk.add(j.expected && res.timings.duration < MIX.sla.latency_ms);
  const o = {};
  o[kind + ': expected status, balance within the limit'] = function () {
    return j.expected && !j.inconsistent;
  };
  check(res, o);
}

const PARAMS = {
  debitos: { headers: MIX.headers, tags: { name: 'debitos' }, responseCallback: http.expectedStatuses(200, 422) },
  creditos: { headers: MIX.headers, tags: { name: 'creditos' }, responseCallback: http.expectedStatuses(200) },
  extratos: { headers: MIX.headers, tags: { name: 'extratos' }, responseCallback: http.expectedStatuses(200) },
};

function transacao(kind, tipo) {
  const c = randomClient(MIX);
  const res = http.post(BASE + '/clientes/' + c.id + '/transacoes', JSON.stringify(randomTransacao(MIX, tipo)), PARAMS[kind]);
  record(kind, c, res);
}

export function debitos() {
  transacao('debitos', 'd');
}

export function creditos() {
  transacao('creditos', 'c');
}

export function extratos() {
  const c = randomClient(MIX);
  record('extratos', c, http.get(BASE + '/clientes/' + c.id + '/extrato', PARAMS.extratos));
}

export function handleSummary(data) {
  const ran = data.state.testRunDurationMs / 1000;
  const aborted = ['http_req_duration', 'http_req_failed', 'inconsistencies'].some(function (m) {
    const t = data.metrics[m] && data.metrics[m].thresholds;
    return (
      !!t &&
      Object.keys(t).some(function (k) {
        return !t[k].ok;
      })
    );
  });
  const sustained = Math.round(stressRateAt(MIX, SCALE, aborted ? ran - S.abort_delay_s : ran));
  const s = buildSummary(data, {
    scenario: 'stress',
    tool_version: __ENV.K6_VERSION,
    commit: __ENV.RUN_COMMIT,
    dirty: __ENV.RUN_DIRTY === undefined ? undefined : __ENV.RUN_DIRTY === 'true',
    date: __ENV.RUN_DATE,
    duration_s: ran,
    rate: sustained,
    notes:
      'k6/stress.js: ramp ' + S.start_rate + ' -> ' + S.max_rate + ' requests/s over ' + Math.round(S.ramp_s * SCALE) + ' s; ' +
      (aborted ? 'aborted after ' + Math.round(ran) + ' s (p99 bound ' + S.p99_bound_ms + ' ms or error bound passed)' : 'ran to the end of the ramp') +
      '; highest rate sustained about ' + sustained + ' requests/s',
    extra: { time_scale: SCALE, base_url: BASE, stress: { aborted: aborted, sustained_rate: sustained, p99_bound_ms: S.p99_bound_ms } },
  });
  // The abort is the measurement, not a failure: keep only the correctness
  // thresholds in the verdict, report the others as information.
  s.thresholds.passed = s.thresholds.checks.every(function (c) {
    return c.passed || c.name.indexOf('inconsistencies') !== 0;
  });
  const out = { stdout: textSummary(s) };
  out[__ENV.SUMMARY_PATH || 'summary.json'] = JSON.stringify(s, null, 2) + '\n';
  return out;
}

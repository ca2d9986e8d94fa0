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
import { loadFunctions, loadMix, timeScale, stressScenarios, stressRateAt, buildSummary, splitBounds, STRESS_BOUNDS, textSummary } from './lib.js';

const MIX = loadMix(open('./mix.json'), open('../db/clientes.csv'));
if (__ENV.MAX_RATE) MIX.stress.max_rate = parseFloat(__ENV.MAX_RATE);
if (__ENV.P99_MS) MIX.stress.p99_bound_ms = parseFloat(__ENV.P99_MS);
const BASE = (__ENV.BASE_URL || 'http://127.0.0.1:9999').replace(/\/$/, '');
const SCALE = timeScale(__ENV.TIME_SCALE);
const S = MIX.stress;
const DELAY = S.abort_delay_s + 's';

const LOAD = loadFunctions({ http: http, check: check, Counter: Counter, Rate: Rate }, MIX, BASE);

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

// One request per arrival (k6/lib.js).
export const debitos = LOAD.debitos;
export const creditos = LOAD.creditos;
export const extratos = LOAD.extratos;

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
  // The abort is the measurement, not a failure: its bounds leave the
  // checks, and the verdict is every remaining check.
  splitBounds(s, STRESS_BOUNDS);
  const out = { stdout: textSummary(s) };
  out[__ENV.SUMMARY_PATH || 'summary.json'] = JSON.stringify(s, null, 2) + '\n';
  return out;
}

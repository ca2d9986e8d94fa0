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
import { MIX, SCALE, TREND_STATS, dur, buildSummary, summaryOutputs } from './lib.js';

// One request per arrival (k6/lib.js).
export { debitos, creditos, extratos } from './lib.js';

if (__ENV.MAX_RATE) MIX.stress.max_rate = parseFloat(__ENV.MAX_RATE);
if (__ENV.P99_MS) MIX.stress.p99_bound_ms = parseFloat(__ENV.P99_MS);
const S = MIX.stress;
const DELAY = S.abort_delay_s + 's';
const RAMP_S = Math.max(1, Math.round(S.ramp_s * SCALE));

// One ramp per kind, the total arrivals from start_rate to max_rate over
// ramp_s split by the mix's shares (220 : 110 : 10).
const rates = MIX.load.rates;
const total = Object.keys(rates).reduce((a, k) => a + rates[k], 0);
const scenarios = {};
Object.keys(rates).forEach(function (kind) {
  const share = (x) => Math.max(1, Math.round((x * rates[kind]) / total));
  scenarios[kind] = {
    executor: 'ramping-arrival-rate',
    exec: kind,
    startRate: share(S.start_rate),
    timeUnit: '1s',
    preAllocatedVUs: share(S.pre_allocated_vus),
    maxVUs: share(S.max_vus),
    stages: [{ target: share(S.max_rate), duration: dur(RAMP_S) }],
    tags: { phase: 'load' },
  };
});

export const options = {
  scenarios: scenarios,
  summaryTrendStats: TREND_STATS,
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

// The ramp's total target rate t seconds after its start.
function rateAt(t) {
  return S.start_rate + ((S.max_rate - S.start_rate) * Math.min(Math.max(t, 0), RAMP_S)) / RAMP_S;
}

// The abort bounds (the thresholds that stop the ramp) are the measurement,
// not checks: they move from thresholds.checks to stress.bounds, and
// thresholds.passed means every remaining check passed.
// reports/tools/verdict.py applies the same rule to archived summaries.
function splitBounds(s) {
  const isBound = (c) => /^http_req_(duration p\(|failed rate)/.test(c.name);
  s.stress.bounds = s.thresholds.checks.filter(isBound).map((c) => ({ name: c.name, crossed: !c.passed, value: c.value, limit: c.limit }));
  s.thresholds.checks = s.thresholds.checks.filter((c) => !isBound(c));
  s.thresholds.passed = s.thresholds.checks.every((c) => c.passed);
  return s;
}

export function handleSummary(data) {
  const ran = data.state.testRunDurationMs / 1000;
  const aborted = ['http_req_duration', 'http_req_failed', 'inconsistencies'].some(function (m) {
    const t = (data.metrics[m] && data.metrics[m].thresholds) || {};
    return Object.keys(t).some((k) => !t[k].ok);
  });
  const sustained = Math.round(rateAt(aborted ? ran - S.abort_delay_s : ran));
  const s = buildSummary(data, {
    scenario: 'stress',
    duration_s: ran,
    rate: sustained,
    notes:
      'k6/stress.js: ramp ' + S.start_rate + ' -> ' + S.max_rate + ' requests/s over ' + Math.round(S.ramp_s * SCALE) + ' s; ' +
      (aborted ? 'aborted after ' + Math.round(ran) + ' s (p99 bound ' + S.p99_bound_ms + ' ms or error bound passed)' : 'ran to the end of the ramp') +
      '; highest rate sustained about ' + sustained + ' requests/s',
    extra: { stress: { aborted: aborted, sustained_rate: sustained, p99_bound_ms: S.p99_bound_ms } },
  });
  return summaryOutputs(splitBounds(s));
}

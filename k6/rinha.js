// The official Rinha de Backend 2024/Q1 load test (a Gatling simulation,
// restated in ../../shared/SPEC.md), ported to k6.
//
//   k6 run k6/rinha.js                                  # the full test: ~4 min of load
//   BASE_URL=http://127.0.0.1:9999 TIME_SCALE=0.1 k6 run k6/rinha.js   # 24 s of load
//
// Environment: BASE_URL (default http://127.0.0.1:9999), TIME_SCALE (load
// durations multiplied by it; rates unchanged), SUMMARY_PATH (where the
// summary.json of reports/SCHEMA.md is written; default summary.json), and
// K6_VERSION, RUN_COMMIT, RUN_DIRTY, RUN_DATE copied into it when given.
// For the HTML report add K6_WEB_DASHBOARD=true K6_WEB_DASHBOARD_EXPORT=report.html;
// bench/bench.py k6 rinha does all of this against a confined stack.
//
// Phases, in the official order: validations (one VU, its concurrent steps
// as http.batch), then debits, credits and statements as ramping arrival
// rates. Every parameter comes from k6/mix.json (shared with the local bench).
import http from 'k6/http';
import { check } from 'k6';
import { MIX, BASE, SCALE, TREND_STATS, dur, metrics, buildSummary, summaryOutputs } from './lib.js';

// The load phase: one request per arrival (k6/lib.js).
export { debitos, creditos, extratos } from './lib.js';

const PARAMS = { headers: MIX.headers };
const L = MIX.load;
const LOAD_S = Math.max(1, Math.round(L.ramp_s * SCALE)) + Math.max(1, Math.round(L.constant_s * SCALE));

const scenarios = {
  validacao: { executor: 'shared-iterations', exec: 'validacao', vus: 1, iterations: 1, maxDuration: dur(L.validation_s * 6), tags: { phase: 'validation' } },
};
// The three load scenarios of the official test, after the validations:
// ramping arrival rates start_rate -> rate over ramp_s, then rate for
// constant_s; TIME_SCALE scales the durations, never the rates.
Object.keys(L.rates).forEach(function (kind) {
  scenarios[kind] = {
    executor: 'ramping-arrival-rate',
    exec: kind,
    startTime: dur(L.validation_s),
    startRate: L.start_rate,
    timeUnit: '1s',
    preAllocatedVUs: L.pre_allocated_vus,
    maxVUs: L.max_vus,
    stages: [
      { target: L.rates[kind], duration: dur(L.ramp_s * SCALE) },
      { target: L.rates[kind], duration: dur(L.constant_s * SCALE) },
    ],
    tags: { phase: 'load' },
  };
});

export const options = {
  scenarios: scenarios,
  // The concurrent validation steps: up to 25 requests at once to one host.
  batch: 25,
  batchPerHost: 25,
  summaryTrendStats: TREND_STATS,
  thresholds: {
    // The SLA: 98% of responses under 250 ms (and 98% both expected and fast).
    'http_req_duration{phase:load}': ['p(' + MIX.sla.percentile + ')<' + MIX.sla.latency_ms],
    sla_ok: ['rate>=' + MIX.sla.ok_share],
    // Zero inconsistent balances; every validation check passes.
    inconsistencies: ['count==0'],
    'checks{phase:validation}': ['rate==1'],
    // Listed so that their values reach handleSummary.
    'http_reqs{phase:load}': ['count>=0'],
    unexpected: ['count>=0'],
  },
};

function post(id, body) {
  return ['POST', BASE + '/clientes/' + id + '/transacoes', JSON.stringify(body), PARAMS];
}

function get(id) {
  return ['GET', BASE + '/clientes/' + id + '/extrato', null, PARAMS];
}

function json(r) {
  try {
    return r.json();
  } catch (e) {
    return null;
  }
}

// Checks each response k with f(response, clients[k], its parsed body); a
// malformed answer fails the check instead of throwing.
function checkEach(responses, clients, name, f) {
  responses.forEach(function (r, k) {
    check(r, {
      [name]: function () {
        try {
          return !!f(r, clients[k], json(r));
        } catch (e) {
          return false;
        }
      },
    });
  });
}

// Whether statement b's transaction i is the validation's `descricao` of 1.
function isTx(b, i, descricao, tipo) {
  const t = b.ultimas_transacoes[i];
  return !!t && t.descricao === descricao && t.tipo === tipo && t.valor === 1;
}

// The validation phase, in the official order.
export function validacao() {
  metrics.inconsistencies.add(0);
  metrics.unexpected.add(0);
  const cs = MIX.clients;
  const c1 = [cs[0]];
  const all200 = (rs) => rs.every((r) => r.status === 200);
  const times = (n, x) => new Array(n).fill(x);

  // 25 concurrent debits of 1 on client 1, then the -25 check; 25 concurrent credits, then the 0 check.
  check(http.batch(times(25, post(cs[0].id, { valor: 1, tipo: 'd', descricao: 'validacao' }))), { '25 concurrent debits: all 200': all200 });
  checkEach(http.batch([get(cs[0].id)]), c1, 'after 25 debits: extrato total -25', (r, c, b) => r.status === 200 && b.saldo.total === -25);
  check(http.batch(times(25, post(cs[0].id, { valor: 1, tipo: 'c', descricao: 'validacao' }))), { '25 concurrent credits: all 200': all200 });
  checkEach(http.batch([get(cs[0].id)]), c1, 'after 25 credits: extrato total 0', (r, c, b) => r.status === 200 && b.saldo.total === 0);

  // The per-client checks, the five clients in parallel (one batch per step).
  const each = (f) => http.batch(cs.map(f));
  const within = (r, c, b) => r.status === 200 && b.limite === c.limite && b.saldo >= -b.limite;
  checkEach(each((c) => get(c.id)), cs, 'extrato: total 0 and the limite', (r, c, b) => r.status === 200 && b.saldo.total === 0 && b.saldo.limite === c.limite);
  checkEach(each((c) => post(c.id, { valor: 1, tipo: 'c', descricao: 'toma' })), cs, 'credit toma: 200 within the limit', within);
  checkEach(each((c) => post(c.id, { valor: 1, tipo: 'd', descricao: 'devolve' })), cs, 'debit devolve: 200 within the limit', within);
  checkEach(each((c) => get(c.id)), cs, 'extrato: [0] devolve, [1] toma', (r, c, b) => r.status === 200 && isTx(b, 0, 'devolve', 'd') && isTx(b, 1, 'toma', 'c'));
  const danada = each((c) => post(c.id, { valor: 1, tipo: 'c', descricao: 'danada' }));
  checkEach(danada, cs, 'credit danada: 200 within the limit', within);
  // Four concurrent statements per client (twenty at once): each shows
  // danada first, the limite, and the balance the credit returned.
  const saldo = {};
  danada.forEach((r, k) => (saldo[cs[k].id] = (json(r) || {}).saldo));
  const four = [].concat(...cs.map((c) => times(4, c)));
  checkEach(http.batch(four.map((c) => get(c.id))), four, '4 concurrent extratos: danada first, limite, total = saldo of the credit', function (r, c, b) {
    return r.status === 200 && isTx(b, 0, 'danada', 'c') && b.saldo.limite === c.limite && b.saldo.total === saldo[c.id];
  });
  // The invalid payloads: 422 (or 400) for each, for each client.
  MIX.invalid_payloads.forEach(function (p) {
    checkEach(each((c) => post(c.id, p)), cs, 'invalid payload ' + JSON.stringify(p) + ': 422 or 400', (r) => MIX.invalid_status.indexOf(r.status) >= 0);
  });

  // Client 6 does not exist.
  check(http.get(BASE + '/clientes/' + MIX.missing_client + '/extrato', PARAMS), { 'extrato of client 6: 404': (r) => r.status === 404 });
}

export function handleSummary(data) {
  const peak = Object.keys(L.rates).reduce((a, k) => a + L.rates[k], 0);
  return summaryOutputs(
    buildSummary(data, {
      scenario: 'rinha',
      duration_s: LOAD_S,
      rate: peak,
      notes: 'k6/rinha.js, TIME_SCALE=' + SCALE + ': load ' + LOAD_S + ' s, peak ' + peak + ' requests/s; latency and requests of the load phase only',
    }),
  );
}

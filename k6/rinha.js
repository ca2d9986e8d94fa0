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
import { Counter, Rate } from 'k6/metrics';
import { loadFunctions, loadMix, loadScenarios, timeScale, dur, buildSummary, textSummary } from './lib.js';

const MIX = loadMix(open('./mix.json'), open('../db/clientes.csv'));
const BASE = (__ENV.BASE_URL || 'http://127.0.0.1:9999').replace(/\/$/, '');
const SCALE = timeScale(__ENV.TIME_SCALE);
const PARAMS = { headers: MIX.headers };
const LOAD_S = Math.max(1, Math.round(MIX.load.ramp_s * SCALE)) + Math.max(1, Math.round(MIX.load.constant_s * SCALE));
const LOAD = loadFunctions({ http: http, check: check, Counter: Counter, Rate: Rate }, MIX, BASE);

const validationScenario = {
  executor: 'shared-iterations',
  exec: 'validacao',
  vus: 1,
  iterations: 1,
  maxDuration: dur(MIX.load.validation_s * 6),
  tags: { phase: 'validation' },
};

export const options = {
  scenarios: Object.assign({ validacao: validationScenario }, loadScenarios(MIX, SCALE, dur(MIX.load.validation_s))),
  // The concurrent validation steps: up to 25 requests at once to one host.
  batch: 25,
  batchPerHost: 25,
  summaryTrendStats: ['avg', 'min', 'med', 'p(50)', 'p(90)', 'p(95)', 'p(98)', 'p(99)', 'max'],
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

function url(id, what) {
  return BASE + '/clientes/' + id + '/' + what;
}

function json(res) {
  try {
    return res.json();
  } catch (e) {
    return null;
  }
}

function post(id, body) {
  return ['POST', url(id, 'transacoes'), JSON.stringify(body), PARAMS];
}

function get(id) {
  return ['GET', url(id, 'extrato'), null, PARAMS];
}

// A check predicate that fails instead of throwing on a malformed answer.
function safe(f) {
  return function () {
    try {
      return !!f.apply(null, arguments);
    } catch (e) {
      return false;
    }
  };
}

function allStatus(responses, statuses) {
  return responses.every(function (r) {
    return statuses.indexOf(r.status) >= 0;
  });
}

function first(b, i) {
  return b && b.ultimas_transacoes && b.ultimas_transacoes[i];
}

function isTx(t, descricao, tipo, valor) {
  return !!t && t.descricao === descricao && t.tipo === tipo && t.valor === valor;
}

// The validation phase, in the official order.
export function validacao() {
  LOAD.metrics.inconsistencies.add(0);
  LOAD.metrics.unexpected.add(0);
  const c1 = MIX.clients[0];
  const n = 25;
  let i;

  // 25 concurrent debits of 1 on client 1, then the -25 check.
  const debits = [];
  for (i = 0; i < n; i++) debits.push(post(c1.id, { valor: 1, tipo: 'd', descricao: 'validacao' }));
  check(http.batch(debits), { '25 concurrent debits: all 200': (rs) => allStatus(rs, [200]) });
  let e = http.get(url(c1.id, 'extrato'), PARAMS);
  check(e, { 'after 25 debits: extrato total -25': safe((r) => r.status === 200 && json(r).saldo.total === -n) });

  // 25 concurrent credits of 1, then the 0 check.
  const credits = [];
  for (i = 0; i < n; i++) credits.push(post(c1.id, { valor: 1, tipo: 'c', descricao: 'validacao' }));
  check(http.batch(credits), { '25 concurrent credits: all 200': (rs) => allStatus(rs, [200]) });
  e = http.get(url(c1.id, 'extrato'), PARAMS);
  check(e, { 'after 25 credits: extrato total 0': safe((r) => r.status === 200 && json(r).saldo.total === 0) });

  // The per-client checks, the five clients in parallel (one batch per step).
  const cs = MIX.clients;
  const each = function (f) {
    return http.batch(cs.map(f));
  };
  const zipCheck = function (rs, name, f) {
    rs.forEach(function (r, k) {
      const o = {};
      o[name] = safe(function (x) {
        return f(x, cs[k], json(x));
      });
      check(r, o);
    });
  };

  zipCheck(each((c) => get(c.id)), 'extrato: total 0 and the limite', (r, c, b) => r.status === 200 && b.saldo.total === 0 && b.saldo.limite === c.limite);
  zipCheck(
    each((c) => post(c.id, { valor: 1, tipo: 'c', descricao: 'toma' })),
    'credit toma: 200 within the limit',
    (r, c, b) => r.status === 200 && b.limite === c.limite && b.saldo >= -b.limite,
  );
  zipCheck(
    each((c) => post(c.id, { valor: 1, tipo: 'd', descricao: 'devolve' })),
    'debit devolve: 200 within the limit',
    (r, c, b) => r.status === 200 && b.limite === c.limite && b.saldo >= -b.limite,
  );
  zipCheck(
    each((c) => get(c.id)),
    'extrato: [0] devolve, [1] toma',
    (r, c, b) => r.status === 200 && isTx(first(b, 0), 'devolve', 'd', 1) && isTx(first(b, 1), 'toma', 'c', 1),
  );
  const danada = each((c) => post(c.id, { valor: 1, tipo: 'c', descricao: 'danada' }));
  zipCheck(danada, 'credit danada: 200 within the limit', (r, c, b) => r.status === 200 && b.limite === c.limite && b.saldo >= -b.limite);
  // Four concurrent statements per client (twenty at once): each shows
  // danada first, the limite, and the balance the credit returned.
  const reqs = [];
  cs.forEach(function (c) {
    for (let k = 0; k < 4; k++) reqs.push(get(c.id));
  });
  http.batch(reqs).forEach(function (r, k) {
    const ci = Math.floor(k / 4);
    const c = cs[ci];
    const saldo = (json(danada[ci]) || {}).saldo;
    check(r, {
      '4 concurrent extratos: danada first, limite, total = saldo of the credit': safe(function (x) {
        const b = json(x);
        return x.status === 200 && isTx(first(b, 0), 'danada', 'c', 1) && b.saldo.limite === c.limite && b.saldo.total === saldo;
      }),
    });
  });
  // The invalid payloads: 422 (or 400) for each, for each client.
  MIX.invalid_payloads.forEach(function (p) {
    zipCheck(
      each((c) => post(c.id, p)),
      'invalid payload ' + JSON.stringify(p) + ': 422 or 400',
      (r) => MIX.invalid_status.indexOf(r.status) >= 0,
    );
  });

  // Client 6 does not exist.
  check(http.get(url(MIX.missing_client, 'extrato'), PARAMS), { 'extrato of client 6: 404': (r) => r.status === 404 });
}

// The load phase: one request per arrival (k6/lib.js).
export const debitos = LOAD.debitos;
export const creditos = LOAD.creditos;
export const extratos = LOAD.extratos;

export function handleSummary(data) {
  const peak = Object.keys(MIX.load.rates).reduce((a, k) => a + MIX.load.rates[k], 0);
  const s = buildSummary(data, {
    scenario: 'rinha',
    tool_version: __ENV.K6_VERSION,
    commit: __ENV.RUN_COMMIT,
    dirty: __ENV.RUN_DIRTY === undefined ? undefined : __ENV.RUN_DIRTY === 'true',
    date: __ENV.RUN_DATE,
    duration_s: LOAD_S,
    rate: peak,
    notes: 'k6/rinha.js, TIME_SCALE=' + SCALE + ': load ' + LOAD_S + ' s, peak ' + peak + ' requests/s; latency and requests of the load phase only',
    extra: { time_scale: SCALE, base_url: BASE },
  });
  const out = { stdout: textSummary(s) };
  out[__ENV.SUMMARY_PATH || 'summary.json'] = JSON.stringify(s, null, 2) + '\n';
  return out;
}

// What k6/rinha.js and k6/stress.js share: the mix (k6/mix.json and the
// client table), random data, response judging, the metrics and the three
// load functions (both scripts export them for their scenarios), and the
// summary.json of reports/SCHEMA.md built from k6's end-of-test data.
// node tests it with k6's modules stubbed (k6/test).
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate } from 'k6/metrics';

// --- the mix ------------------------------------------------------------------

// The client table from db/clientes.csv (header `id,limite`), the one list
// of clients: the database seed loads the same file.
export function parseClients(csv) {
  const lines = String(csv)
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  if (lines.length < 2 || lines[0].trim() !== 'id,limite') throw new Error('clientes.csv: expected the header id,limite');
  return lines.slice(1).map(function (l) {
    const m = /^\s*(\d+),(\d+)\s*$/.exec(l);
    if (!m) throw new Error('clientes.csv: bad line ' + l);
    return { id: Number(m[1]), limite: Number(m[2]) };
  });
}

// The time-scale factor from an environment string: 1 (the official 4 min
// of load) unless a positive number is given.
export function timeScale(value) {
  const f = parseFloat(value);
  return isFinite(f) && f > 0 ? f : 1;
}

// Seconds as a k6 duration string, at least 1 s.
export function dur(seconds) {
  return Math.max(1, Math.round(seconds)) + 's';
}

// open() resolves against the script; all scripts live in k6/.
export const MIX = JSON.parse(open('./mix.json'));
MIX.clients = parseClients(open('../db/clientes.csv'));
export const BASE = (__ENV.BASE_URL || 'http://127.0.0.1:9999').replace(/\/$/, '');
export const SCALE = timeScale(__ENV.TIME_SCALE);
export const TREND_STATS = ['avg', 'min', 'med', 'p(50)', 'p(90)', 'p(95)', 'p(98)', 'p(99)', 'max'];

// --- random data ------------------------------------------------------------

// An integer in [min, max].
export function randomInt(min, max) {
  return min + Math.floor(Math.random() * (max - min + 1));
}

export function randomClient() {
  return MIX.clients[randomInt(0, MIX.clients.length - 1)];
}

// The body of one load-phase transaction of the given tipo ('c' or 'd').
export function randomTransacao(tipo) {
  const a = MIX.descricao.alphabet;
  let descricao = '';
  for (let i = 0; i < MIX.descricao.length; i++) descricao += a[randomInt(0, a.length - 1)];
  return { valor: randomInt(MIX.valor.min, MIX.valor.max), tipo: tipo, descricao: descricao };
}

// --- judging an answer ----------------------------------------------------------

function parse(body) {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body);
  } catch (e) {
    return null;
  }
}

// Judges one load-phase answer. kind: 'debitos' | 'creditos' | 'extratos'.
//  - expected: the status is in the kind's expected set (mix.expected_status)
//    and a 200 has a well-formed body;
//  - inconsistent: a 200 whose balance passes the limit (saldo, or the
//    statement's total, < -limite), whose limite is not the client's, or a
//    statement of more than 10 transactions: what the official test counts.
export function judge(kind, client, status, body) {
  if (MIX.expected_status[kind].indexOf(status) < 0) return { expected: false, inconsistent: false };
  if (status !== 200) return { expected: true, inconsistent: false };
  const b = parse(body) || {};
  const ext = kind === 'extratos';
  const saldo = ext ? b.saldo && b.saldo.total : b.saldo;
  const limite = ext ? b.saldo && b.saldo.limite : b.limite;
  if (!Number.isInteger(saldo) || !Number.isInteger(limite) || (ext && !Array.isArray(b.ultimas_transacoes))) {
    return { expected: false, inconsistent: false };
  }
  return { expected: true, inconsistent: limite !== client.limite || saldo < -limite || (ext && b.ultimas_transacoes.length > 10) };
}

// --- the metrics and the load functions --------------------------------------------

// Status codes counted by their own k6 Counter (status_<code>), anything
// else as status_other; status 0 is a transport error (no answer).
const STATUS_CODES = [0, 200, 400, 404, 413, 422, 429, 500, 502, 503, 504];

export const metrics = {
  inconsistencies: new Counter('inconsistencies'),
  unexpected: new Counter('unexpected'),
  slaOk: new Rate('sla_ok'),
  status: {},
};
STATUS_CODES.concat(['other']).forEach(function (c) {
  metrics.status[c] = new Counter('status_' + c);
});

// Per kind: the name tag, and which statuses k6's http_req_failed counts
// as expected (it then agrees with mix.expected_status).
const PARAMS = {};
Object.keys(MIX.expected_status).forEach(function (kind) {
  PARAMS[kind] = { headers: MIX.headers, tags: { name: kind }, responseCallback: http.expectedStatuses.apply(null, MIX.expected_status[kind]) };
});

function record(kind, client, res) {
  (metrics.status[res.status] || metrics.status.other).add(1);
  const j = judge(kind, client, res.status, res.body);
  if (!j.expected) metrics.unexpected.add(1);
  if (j.inconsistent) metrics.inconsistencies.add(1);
  metrics.slaOk.add(j.expected && res.timings.duration < MIX.sla.latency_ms);
  check(res, { [kind + ': expected status, balance within the limit']: () => j.expected && !j.inconsistent });
}

function transacao(kind, tipo) {
  const c = randomClient();
  record(kind, c, http.post(BASE + '/clientes/' + c.id + '/transacoes', JSON.stringify(randomTransacao(tipo)), PARAMS[kind]));
}

// One request per arrival of each load scenario.
export function debitos() {
  transacao('debitos', 'd');
}

export function creditos() {
  transacao('creditos', 'c');
}

export function extratos() {
  const c = randomClient();
  record('extratos', c, http.get(BASE + '/clientes/' + c.id + '/extrato', PARAMS.extratos));
}

// --- the summary (reports/SCHEMA.md) ------------------------------------------------

function values(data, name) {
  const m = data.metrics[name];
  return (m && m.values) || {};
}

function num(v) {
  return typeof v === 'number' && isFinite(v) ? Math.round(v * 1000) / 1000 : null;
}

// Every threshold of the run as {name, passed, value, limit}: value and
// limit are null where k6 does not give them as numbers.
export function thresholdChecks(data) {
  const checks = [];
  Object.keys(data.metrics)
    .sort()
    .forEach(function (name) {
      const t = data.metrics[name].thresholds || {};
      Object.keys(t).forEach(function (expr) {
        const m = /^\s*([a-z()0-9.]+)\s*(<=|>=|==|<|>|!=)\s*(-?[0-9.]+)\s*$/.exec(expr);
        checks.push({ name: name + ' ' + expr, passed: !!t[expr].ok, value: m ? num(values(data, name)[m[1]]) : null, limit: m ? parseFloat(m[3]) : null });
      });
    });
  return checks;
}

// The summary.json object from k6's handleSummary data. meta: {scenario,
// duration_s, rate, notes, extra (more top-level fields)}; the run's facts
// come from the environment (K6_VERSION, RUN_COMMIT, RUN_DIRTY, RUN_DATE).
// What the script cannot know (machine, envelope, services, the generator's
// CPU) is null: bench/bench.py k6 fills it in.
export function buildSummary(data, meta) {
  const lat = data.metrics['http_req_duration{phase:load}'] ? values(data, 'http_req_duration{phase:load}') : values(data, 'http_req_duration');
  const reqs = data.metrics['http_reqs{phase:load}'] ? values(data, 'http_reqs{phase:load}') : values(data, 'http_reqs');
  const count = (name) => values(data, name).count || 0;
  const status = {};
  Object.keys(data.metrics).forEach(function (name) {
    const m = /^status_(\d+|other)$/.exec(name);
    if (m && count(name) > 0) status[m[1]] = count(name);
  });
  const requests = typeof reqs.count === 'number' ? reqs.count : null;
  const checks = thresholdChecks(data);
  const vusMax = values(data, 'vus_max');
  const s = {
    schema: 1,
    tool: 'k6',
    tool_version: __ENV.K6_VERSION || null,
    scenario: meta.scenario,
    commit: __ENV.RUN_COMMIT || null,
    dirty: __ENV.RUN_DIRTY === undefined ? null : __ENV.RUN_DIRTY === 'true',
    date: __ENV.RUN_DATE || null,
    machine: null,
    envelope: null,
    levels: [
      {
        name: meta.scenario,
        connections: null,
        rate: meta.rate === undefined ? null : meta.rate,
        duration_s: num(meta.duration_s),
        requests: requests,
        rps: requests !== null && meta.duration_s > 0 ? num(requests / meta.duration_s) : null,
        latency_ms: { p50: num(lat['p(50)'] !== undefined ? lat['p(50)'] : lat.med), p90: num(lat['p(90)']), p99: num(lat['p(99)']), max: num(lat.max) },
        status: status,
        errors: count('unexpected'),
        inconsistencies: count('inconsistencies'),
        services: null,
      },
    ],
    db_ceiling: null,
    thresholds: { passed: checks.every((c) => c.passed), checks: checks },
    notes: meta.notes || '',
    // The load generator measured like the stack: iterations k6 could not
    // start for want of a free VU, and how many VUs it used.
    generator: {
      tool: 'k6',
      cpu_s: null,
      dropped_iterations: count('dropped_iterations'),
      vus_peak: num(values(data, 'vus').max),
      vus_max: num(vusMax.max !== undefined ? vusMax.max : vusMax.value),
    },
    time_scale: SCALE,
    base_url: BASE,
  };
  return Object.assign(s, meta.extra);
}

// What handleSummary returns: summary.json at SUMMARY_PATH (default
// summary.json) and a short text summary instead of k6's own.
export function summaryOutputs(s) {
  const l = s.levels[0];
  const lines = [
    '',
    s.scenario + ': ' + l.requests + ' requests in ' + l.duration_s + ' s (' + l.rps + '/s)',
    'latency ms: p50 ' + l.latency_ms.p50 + '  p90 ' + l.latency_ms.p90 + '  p99 ' + l.latency_ms.p99 + '  max ' + l.latency_ms.max,
    'status: ' + JSON.stringify(l.status) + '  unexpected: ' + l.errors + '  inconsistencies: ' + l.inconsistencies,
  ];
  const value = (c) => (c.value === null ? '' : ' (value ' + c.value + ')');
  s.thresholds.checks.forEach((c) => lines.push((c.passed ? '  ok    ' : '  FAIL  ') + c.name + value(c)));
  ((s.stress && s.stress.bounds) || []).forEach(function (b) {
    lines.push((b.crossed ? '  BOUND ' : '  under ') + b.name + value(b) + (b.crossed ? ': crossed, the ramp stops here' : ''));
  });
  const g = s.generator;
  if (g.dropped_iterations) lines.push('k6 dropped ' + g.dropped_iterations + ' iterations (no free VU; peak ' + g.vus_peak + ' of ' + g.vus_max + ' VUs)');
  lines.push('thresholds: ' + (s.thresholds.passed ? 'passed' : 'FAILED') + ' (every check above; bounds are not checks)');
  if (s.stress) {
    lines.push('stress: ' + (s.stress.aborted ? 'stopped at a bound after the rate ' + s.stress.sustained_rate + '/s (the measurement, not a failure)' : 'ran to the end of the ramp'));
  }
  return { stdout: lines.join('\n') + '\n', [__ENV.SUMMARY_PATH || 'summary.json']: JSON.stringify(s, null, 2) + '\n' };
}

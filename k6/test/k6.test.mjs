// The k6 scripts in node (k6's modules stubbed, see register.mjs): k6/lib.js's
// helpers and k6/mix.json, then k6/rinha.js and k6/stress.js driven against an
// in-memory server: the options are what k6 expects, the validation phase
// passes against a correct server and fails against broken ones, the load
// functions count statuses and inconsistencies, handleSummary writes the schema.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { state } from './k6-stub.mjs';
import { fakeServer } from './fake-server.mjs';

globalThis.__ENV = { TIME_SCALE: '0.1', SUMMARY_PATH: 'out/summary.json', RUN_COMMIT: 'abc1234', RUN_DIRTY: 'false' };
const lib = await import('../lib.js');
const rinha = await import('../rinha.js');
const stress = await import('../stress.js');
const MIX = lib.MIX;

function run(f, server = fakeServer(MIX)) {
  state.reset(server);
  f();
  return state;
}

// A k6 handleSummary `data` object with the shape k6 gives it.
function k6Data() {
  const counter = (count) => ({ type: 'counter', values: { count } });
  return {
    state: { testRunDurationMs: 30500 },
    metrics: {
      http_reqs: counter(1200),
      'http_reqs{phase:load}': { type: 'counter', values: { count: 1000, rate: 33 }, thresholds: { 'count>=0': { ok: true } } },
      'http_req_duration{phase:load}': {
        type: 'trend',
        values: { med: 1.5, 'p(50)': 1.5, 'p(90)': 2.25, 'p(98)': 3, 'p(99)': 4.1234, max: 30 },
        thresholds: { 'p(98)<250': { ok: true } },
      },
      inconsistencies: { type: 'counter', values: { count: 0 }, thresholds: { 'count==0': { ok: true } } },
      unexpected: counter(2),
      'checks{phase:validation}': { type: 'rate', values: { rate: 0.97 }, thresholds: { 'rate==1': { ok: false } } },
      status_200: counter(900),
      status_422: counter(98),
      status_503: counter(2),
      status_0: counter(0),
      dropped_iterations: counter(7),
      vus: { type: 'gauge', values: { value: 3, min: 0, max: 42 } },
      vus_max: { type: 'gauge', values: { value: 300, min: 20, max: 300 } },
    },
  };
}

test('mix.json and db/clientes.csv hold the official parameters', () => {
  assert.equal(JSON.parse(readFileSync(new URL('../mix.json', import.meta.url))).clients, undefined, 'one client table: db/clientes.csv');
  assert.deepEqual(
    MIX.clients.map((c) => [c.id, c.limite]),
    [[1, 100000], [2, 80000], [3, 1000000], [4, 10000000], [5, 500000]],
  );
  assert.equal(MIX.missing_client, 6);
  assert.deepEqual(MIX.load.rates, { debitos: 220, creditos: 110, extratos: 10 });
  assert.equal(MIX.load.ramp_s, 120);
  assert.equal(MIX.load.constant_s, 120);
  assert.deepEqual(MIX.valor, { min: 1, max: 10000 });
  assert.equal(MIX.descricao.length, 10);
  assert.equal(MIX.headers['User-Agent'], 'Agente do Caos - 2024/Q1');
  assert.deepEqual(MIX.expected_status, { debitos: [200, 422], creditos: [200], extratos: [200] });
  assert.equal(MIX.invalid_payloads.length, 5);
  assert.deepEqual(MIX.sla, { latency_ms: 250, percentile: 98, ok_share: 0.98 });
  for (const b of [MIX.bench.default, MIX.bench.quick]) {
    assert.ok(b.levels.length > 0 && b.level_s > 0 && b.repeats > 0);
    assert.ok(b.pgbench.length > 0 && b.pgbench.every((v) => v.calls >= 1 && v.clients >= 1 && ['tx', 'pipeline', 'lote', 'lote_c'].includes(v.mode) && (!v.mode.startsWith('lote') || v.calls <= 100)));
  }
});

test('parseClients reads db/clientes.csv and refuses anything else', () => {
  assert.deepEqual(lib.parseClients('id,limite\n1,100\r\n2,200\n\n'), [
    { id: 1, limite: 100 },
    { id: 2, limite: 200 },
  ]);
  assert.throws(() => lib.parseClients('1,100\n'), /header/);
  for (const bad of ['1;100', '1,100,3', '1,']) assert.throws(() => lib.parseClients('id,limite\n' + bad + '\n'), /bad line/);
});

test('timeScale and dur', () => {
  assert.deepEqual(['0.25', undefined, '-1', 'abc'].map(lib.timeScale), [0.25, 1, 1, 1]);
  assert.deepEqual([0.2, 119.6].map(lib.dur), ['1s', '120s']);
});

test('random data follows the mix and reaches both ends of its ranges', () => {
  const seen = new Set();
  for (let i = 0; i < 5000; i++) {
    const v = lib.randomInt(1, 5);
    assert.ok(Number.isInteger(v) && v >= 1 && v <= 5);
    seen.add(v);
    const t = lib.randomTransacao(i % 2 ? 'c' : 'd');
    assert.ok(Number.isInteger(t.valor) && t.valor >= 1 && t.valor <= 10000);
    assert.match(t.descricao, /^[A-Za-z0-9]{10}$/);
    assert.equal(t.tipo, i % 2 ? 'c' : 'd');
    assert.ok(MIX.clients.includes(lib.randomClient()));
  }
  assert.equal(seen.size, 5);
});

test('judge: status sets, malformed answers, inconsistencies', () => {
  const c = MIX.clients[1]; // limite 80000
  const j = (kind, status, body) => lib.judge(kind, c, status, body);
  assert.deepEqual(j('debitos', 200, JSON.stringify({ limite: 80000, saldo: -80000 })), { expected: true, inconsistent: false });
  assert.deepEqual(j('debitos', 422, '{"erro":"limite insuficiente"}'), { expected: true, inconsistent: false });
  for (const [kind, status, body] of [['creditos', 422, ''], ['extratos', 422, ''], ['debitos', 503, ''], ['debitos', 0, null], ['debitos', 200, 'not json'], ['extratos', 200, { saldo: {} }]]) {
    assert.equal(j(kind, status, body).expected, false, kind + ' ' + status);
  }
  assert.equal(j('debitos', 200, { limite: 80000, saldo: -80001 }).inconsistent, true);
  assert.equal(j('creditos', 200, { limite: 100000, saldo: 0 }).inconsistent, true, 'wrong limite');
  const ext = (total, n) => ({ saldo: { total, limite: 80000, data_extrato: 'x' }, ultimas_transacoes: new Array(n).fill({ valor: 1, tipo: 'c', descricao: 'a' }) });
  assert.deepEqual([ext(-80000, 10), ext(-80001, 0), ext(0, 11)].map((b) => j('extratos', 200, b).inconsistent), [false, true, true]);
});

test('buildSummary: the schema of reports/SCHEMA.md, passed only when every check passed', () => {
  const data = k6Data();
  const s = lib.buildSummary(data, { scenario: 'rinha', duration_s: 25, rate: 340, notes: 'n', extra: { x: 1 } });
  for (const k of ['schema', 'tool', 'tool_version', 'scenario', 'commit', 'dirty', 'date', 'machine', 'envelope', 'levels', 'db_ceiling', 'thresholds', 'notes']) {
    assert.ok(k in s, 'field ' + k);
  }
  assert.deepEqual([s.schema, s.tool, s.commit, s.dirty, s.time_scale, s.x], [1, 'k6', 'abc1234', false, 0.1, 1]);
  const l = s.levels[0];
  assert.deepEqual([l.requests, l.rps, l.rate, l.connections, l.errors, l.inconsistencies], [1000, 40, 340, null, 2, 0]);
  assert.deepEqual(l.latency_ms, { p50: 1.5, p90: 2.25, p99: 4.123, max: 30 });
  assert.deepEqual(l.status, { 200: 900, 422: 98, 503: 2 });
  assert.equal(s.thresholds.passed, false);
  assert.deepEqual(s.thresholds.checks.find((c) => c.name === 'checks{phase:validation} rate==1'), { name: 'checks{phase:validation} rate==1', passed: false, value: 0.97, limit: 1 });
  const p = s.thresholds.checks.find((c) => c.name.startsWith('http_req_duration'));
  assert.deepEqual([p.value, p.limit], [3, 250]);
  assert.deepEqual(s.generator, { tool: 'k6', cpu_s: null, dropped_iterations: 7, vus_peak: 42, vus_max: 300 });
  assert.match(lib.summaryOutputs(s).stdout, /FAIL +checks\{phase:validation\}[\s\S]*k6 dropped 7 iterations/);
  data.metrics['checks{phase:validation}'].thresholds['rate==1'].ok = true;
  assert.equal(lib.buildSummary(data, { scenario: 'rinha', duration_s: 30 }).thresholds.passed, true);
  // unmeasured fields are null, never invented
  const e = lib.buildSummary({ state: {}, metrics: {} }, { scenario: 'stress', duration_s: 0 });
  assert.deepEqual([e.levels[0].requests, e.levels[0].rps, e.levels[0].latency_ms.p99, e.thresholds.passed], [null, null, null, true]);
});

test('rinha.js: options', () => {
  const o = rinha.options;
  assert.deepEqual(Object.keys(o.scenarios), ['validacao', 'debitos', 'creditos', 'extratos']);
  assert.deepEqual([o.scenarios.validacao.vus, o.scenarios.validacao.iterations], [1, 1]);
  for (const s of Object.values(o.scenarios)) assert.equal(typeof rinha[s.exec], 'function', s.exec + ' is exported');
  for (const [k, rate] of Object.entries(MIX.load.rates)) {
    const s = o.scenarios[k];
    assert.equal(s.executor, 'ramping-arrival-rate');
    assert.equal(s.startRate, 1);
    assert.equal(s.startTime, MIX.load.validation_s + 's', 'load starts after the validations');
    assert.deepEqual(s.stages, [{ target: rate, duration: '12s' }, { target: rate, duration: '12s' }], 'TIME_SCALE=0.1 scales durations, not rates');
  }
  assert.ok(o.batchPerHost >= 25, 'the 25 concurrent requests really run at once');
  assert.deepEqual(o.thresholds['http_req_duration{phase:load}'], ['p(98)<250']);
  assert.deepEqual(o.thresholds.inconsistencies, ['count==0']);
  assert.deepEqual(o.thresholds['checks{phase:validation}'], ['rate==1']);
  assert.deepEqual(o.thresholds.sla_ok, ['rate>=0.98']);
  for (const s of ['p(50)', 'p(90)', 'p(99)', 'max']) assert.ok(o.summaryTrendStats.includes(s));
});

test('rinha.js: the validation phase passes against a correct server', () => {
  const s = run(() => rinha.validacao());
  assert.deepEqual(s.failedChecks(), []);
  const names = new Set(s.checks.map((c) => c.name));
  for (const n of ['25 concurrent debits: all 200', 'after 25 debits: extrato total -25', 'extrato of client 6: 404']) assert.ok(names.has(n), n);
  assert.equal(s.checks.filter((c) => c.name.startsWith('4 concurrent extratos')).length, 20);
  assert.equal(s.checks.filter((c) => c.name.startsWith('invalid payload')).length, 25);
});

for (const [bug, expect] of [
  [{ acceptInvalid: true }, /invalid payload/],
  [{ extrato6: true }, /client 6/],
  [{ extratoOff: 1 }, /total/],
]) {
  test('rinha.js: the validation phase catches ' + JSON.stringify(bug), () => {
    const s = run(() => rinha.validacao(), fakeServer(MIX, bug));
    assert.ok(s.failedChecks().some((c) => expect.test(c.name)), JSON.stringify(s.failedChecks().slice(0, 3)));
  });
}

test('rinha.js: load functions count statuses and no inconsistency on a correct server', () => {
  const s = run(() => {
    for (let i = 0; i < 3000; i++) {
      rinha.debitos();
      if (i % 2) rinha.creditos();
      if (i % 20 === 0) rinha.extratos();
    }
  });
  assert.equal(s.sum('inconsistencies'), 0);
  assert.equal(s.sum('unexpected'), 0);
  assert.ok(s.sum('status_422') > 0, 'some debits refused by the limit');
  assert.equal(s.sum('status_200') + s.sum('status_422'), 3000 + 1500 + 150);
  assert.equal(s.sum('sla_ok'), 3000 + 1500 + 150, 'every answer expected and fast');
  assert.deepEqual(s.failedChecks(), []);
  // a transport error is status 0, an unlisted status is status_other: both unexpected
  for (const status of [0, 418]) {
    const t = run(() => rinha.creditos(), () => ({ status }));
    assert.deepEqual([t.sum(status ? 'status_other' : 'status_0'), t.sum('unexpected'), t.sum('sla_ok')], [1, 1, 0]);
  }
});

test('rinha.js: load functions count inconsistencies on a server without a limit', () => {
  const s = run(() => {
    for (let i = 0; i < 3000; i++) rinha.debitos();
  }, fakeServer(MIX, { noLimit: true }));
  assert.ok(s.sum('inconsistencies') > 0);
  assert.ok(s.failedChecks().length > 0);
});

test('rinha.js: handleSummary writes summary.json and a text summary', () => {
  const out = rinha.handleSummary(k6Data());
  assert.deepEqual(Object.keys(out).sort(), ['out/summary.json', 'stdout']);
  const s = JSON.parse(out['out/summary.json']);
  assert.deepEqual([s.scenario, s.commit, s.dirty, s.levels[0].rate, s.levels[0].duration_s, s.time_scale], ['rinha', 'abc1234', false, 340, 24, 0.1]);
});

test('stress.js: options ramp the mix and abort on the bounds', () => {
  const o = stress.options;
  assert.deepEqual(Object.keys(o.scenarios), ['debitos', 'creditos', 'extratos']);
  for (const s of Object.values(o.scenarios)) assert.equal(typeof stress[s.exec], 'function');
  const target = (k) => o.scenarios[k].stages[0].target;
  assert.ok(Math.abs(target('debitos') + target('creditos') + target('extratos') - MIX.stress.max_rate) <= 2, 'targets add up to max_rate');
  assert.ok(Math.abs(target('debitos') / target('creditos') - 2) < 0.01, 'in the shares of the mix');
  assert.equal(o.scenarios.debitos.stages[0].duration, Math.round(MIX.stress.ramp_s * 0.1) + 's');
  const d = o.thresholds.http_req_duration[0];
  assert.deepEqual([d.threshold, d.abortOnFail, o.thresholds.http_req_failed[0].abortOnFail], ['p(99)<' + MIX.stress.p99_bound_ms, true, true]);
  assert.equal(o.thresholds.inconsistencies[0].threshold, 'count==0');
});

test('stress.js: the sustained rate; the bounds are the measurement, the checks the verdict', () => {
  const s = run(() => {
    for (let i = 0; i < 300; i++) {
      stress.debitos();
      stress.creditos();
      stress.extratos();
    }
  });
  assert.equal(s.sum('inconsistencies'), 0);
  const data = k6Data();
  data.metrics.http_req_duration = { values: { 'p(99)': 80 }, thresholds: { 'p(99)<50': { ok: false } } };
  data.metrics.http_req_failed = { values: { rate: 0 }, thresholds: { 'rate<0.01': { ok: true } } };
  data.state.testRunDurationMs = 20000;
  const summary = (d) => JSON.parse(stress.handleSummary(d)['out/summary.json']);
  // a failed check fails the run even when a bound stopped it (here the fixture's validation check)
  assert.equal(summary(data).thresholds.passed, false);
  delete data.metrics['checks{phase:validation}'];
  const out = stress.handleSummary(data);
  const sum = JSON.parse(out['out/summary.json']);
  const ramp = Math.round(MIX.stress.ramp_s * 0.1);
  const t = 20 - MIX.stress.abort_delay_s;
  const expected = Math.round(MIX.stress.start_rate + ((MIX.stress.max_rate - MIX.stress.start_rate) * t) / ramp);
  assert.deepEqual([sum.stress.aborted, sum.stress.sustained_rate, sum.levels[0].rate], [true, expected, expected]);
  assert.equal(sum.thresholds.passed, true, 'the abort is the measurement: only correctness decides');
  assert.ok(sum.thresholds.checks.every((c) => c.passed), 'passed means every check passed');
  assert.deepEqual(sum.stress.bounds, [
    { name: 'http_req_duration p(99)<50', crossed: true, value: 80, limit: 50 },
    { name: 'http_req_failed rate<0.01', crossed: false, value: 0, limit: 0.01 },
  ]);
  assert.match(out.stdout, /BOUND http_req_duration p\(99\)<50[\s\S]*thresholds: passed/);
  assert.doesNotMatch(out.stdout, /FAIL/);
  data.metrics.inconsistencies.thresholds['count==0'].ok = false;
  assert.match(stress.handleSummary(data).stdout, /FAIL {2}inconsistencies[\s\S]*thresholds: FAILED/);
  // below every bound: the ramp ran to its end, at max_rate
  delete data.metrics.http_req_duration;
  data.metrics.inconsistencies.thresholds['count==0'].ok = true;
  data.state.testRunDurationMs = (ramp + 5) * 1000;
  const done = summary(data);
  assert.deepEqual([done.stress.aborted, done.stress.sustained_rate], [false, MIX.stress.max_rate]);
});

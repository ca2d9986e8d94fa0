// Unit tests of k6/lib.js (pure helpers) and of k6/mix.json.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as lib from '../lib.js';
import { fakeK6Data } from './fixtures.mjs';

const read = (p) => readFileSync(new URL(p, import.meta.url), 'utf8');
const MIX = lib.loadMix(read('../mix.json'), read('../../db/clientes.csv'));

// A deterministic rnd() in [0, 1).
function seeded(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('mix.json and db/clientes.csv hold the official parameters', () => {
  assert.equal(JSON.parse(read('../mix.json')).clients, undefined, 'one client table: db/clientes.csv');
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
  for (const mode of ['default', 'quick']) {
    const b = MIX.bench[mode];
    assert.ok(b.levels.length > 0 && b.level_s > 0 && b.repeats > 0);
    assert.ok(b.pgbench.length > 0 && b.pgbench.every((v) => v.calls >= 1 && v.clients >= 1 && ['tx', 'pipeline', 'lote'].includes(v.mode) && (v.mode !== 'lote' || v.calls <= 100)));
  }
});

test('randomInt stays in range and reaches both ends', () => {
  const rnd = seeded(1);
  const seen = new Set();
  for (let i = 0; i < 5000; i++) {
    const v = lib.randomInt(1, 5, rnd);
    assert.ok(Number.isInteger(v) && v >= 1 && v <= 5);
    seen.add(v);
  }
  assert.equal(seen.size, 5);
  assert.equal(lib.randomInt(3, 3, rnd), 3);
  assert.equal(lib.randomInt(1, 10, () => 0.999999), 10);
  assert.equal(lib.randomInt(1, 10, () => 0), 1);
});

test('random transactions follow the mix', () => {
  const rnd = seeded(7);
  for (let i = 0; i < 2000; i++) {
    const t = lib.randomTransacao(MIX, i % 2 ? 'c' : 'd', rnd);
    assert.ok(Number.isInteger(t.valor) && t.valor >= 1 && t.valor <= 10000);
    assert.equal(t.descricao.length, 10);
    assert.match(t.descricao, /^[A-Za-z0-9]{10}$/);
    assert.equal(t.tipo, i % 2 ? 'c' : 'd');
    const c = lib.randomClient(MIX, rnd);
    assert.ok(MIX.clients.includes(c));
  }
});

test('judge: status sets', () => {
  const c = MIX.clients[0];
  const ok = JSON.stringify({ limite: 100000, saldo: -5 });
  assert.deepEqual(lib.judge(MIX, 'debitos', c, 200, ok), { expected: true, inconsistent: false, reason: '' });
  assert.equal(lib.judge(MIX, 'debitos', c, 422, '{"erro":"limite insuficiente"}').expected, true);
  assert.equal(lib.judge(MIX, 'creditos', c, 422, '').expected, false);
  assert.equal(lib.judge(MIX, 'extratos', c, 422, '').expected, false);
  assert.equal(lib.judge(MIX, 'debitos', c, 503, '').expected, false);
  assert.equal(lib.judge(MIX, 'debitos', c, 0, null).expected, false);
  assert.equal(lib.judge(MIX, 'debitos', c, 200, 'not json').expected, false);
});

test('judge: inconsistencies', () => {
  const c = MIX.clients[1]; // limite 80000
  assert.equal(lib.judge(MIX, 'debitos', c, 200, { limite: 80000, saldo: -80000 }).inconsistent, false);
  assert.equal(lib.judge(MIX, 'debitos', c, 200, { limite: 80000, saldo: -80001 }).inconsistent, true);
  assert.equal(lib.judge(MIX, 'creditos', c, 200, { limite: 100000, saldo: 0 }).inconsistent, true, 'wrong limite');
  const ext = (total, limite, n) => ({
    saldo: { total, limite, data_extrato: 'x' },
    ultimas_transacoes: new Array(n).fill({ valor: 1, tipo: 'c', descricao: 'a' }),
  });
  assert.equal(lib.judge(MIX, 'extratos', c, 200, ext(-80000, 80000, 10)).inconsistent, false);
  assert.equal(lib.judge(MIX, 'extratos', c, 200, ext(-80001, 80000, 0)).inconsistent, true);
  assert.equal(lib.judge(MIX, 'extratos', c, 200, ext(0, 80000, 11)).inconsistent, true);
  assert.equal(lib.judge(MIX, 'extratos', c, 200, { saldo: {} }).expected, false);
});

test('loadScenarios: the official ramps, scaled in time only', () => {
  const full = lib.loadScenarios(MIX, 1, '5s');
  assert.deepEqual(Object.keys(full), ['debitos', 'creditos', 'extratos']);
  assert.equal(full.debitos.executor, 'ramping-arrival-rate');
  assert.equal(full.debitos.startRate, 1);
  assert.equal(full.debitos.startTime, '5s');
  assert.deepEqual(full.debitos.stages, [
    { target: 220, duration: '120s' },
    { target: 220, duration: '120s' },
  ]);
  assert.equal(full.creditos.stages[0].target, 110);
  assert.equal(full.extratos.stages[1].target, 10);
  const short = lib.loadScenarios(MIX, 0.1, '5s');
  assert.equal(short.debitos.stages[0].duration, '12s');
  assert.equal(short.debitos.stages[0].target, 220);
  assert.equal(lib.loadScenarios(MIX, 0.001, '5s').debitos.stages[1].duration, '1s', 'at least 1 s');
});

test('timeScale and dur', () => {
  assert.equal(lib.timeScale(undefined), 1);
  assert.equal(lib.timeScale('0.25'), 0.25);
  assert.equal(lib.timeScale('-1'), 1);
  assert.equal(lib.timeScale('abc'), 1);
  assert.equal(lib.dur(0.2), '1s');
  assert.equal(lib.dur(119.6), '120s');
});

test('stress: shares and ramp', () => {
  const sh = lib.shares(MIX);
  assert.ok(Math.abs(sh.debitos + sh.creditos + sh.extratos - 1) < 1e-12);
  assert.ok(Math.abs(sh.debitos / sh.creditos - 2) < 1e-12);
  const sc = lib.stressScenarios(MIX, 1);
  const total = Object.values(sc).reduce((a, s) => a + s.stages[0].target, 0);
  assert.ok(Math.abs(total - MIX.stress.max_rate) <= 2, 'targets add up to max_rate');
  assert.equal(sc.debitos.stages[0].duration, MIX.stress.ramp_s + 's');
  assert.equal(lib.stressRateAt(MIX, 1, -5), MIX.stress.start_rate);
  assert.equal(lib.stressRateAt(MIX, 1, MIX.stress.ramp_s + 10), MIX.stress.max_rate);
  const mid = lib.stressRateAt(MIX, 1, MIX.stress.ramp_s / 2);
  assert.ok(Math.abs(mid - (MIX.stress.start_rate + MIX.stress.max_rate) / 2) < 1e-9);
  assert.equal(lib.stressRateAt(MIX, 0.5, MIX.stress.ramp_s / 2), MIX.stress.max_rate);
});

test('statusMetric', () => {
  assert.equal(lib.statusMetric(200), 'status_200');
  assert.equal(lib.statusMetric(0), 'status_0');
  assert.equal(lib.statusMetric(418), 'status_other');
});

test('buildSummary: the schema of reports/SCHEMA.md', () => {
  const s = lib.buildSummary(fakeK6Data(), {
    scenario: 'rinha',
    tool_version: 'v1.0.0',
    commit: 'abc1234',
    dirty: false,
    date: '2026-11-26T09:30:00Z',
    duration_s: 25,
    rate: 340,
    notes: 'n',
    extra: { time_scale: 0.1 },
  });
  for (const k of ['schema', 'tool', 'tool_version', 'scenario', 'commit', 'dirty', 'date', 'machine', 'envelope', 'levels', 'db_ceiling', 'thresholds', 'notes']) {
    assert.ok(k in s, 'field ' + k);
  }
  assert.equal(s.schema, 1);
  assert.equal(s.tool, 'k6');
  assert.equal(s.time_scale, 0.1);
  const l = s.levels[0];
  assert.equal(l.requests, 1000);
  assert.equal(l.rps, 40);
  assert.equal(l.rate, 340);
  assert.equal(l.connections, null);
  assert.deepEqual(l.latency_ms, { p50: 1.5, p90: 2.25, p99: 4.123, max: 30 });
  assert.deepEqual(l.status, { 200: 900, 422: 98, 503: 2 });
  assert.equal(l.errors, 2);
  assert.equal(l.inconsistencies, 0);
  assert.equal(s.thresholds.passed, false);
  const v = s.thresholds.checks.find((c) => c.name === 'checks{phase:validation} rate==1');
  assert.deepEqual(v, { name: 'checks{phase:validation} rate==1', passed: false, value: 0.97, limit: 1 });
  const p = s.thresholds.checks.find((c) => c.name.startsWith('http_req_duration'));
  assert.equal(p.value, 3);
  assert.equal(p.limit, 250);
  assert.match(lib.textSummary(s), /FAIL +checks\{phase:validation\}/);
});

test('buildSummary: unmeasured fields are null, never invented', () => {
  const s = lib.buildSummary({ state: { testRunDurationMs: 0 }, metrics: {} }, { scenario: 'stress', duration_s: 0 });
  assert.equal(s.commit, null);
  assert.equal(s.dirty, null);
  assert.equal(s.levels[0].requests, null);
  assert.equal(s.levels[0].rps, null);
  assert.equal(s.levels[0].latency_ms.p99, null);
  assert.equal(s.thresholds.passed, true);
});

test('parseClients reads db/clientes.csv and refuses anything else', () => {
  assert.deepEqual(lib.parseClients('id,limite\n1,100\r\n2,200\n\n'), [
    { id: 1, limite: 100 },
    { id: 2, limite: 200 },
  ]);
  assert.throws(() => lib.parseClients('1,100\n'), /header/);
  assert.throws(() => lib.parseClients('id,limite\n1;100\n'), /bad line/);
  assert.throws(() => lib.parseClients('id,limite\n1,100,3\n'), /bad line/);
});

test('splitBounds: bounds leave the verdict, every remaining check decides it', () => {
  const mk = (p99ok, incOk) => ({
    thresholds: {
      passed: true,
      checks: [
        { name: 'http_req_duration p(99)<50', passed: p99ok, value: 55.655, limit: 50 },
        { name: 'http_req_failed rate<0.01', passed: true, value: 0, limit: 0.01 },
        { name: 'inconsistencies count==0', passed: incOk, value: incOk ? 0 : 3, limit: 0 },
      ],
    },
    stress: { aborted: !p99ok },
  });
  // The reference stress run: a crossed p99 bound, every check passed.
  const a = lib.splitBounds(mk(false, true), lib.STRESS_BOUNDS);
  assert.equal(a.thresholds.passed, true);
  assert.deepEqual(a.thresholds.checks.map((c) => c.name), ['inconsistencies count==0']);
  assert.deepEqual(a.stress.bounds.map((b) => [b.name, b.crossed]), [
    ['http_req_duration p(99)<50', true],
    ['http_req_failed rate<0.01', false],
  ]);
  const text = lib.textSummary(Object.assign(a, { scenario: 'stress', levels: [{ latency_ms: {}, status: {} }] }));
  assert.match(text, /BOUND http_req_duration p\(99\)<50/);
  assert.doesNotMatch(text, /FAIL/);
  assert.match(text, /thresholds: passed/);
  // A failed check fails the run, whatever the bounds did.
  const b = lib.splitBounds(mk(true, false), lib.STRESS_BOUNDS);
  assert.equal(b.thresholds.passed, false);
  assert.match(lib.textSummary(Object.assign(b, { scenario: 'stress', levels: [{ latency_ms: {}, status: {} }] })), /FAIL {2}inconsistencies[\s\S]*thresholds: FAILED/);
});

test('buildSummary: passed only when every check passed; generator facts from k6', () => {
  const data = fakeK6Data();
  const s = lib.buildSummary(data, { scenario: 'rinha', duration_s: 30 });
  assert.equal(s.thresholds.passed, false, 'checks{phase:validation} failed');
  assert.ok(s.thresholds.checks.some((c) => !c.passed));
  data.metrics['checks{phase:validation}'].thresholds['rate==1'].ok = true;
  assert.equal(lib.buildSummary(data, { scenario: 'rinha', duration_s: 30 }).thresholds.passed, true);
  assert.deepEqual(s.generator, { tool: 'k6', cpu_s: null, dropped_iterations: 7, vus_peak: 42, vus_max: 300 });
});

// Loads k6/rinha.js and k6/stress.js as k6 would (with the k6 modules
// stubbed, see register.mjs) and drives them against an in-memory server:
// the options are what k6 expects, the validation phase passes against a
// correct server and fails against broken ones, the load functions count
// inconsistencies, and handleSummary writes the schema.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { state } from './stubs/state.mjs';
import { fakeServer } from './fake-server.mjs';
import { fakeK6Data } from './fixtures.mjs';

import { loadMix } from '../lib.js';
const read = (p) => readFileSync(new URL(p, import.meta.url), 'utf8');
const MIX = loadMix(read('../mix.json'), read('../../db/clientes.csv'));
globalThis.__ENV = { TIME_SCALE: '0.1', SUMMARY_PATH: 'out/summary.json', RUN_COMMIT: 'abc1234', RUN_DIRTY: 'false' };
const rinha = await import('../rinha.js');
const stress = await import('../stress.js');

function run(bugs, f) {
  state.reset();
  state.server = fakeServer(MIX, bugs);
  f();
  return state;
}

test('rinha.js: options', () => {
  const o = rinha.options;
  assert.deepEqual(Object.keys(o.scenarios), ['validacao', 'debitos', 'creditos', 'extratos']);
  assert.equal(o.scenarios.validacao.vus, 1);
  assert.equal(o.scenarios.validacao.iterations, 1);
  for (const k of ['debitos', 'creditos', 'extratos']) {
    const s = o.scenarios[k];
    assert.equal(typeof rinha[s.exec], 'function', k + ' exec exists');
    assert.equal(s.startTime, MIX.load.validation_s + 's', 'load starts after the validations');
    assert.equal(s.stages[0].duration, '12s', 'TIME_SCALE=0.1');
  }
  assert.equal(typeof rinha[o.scenarios.validacao.exec], 'function');
  assert.ok(o.batchPerHost >= 25, 'the 25 concurrent requests really run at once');
  assert.deepEqual(o.thresholds['http_req_duration{phase:load}'], ['p(98)<250']);
  assert.deepEqual(o.thresholds.inconsistencies, ['count==0']);
  assert.deepEqual(o.thresholds['checks{phase:validation}'], ['rate==1']);
  assert.deepEqual(o.thresholds.sla_ok, ['rate>=0.98']);
  for (const s of ['p(50)', 'p(90)', 'p(99)', 'max']) assert.ok(o.summaryTrendStats.includes(s));
});

test('rinha.js: the validation phase passes against a correct server', () => {
  const s = run({}, () => rinha.validacao());
  assert.deepEqual(s.failedChecks(), []);
  // 2 batches of 25, the 5 x 4 statements, 5 invalid payloads x 5 clients, ...
  const names = new Set(s.checks.map((c) => c.name));
  assert.ok(names.has('25 concurrent debits: all 200'));
  assert.ok(names.has('after 25 debits: extrato total -25'));
  assert.ok(names.has('extrato of client 6: 404'));
  assert.equal(s.checks.filter((c) => c.name.startsWith('4 concurrent extratos')).length, 20);
  assert.equal(s.checks.filter((c) => c.name.startsWith('invalid payload')).length, 25);
});

for (const [bug, expect] of [
  [{ acceptInvalid: true }, /invalid payload/],
  [{ extrato6: true }, /client 6/],
  [{ extratoOff: 1 }, /total/],
  [{ noLimit: true }, null],
]) {
  test('rinha.js: the validation phase catches ' + JSON.stringify(bug), () => {
    const s = run(bug, () => rinha.validacao());
    if (expect === null) return; // validations never reach a limit: covered by the load test below
    assert.ok(s.failedChecks().length > 0);
    assert.ok(s.failedChecks().some((c) => expect.test(c.name)), JSON.stringify(s.failedChecks().slice(0, 3)));
  });
}

test('rinha.js: load functions count statuses and no inconsistency on a correct server', () => {
  const s = run({}, () => {
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
  assert.deepEqual(s.failedChecks(), []);
});

test('rinha.js: load functions count inconsistencies on a server without a limit', () => {
  const s = run({ noLimit: true }, () => {
    for (let i = 0; i < 3000; i++) rinha.debitos();
  });
  assert.ok(s.sum('inconsistencies') > 0);
  assert.ok(s.failedChecks().length > 0);
});

test('rinha.js: handleSummary writes summary.json and a text summary', () => {
  const out = rinha.handleSummary(fakeK6Data());
  assert.deepEqual(Object.keys(out).sort(), ['out/summary.json', 'stdout']);
  const s = JSON.parse(out['out/summary.json']);
  assert.equal(s.scenario, 'rinha');
  assert.equal(s.commit, 'abc1234');
  assert.equal(s.dirty, false);
  assert.equal(s.levels[0].rate, 340);
  assert.equal(s.levels[0].duration_s, 24);
  assert.equal(s.time_scale, 0.1);
});

test('stress.js: options abort on the bounds', () => {
  const o = stress.options;
  assert.deepEqual(Object.keys(o.scenarios), ['debitos', 'creditos', 'extratos']);
  const d = o.thresholds.http_req_duration[0];
  assert.equal(d.threshold, 'p(99)<' + MIX.stress.p99_bound_ms);
  assert.equal(d.abortOnFail, true);
  assert.equal(o.thresholds.http_req_failed[0].abortOnFail, true);
  assert.equal(o.thresholds.inconsistencies[0].threshold, 'count==0');
  for (const s of Object.values(o.scenarios)) assert.equal(typeof stress[s.exec], 'function');
  assert.equal(o.scenarios.debitos.stages[0].duration, Math.round(MIX.stress.ramp_s * 0.1) + 's');
});

test('stress.js: load functions and the sustained rate', () => {
  const s = run({}, () => {
    for (let i = 0; i < 300; i++) {
      stress.debitos();
      stress.creditos();
      stress.extratos();
    }
  });
  assert.equal(s.sum('inconsistencies'), 0);
  const data = fakeK6Data();
  data.metrics.http_req_duration = { values: { 'p(99)': 80 }, thresholds: { 'p(99)<50': { ok: false } } };
  data.state.testRunDurationMs = 20000;
  // A failed check fails the run even when a bound stopped it (stress has no
  // validation phase; the fixture's failed validation check is dropped first).
  assert.equal(JSON.parse(stress.handleSummary(data)['out/summary.json']).thresholds.passed, false);
  delete data.metrics['checks{phase:validation}'];
  const sum = JSON.parse(stress.handleSummary(data)['out/summary.json']);
  const ramp = Math.round(MIX.stress.ramp_s * 0.1);
  const t = 20 - MIX.stress.abort_delay_s;
  const expected = Math.round(MIX.stress.start_rate + ((MIX.stress.max_rate - MIX.stress.start_rate) * t) / ramp);
  assert.equal(sum.stress.aborted, true);
  assert.equal(sum.stress.sustained_rate, expected);
  assert.equal(sum.levels[0].rate, expected);
  assert.equal(sum.thresholds.passed, true, 'the abort is the measurement: only correctness decides');
  assert.ok(sum.thresholds.checks.every((c) => c.passed), 'passed means every check passed');
  assert.deepEqual(sum.stress.bounds.find((b) => b.name === 'http_req_duration p(99)<50'), { name: 'http_req_duration p(99)<50', crossed: true, value: 80, limit: 50 });
  data.metrics.inconsistencies.thresholds['count==0'].ok = false;
  assert.equal(JSON.parse(stress.handleSummary(data)['out/summary.json']).thresholds.passed, false);
});

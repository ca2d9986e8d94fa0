// The k6 modules the scripts import ('k6', 'k6/http', 'k6/metrics'), in
// node: http calls go to an in-process fake server (state.server), checks and
// metric samples are recorded in `state`.
export const state = {
  checks: [], // {name, ok}
  metrics: {}, // name -> [samples]
  server: null, // (method, url, body) -> {status, body}
  reset(server) {
    this.checks = [];
    for (const k of Object.keys(this.metrics)) this.metrics[k] = [];
    this.server = server;
  },
  failedChecks() {
    return this.checks.filter((c) => !c.ok);
  },
  sum(name) {
    return (this.metrics[name] || []).reduce((a, v) => a + v, 0);
  },
};

// k6's check(): runs each predicate, records it, true if all passed. A
// predicate that throws aborts the iteration in k6: here too.
export function check(value, sets) {
  return Object.entries(sets).every(([name, f]) => {
    const ok = !!f(value);
    state.checks.push({ name, ok });
    return ok;
  });
}

class Metric {
  constructor(name) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error('invalid metric name ' + name);
    this.name = name;
    state.metrics[name] = [];
  }
  add(v) {
    if (typeof v === 'boolean') v = Number(v);
    if (typeof v !== 'number' || !isFinite(v)) throw new Error('metric ' + this.name + ': not a number: ' + v);
    state.metrics[this.name].push(v);
  }
}
export class Counter extends Metric {}
export class Rate extends Metric {}

// k6/http, synchronous like k6's; every request must carry the official headers.
function request(method, url, body, params) {
  const h = Object.keys((params && params.headers) || {}).map((k) => k.toLowerCase());
  if (!h.includes('content-type') || !h.includes('user-agent')) throw new Error('request without the official headers');
  const t0 = performance.now();
  const r = state.server(method, url, body);
  const text = r.body === undefined ? '' : JSON.stringify(r.body);
  return { status: r.status, body: text, timings: { duration: performance.now() - t0 }, json: () => JSON.parse(text) };
}

export default {
  get: (url, params) => request('GET', url, null, params),
  post: (url, body, params) => request('POST', url, body, params),
  // The requests of a batch reach the server in order (no concurrency here).
  batch: (reqs) => reqs.map((r) => request(...r)),
  expectedStatuses: (...s) => ({ expected: s }),
};

// The shared state of the k6 stubs: recorded checks and metric samples, and
// the fake server that http.* calls go to.
export const state = {
  checks: [], // {name, ok, tags}
  metrics: {}, // name -> {type, samples: []}
  server: null, // (method, url, body) -> {status, body}
  reset() {
    this.checks = [];
    for (const m of Object.values(this.metrics)) m.samples = [];
  },
  failedChecks() {
    return this.checks.filter((c) => !c.ok);
  },
  sum(name) {
    const m = this.metrics[name];
    return m ? m.samples.reduce((a, v) => a + Number(v), 0) : 0;
  },
};

// A k6 handleSummary `data` object with the shape k6 gives it.
export function fakeK6Data() {
  return {
    state: { testRunDurationMs: 30500 },
    metrics: {
      http_reqs: { type: 'counter', values: { count: 1200, rate: 40 } },
      'http_reqs{phase:load}': { type: 'counter', values: { count: 1000, rate: 33 }, thresholds: { 'count>=0': { ok: true } } },
      'http_req_duration{phase:load}': {
        type: 'trend',
        values: { med: 1.5, 'p(50)': 1.5, 'p(90)': 2.25, 'p(98)': 3, 'p(99)': 4.1234, max: 30 },
        thresholds: { 'p(98)<250': { ok: true } },
      },
      inconsistencies: { type: 'counter', values: { count: 0, rate: 0 }, thresholds: { 'count==0': { ok: true } } },
      unexpected: { type: 'counter', values: { count: 2, rate: 0 } },
      'checks{phase:validation}': { type: 'rate', values: { rate: 0.97 }, thresholds: { 'rate==1': { ok: false } } },
      status_200: { type: 'counter', values: { count: 900 } },
      status_422: { type: 'counter', values: { count: 98 } },
      status_503: { type: 'counter', values: { count: 2 } },
      status_0: { type: 'counter', values: { count: 0 } },
      dropped_iterations: { type: 'counter', values: { count: 7, rate: 0.2 } },
      vus: { type: 'gauge', values: { value: 3, min: 0, max: 42 } },
      vus_max: { type: 'gauge', values: { value: 300, min: 20, max: 300 } },
    },
  };
}


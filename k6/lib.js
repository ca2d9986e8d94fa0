// Pure helpers shared by k6/rinha.js and k6/stress.js: random data, response
// validation, scenario building from k6/mix.json, and the summary.json
// (reports/SCHEMA.md) built from k6's end-of-test data.
//
// No k6 module is imported here, so that node can unit-test everything
// (k6/test/lib.test.mjs). Written in plain ES2015+ that both k6 and node run.

// --- the mix ------------------------------------------------------------------

// The client table from db/clientes.csv (header `id,limite`), the one list
// of clients: the database seed loads the same file.
export function parseClients(csv) {
  const lines = String(csv).split(/\r?\n/).filter(function (l) {
    return l.trim() !== '';
  });
  if (lines.length < 2 || lines[0].trim() !== 'id,limite') throw new Error('clientes.csv: expected the header id,limite');
  return lines.slice(1).map(function (l) {
    const f = l.split(',');
    const c = { id: parseInt(f[0], 10), limite: parseInt(f[1], 10) };
    if (f.length !== 2 || !isFinite(c.id) || !isFinite(c.limite)) throw new Error('clientes.csv: bad line ' + l);
    return c;
  });
}

// k6/mix.json with its client table (k6 scripts: loadMix(open('./mix.json'), open('../db/clientes.csv'))).
export function loadMix(mixJson, clientsCsv) {
  const mix = JSON.parse(mixJson);
  mix.clients = parseClients(clientsCsv);
  return mix;
}

// --- random data ------------------------------------------------------------

// An integer in [min, max], from rnd() in [0, 1).
export function randomInt(min, max, rnd) {
  const r = rnd || Math.random;
  return min + Math.floor(r() * (max - min + 1));
}

export function randomClient(mix, rnd) {
  return mix.clients[randomInt(0, mix.clients.length - 1, rnd)];
}

export function randomDescricao(mix, rnd) {
  const a = mix.descricao.alphabet;
  let s = '';
  for (let i = 0; i < mix.descricao.length; i++) s += a[randomInt(0, a.length - 1, rnd)];
  return s;
}

// The body of one load-phase transaction of the given tipo ('c' or 'd').
export function randomTransacao(mix, tipo, rnd) {
  return {
    valor: randomInt(mix.valor.min, mix.valor.max, rnd),
    tipo: tipo,
    descricao: randomDescricao(mix, rnd),
  };
}

// --- validation ---------------------------------------------------------------

function parse(body) {
  if (body === null || body === undefined) return null;
  if (typeof body === 'object') return body;
  try {
    return JSON.parse(body);
  } catch (e) {
    return null;
  }
}

function isInt(v) {
  return typeof v === 'number' && Math.floor(v) === v;
}

// Judges one load-phase answer. kind: 'debitos' | 'creditos' | 'extratos'.
// Returns {expected, inconsistent, reason}:
//  - expected: the status is in the kind's expected set (mix.expected_status)
//    and a 200 has a well-formed body;
//  - inconsistent: a 200 whose balance passes the limit (saldo < -limite,
//    or the statement's total < -limite), or whose limite is not the
//    client's: what the official test counts as an inconsistency.
export function judge(mix, kind, client, status, body) {
  const res = { expected: true, inconsistent: false, reason: '' };
  if (mix.expected_status[kind].indexOf(status) < 0) {
    res.expected = false;
    res.reason = 'status ' + status;
    return res;
  }
  if (status !== 200) return res;
  const b = parse(body);
  let saldo, limite;
  if (kind === 'extratos') {
    const s = b && b.saldo;
    if (!s || !isInt(s.total) || !isInt(s.limite) || !Array.isArray(b.ultimas_transacoes)) {
      res.expected = false;
      res.reason = 'malformed extrato';
      return res;
    }
    saldo = s.total;
    limite = s.limite;
    if (b.ultimas_transacoes.length > 10) {
      res.inconsistent = true;
      res.reason = 'more than 10 transactions';
      return res;
    }
  } else {
    if (!b || !isInt(b.saldo) || !isInt(b.limite)) {
      res.expected = false;
      res.reason = 'malformed transacao answer';
      return res;
    }
    saldo = b.saldo;
    limite = b.limite;
  }
  if (limite !== client.limite) {
    res.inconsistent = true;
    res.reason = 'limite ' + limite + ' != ' + client.limite;
  } else if (saldo < -limite) {
    res.inconsistent = true;
    res.reason = 'saldo ' + saldo + ' < -limite ' + -limite;
  }
  return res;
}

// --- scenarios ------------------------------------------------------------------

// Seconds as a k6 duration string, at least 1 s.
export function dur(seconds) {
  return Math.max(1, Math.round(seconds)) + 's';
}

// The time-scale factor from an environment string: 1 (the official 4 min
// of load) unless a positive number is given.
export function timeScale(value) {
  const f = parseFloat(value);
  return isFinite(f) && f > 0 ? f : 1;
}

// The three load scenarios of the official test: ramping arrival rates
// start_rate -> rate over ramp_s, then rate for constant_s; scaled in time.
export function loadScenarios(mix, scale, startTime) {
  const l = mix.load;
  const out = {};
  Object.keys(l.rates).forEach(function (kind) {
    out[kind] = {
      executor: 'ramping-arrival-rate',
      exec: kind,
      startTime: startTime,
      startRate: l.start_rate,
      timeUnit: '1s',
      preAllocatedVUs: l.pre_allocated_vus,
      maxVUs: l.max_vus,
      stages: [
        { target: l.rates[kind], duration: dur(l.ramp_s * scale) },
        { target: l.rates[kind], duration: dur(l.constant_s * scale) },
      ],
      tags: { phase: 'load' },
    };
  });
  return out;
}

// Shares of each kind in the mix (220 : 110 : 10 -> 0.647 : 0.324 : 0.029).
export function shares(mix) {
  const r = mix.load.rates;
  const total = Object.keys(r).reduce(function (a, k) {
    return a + r[k];
  }, 0);
  const out = {};
  Object.keys(r).forEach(function (k) {
    out[k] = r[k] / total;
  });
  return out;
}

// The stress ramp: the same mix, total arrivals from stress.start_rate to
// stress.max_rate over stress.ramp_s (scaled), split by the mix's shares.
export function stressScenarios(mix, scale) {
  const s = mix.stress;
  const sh = shares(mix);
  const out = {};
  Object.keys(sh).forEach(function (kind) {
    out[kind] = {
      executor: 'ramping-arrival-rate',
      exec: kind,
      startRate: Math.max(1, Math.round(s.start_rate * sh[kind])),
      timeUnit: '1s',
      preAllocatedVUs: Math.max(1, Math.round(s.pre_allocated_vus * sh[kind])),
      maxVUs: Math.max(1, Math.round(s.max_vus * sh[kind])),
      stages: [{ target: Math.max(1, Math.round(s.max_rate * sh[kind])), duration: dur(s.ramp_s * scale) }],
      tags: { phase: 'load' },
    };
  });
  return out;
}

// The total target arrival rate of the stress ramp t seconds after its start.
export function stressRateAt(mix, scale, t) {
  const s = mix.stress;
  const len = Math.max(1, Math.round(s.ramp_s * scale));
  if (t <= 0) return s.start_rate;
  if (t >= len) return s.max_rate;
  return s.start_rate + ((s.max_rate - s.start_rate) * t) / len;
}

// --- the load functions (both scripts) -------------------------------------------------

// The metrics and the three load functions shared by rinha.js and stress.js.
// k6's modules are passed in (this file imports none, so node can test it):
// k6 = {http, check, Counter, Rate}; called in the init context, where k6
// requires metrics to be created. Returns {debitos, creditos, extratos,
// metrics}; each script exports the functions under those names.
export function loadFunctions(k6, mix, base) {
  const m = {
    inconsistencies: new k6.Counter('inconsistencies'),
    unexpected: new k6.Counter('unexpected'),
    slaOk: new k6.Rate('sla_ok'),
    status: {},
  };
  STATUS_CODES.map(statusMetric)
    .concat(['status_other'])
    .forEach(function (n) {
      m.status[n] = new k6.Counter(n);
    });
  // Per kind: the name tag and which statuses count as expected (k6's
  // http_req_failed then agrees with the mix's expected_status).
  const params = {};
  Object.keys(mix.expected_status).forEach(function (kind) {
    params[kind] = { headers: mix.headers, tags: { name: kind }, responseCallback: k6.http.expectedStatuses.apply(null, mix.expected_status[kind]) };
  });

  function record(kind, client, res) {
    m.status[statusMetric(res.status)].add(1);
    const j = judge(mix, kind, client, res.status, res.body);
    if (!j.expected) m.unexpected.add(1);
    if (j.inconsistent) m.inconsistencies.add(1);
    m.slaOk.add(j.expected && res.timings.duration < mix.sla.latency_ms);
    const o = {};
    o[kind + ': expected status, balance within the limit'] = function () {
      return j.expected && !j.inconsistent;
    };
    k6.check(res, o);
  }

  function transacao(kind, tipo) {
    const c = randomClient(mix);
    record(kind, c, k6.http.post(base + '/clientes/' + c.id + '/transacoes', JSON.stringify(randomTransacao(mix, tipo)), params[kind]));
  }

  return {
    metrics: m,
    debitos: function () {
      transacao('debitos', 'd');
    },
    creditos: function () {
      transacao('creditos', 'c');
    },
    extratos: function () {
      const c = randomClient(mix);
      record('extratos', c, k6.http.get(base + '/clientes/' + c.id + '/extrato', params.extratos));
    },
  };
}

// --- the summary (reports/SCHEMA.md) ------------------------------------------------

// Status codes counted by their own k6 Counter (status_<code>); anything else
// is counted as status_other; status 0 is a transport error (no answer).
export const STATUS_CODES = [0, 200, 400, 404, 413, 422, 429, 500, 502, 503, 504];

export function statusMetric(status) {
  return STATUS_CODES.indexOf(status) >= 0 ? 'status_' + status : 'status_other';
}

function metricValues(data, name) {
  const m = data.metrics[name];
  return m && m.values ? m.values : null;
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
      const t = data.metrics[name].thresholds;
      if (!t) return;
      Object.keys(t).forEach(function (expr) {
        const m = /^\s*([a-z()0-9.]+)\s*(<=|>=|==|<|>|!=)\s*(-?[0-9.]+)\s*$/.exec(expr);
        let value = null;
        let limit = null;
        if (m) {
          limit = parseFloat(m[3]);
          const v = data.metrics[name].values || {};
          value = num(v[m[1]]);
        }
        checks.push({ name: name + ' ' + expr, passed: !!t[expr].ok, value: value, limit: limit });
      });
    });
  return checks;
}

// Builds the summary.json object from k6's handleSummary data.
// meta: {scenario, tool_version, commit, dirty, date, duration_s, rate, notes, extra}
// Fields the k6 script cannot know (machine, envelope, services) are null;
// the wrapper (bench/bench.py k6 ...) fills them in.
export function buildSummary(data, meta) {
  const lat = metricValues(data, 'http_req_duration{phase:load}') || metricValues(data, 'http_req_duration') || {};
  const reqs = metricValues(data, 'http_reqs{phase:load}') || metricValues(data, 'http_reqs') || {};
  const status = {};
  Object.keys(data.metrics).forEach(function (name) {
    const m = /^status_(\d+|other)$/.exec(name);
    if (m && data.metrics[name].values && data.metrics[name].values.count > 0) {
      status[m[1]] = data.metrics[name].values.count;
    }
  });
  const count = function (name) {
    const v = metricValues(data, name);
    return v && typeof v.count === 'number' ? v.count : 0;
  };
  const durationS = meta.duration_s;
  const requests = typeof reqs.count === 'number' ? reqs.count : null;
  const checks = thresholdChecks(data);
  const level = {
    name: meta.scenario,
    connections: null,
    rate: meta.rate === undefined ? null : meta.rate,
    duration_s: num(durationS),
    requests: requests,
    rps: requests !== null && durationS > 0 ? num(requests / durationS) : null,
    latency_ms: { p50: num(lat['p(50)'] !== undefined ? lat['p(50)'] : lat.med), p90: num(lat['p(90)']), p99: num(lat['p(99)']), max: num(lat.max) },
    status: status,
    errors: count('unexpected'),
    inconsistencies: count('inconsistencies'),
    services: null,
  };
  const vus = metricValues(data, 'vus') || {};
  const vusMax = metricValues(data, 'vus_max') || {};
  const out = {
    schema: 1,
    tool: 'k6',
    tool_version: meta.tool_version || null,
    scenario: meta.scenario,
    commit: meta.commit || null,
    dirty: meta.dirty === undefined ? null : meta.dirty,
    date: meta.date || null,
    machine: null,
    envelope: null,
    levels: [level],
    db_ceiling: null,
    thresholds: {
      passed: checks.every(function (c) {
        return c.passed;
      }),
      checks: checks,
    },
    notes: meta.notes || '',
    // The load generator measured like the stack: iterations k6 could not
    // start for want of a free VU, and how many VUs it had to use. Its CPU
    // is measured by the wrapper (bench/bench.py), null here.
    generator: {
      tool: 'k6',
      cpu_s: null,
      dropped_iterations: count('dropped_iterations'),
      vus_peak: typeof vus.max === 'number' ? vus.max : null,
      vus_max: typeof vusMax.max === 'number' ? vusMax.max : typeof vusMax.value === 'number' ? vusMax.value : null,
    },
  };
  if (meta.extra) {
    Object.keys(meta.extra).forEach(function (k) {
      out[k] = meta.extra[k];
    });
  }
  return out;
}

// The abort bounds of a stress ramp (thresholds that stop it) are the
// measurement, not checks: they move from thresholds.checks to
// stress.bounds, and thresholds.passed means every remaining check passed.
// bench/verdict.py applies the same rule to archived summaries.
export const STRESS_BOUNDS = ['http_req_duration p(', 'http_req_failed rate'];

export function splitBounds(s, prefixes) {
  const isBound = function (c) {
    return prefixes.some(function (p) {
      return c.name.indexOf(p) === 0;
    });
  };
  const bounds = s.thresholds.checks.filter(isBound);
  s.thresholds.checks = s.thresholds.checks.filter(function (c) {
    return !isBound(c);
  });
  s.thresholds.passed = s.thresholds.checks.every(function (c) {
    return c.passed;
  });
  s.stress = s.stress || {};
  s.stress.bounds = bounds.map(function (c) {
    return { name: c.name, crossed: !c.passed, value: c.value, limit: c.limit };
  });
  return s;
}

// A short text summary for the terminal (k6's own is replaced by handleSummary).
export function textSummary(s) {
  const l = s.levels[0];
  const lines = [
    '',
    s.scenario + ': ' + l.requests + ' requests in ' + l.duration_s + ' s (' + l.rps + '/s)',
    'latency ms: p50 ' + l.latency_ms.p50 + '  p90 ' + l.latency_ms.p90 + '  p99 ' + l.latency_ms.p99 + '  max ' + l.latency_ms.max,
    'status: ' + JSON.stringify(l.status) + '  unexpected: ' + l.errors + '  inconsistencies: ' + l.inconsistencies,
  ];
  s.thresholds.checks.forEach(function (c) {
    lines.push((c.passed ? '  ok    ' : '  FAIL  ') + c.name + (c.value === null ? '' : ' (value ' + c.value + ')'));
  });
  ((s.stress && s.stress.bounds) || []).forEach(function (b) {
    lines.push((b.crossed ? '  BOUND ' : '  under ') + b.name + (b.value === null ? '' : ' (value ' + b.value + ')') + (b.crossed ? ': crossed, the ramp stops here' : ''));
  });
  const g = s.generator || {};
  if (g.dropped_iterations) lines.push('k6 dropped ' + g.dropped_iterations + ' iterations (no free VU; peak ' + g.vus_peak + ' of ' + g.vus_max + ' VUs)');
  lines.push('thresholds: ' + (s.thresholds.passed ? 'passed' : 'FAILED') + ' (every check above; bounds are not checks)');
  if (s.stress && s.stress.aborted !== undefined) {
    lines.push('stress: ' + (s.stress.aborted ? 'stopped at a bound after the rate ' + s.stress.sustained_rate + '/s (the measurement, not a failure)' : 'ran to the end of the ramp'));
  }
  lines.push('');
  return lines.join('\n');
}

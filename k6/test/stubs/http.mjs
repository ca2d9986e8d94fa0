// k6/http on a fake in-process server (state.server): synchronous, like k6.
import { state } from './state.mjs';

function respond(method, url, body, params) {
  if (!state.server) throw new Error('no fake server set');
  if (params && params.headers) {
    const h = Object.keys(params.headers).map((k) => k.toLowerCase());
    if (!h.includes('content-type') || !h.includes('user-agent')) throw new Error('request without the official headers');
  }
  const t0 = process.hrtime.bigint();
  const r = state.server(method, url, body);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const text = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  return {
    status: r.status,
    body: text,
    timings: { duration: r.duration === undefined ? ms : r.duration },
    json() {
      return JSON.parse(text);
    },
  };
}

function get(url, params) {
  return respond('GET', url, null, params);
}
function post(url, body, params) {
  return respond('POST', url, body, params);
}
// Requests of a batch reach the server in order (no real concurrency here).
function batch(reqs) {
  return reqs.map((r) => (Array.isArray(r) ? respond(r[0], r[1], r[2], r[3]) : respond(r.method, r.url, r.body, r.params)));
}
function expectedStatuses(...s) {
  return { expected: s };
}

export default { get, post, batch, expectedStatuses };
export { get, post, batch, expectedStatuses };

import { state } from './state.mjs';

// k6's check(): runs each predicate, records it, true if all passed.
// A predicate that throws makes k6 abort the iteration: so does this stub.
export function check(value, sets, tags) {
  let all = true;
  for (const [name, f] of Object.entries(sets)) {
    const ok = !!(typeof f === 'function' ? f(value) : f);
    state.checks.push({ name, ok, tags: tags || {} });
    all = all && ok;
  }
  return all;
}

export function sleep() {}
export function group(name, f) {
  return f();
}

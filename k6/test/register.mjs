// `node --import ./k6/test/register.mjs`: k6's built-in modules resolve to
// k6-stub.mjs (loader.mjs), and k6's init-context globals exist (open,
// __ENV), so that node can load and drive the k6 scripts.
import { register } from 'node:module';
import { readFileSync } from 'node:fs';

globalThis.__ENV = globalThis.__ENV || {};
// k6 resolves open()'s relative paths against the script; all scripts live in k6/.
globalThis.open = (p) => readFileSync(new URL('../' + p, import.meta.url), 'utf8');
register('./loader.mjs', import.meta.url);

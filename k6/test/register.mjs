// `node --import ./k6/test/register.mjs`: resolves the k6 built-in modules
// ('k6', 'k6/http', 'k6/metrics', ...) to the stubs in k6/test/stubs, and
// defines k6's init-context globals (open, __ENV), so that node can load
// and drive the k6 scripts.
import { register } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const k6dir = path.resolve(here, '..');

globalThis.__ENV = globalThis.__ENV || {};
// k6 resolves open()'s relative paths against the script; all scripts live in k6/.
globalThis.open = (p) => readFileSync(path.resolve(k6dir, p), 'utf8');

register('./loader.mjs', import.meta.url);

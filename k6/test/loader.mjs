// Module resolution hook: the k6 built-in modules the scripts use resolve
// to k6-stub.mjs; any other k6 module (or a remote import) is an error.
export async function resolve(specifier, context, next) {
  if (['k6', 'k6/http', 'k6/metrics'].includes(specifier)) return { url: new URL('./k6-stub.mjs', import.meta.url).href, shortCircuit: true };
  if (specifier.startsWith('k6/') || specifier.startsWith('https://')) {
    throw new Error('k6 script imports ' + specifier + ', which has no stub (and would need the network)');
  }
  return next(specifier, context);
}

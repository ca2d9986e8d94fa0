// Module resolution hook: k6 built-ins -> k6/test/stubs/<name>.mjs.
const stubs = {
  k6: 'k6.mjs',
  'k6/http': 'http.mjs',
  'k6/metrics': 'metrics.mjs',
  'k6/execution': 'execution.mjs',
};

export async function resolve(specifier, context, next) {
  if (Object.prototype.hasOwnProperty.call(stubs, specifier)) {
    return { url: new URL('./stubs/' + stubs[specifier], import.meta.url).href, shortCircuit: true };
  }
  if (specifier.startsWith('k6/') || specifier.startsWith('https://')) {
    throw new Error('k6 script imports ' + specifier + ', which has no stub (and would need the network)');
  }
  return next(specifier, context);
}

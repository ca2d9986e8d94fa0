// An in-memory implementation of the contract (SPEC.md), with switchable
// bugs, to drive the k6 scripts' validations in node.
export function fakeServer(mix, bugs = {}) {
  const clients = new Map(mix.clients.map((c) => [c.id, { limite: c.limite, saldo: 0, txs: [] }]));
  return function (method, url, body) {
    const m = /^https?:\/\/[^/]+\/clientes\/(\d+)\/(transacoes|extrato)$/.exec(url);
    if (!m) return { status: 404, body: { erro: 'nao encontrado' } };
    const c = clients.get(Number(m[1]));
    if (m[2] === 'extrato') {
      if (method !== 'GET') return { status: 405 };
      if (!c) return { status: bugs.extrato6 ? 200 : 404, body: { erro: 'cliente nao encontrado' } };
      return {
        status: 200,
        body: {
          saldo: { total: c.saldo + (bugs.extratoOff || 0), data_extrato: new Date().toISOString(), limite: c.limite },
          ultimas_transacoes: c.txs.slice(-10).reverse(),
        },
      };
    }
    if (method !== 'POST') return { status: 405 };
    let b;
    try {
      b = JSON.parse(body);
    } catch (e) {
      return { status: 422 };
    }
    const okValor = Number.isInteger(b.valor) && b.valor > 0;
    const okTipo = b.tipo === 'c' || b.tipo === 'd';
    const okDesc = typeof b.descricao === 'string' && [...b.descricao].length >= 1 && [...b.descricao].length <= 10;
    if (!bugs.acceptInvalid && !(okValor && okTipo && okDesc)) return { status: 422 };
    if (!c) return { status: 404 };
    const delta = b.tipo === 'c' ? b.valor : -b.valor;
    if (!bugs.noLimit && c.saldo + delta < -c.limite) return { status: 422, body: { erro: 'limite insuficiente' } };
    c.saldo += delta;
    c.txs.push({ valor: b.valor, tipo: b.tipo, descricao: b.descricao, realizada_em: new Date().toISOString() });
    return { status: 200, body: { limite: c.limite, saldo: c.saldo } };
  };
}

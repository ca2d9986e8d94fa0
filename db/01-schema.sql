-- Schema of the crébitos ledger.
--
-- clientes holds each client's limit and running balance; every accepted
-- transaction is also recorded in transacoes. Both change together inside the
-- procedure `transacoes_lote` (03-procedures.sql), so a statement read in one
-- snapshot always agrees with itself.

CREATE TABLE clientes (
    id     integer PRIMARY KEY,
    limite bigint  NOT NULL,
    saldo  bigint  NOT NULL DEFAULT 0,
    -- Defence in depth: the procedure never violates this, and if a bug ever
    -- tried to, the whole batch would fail (503) instead of lying.
    -- The one CHECK on the hot tables: PostgreSQL compiles every CHECK of a
    -- table anew in each statement that writes it (ExecConstraints ->
    -- stringToNode, ExecPrepareExpr), so each costs every round trip. The
    -- seed checks limite >= 0 once (02-seed.sql); valor, tipo and descricao
    -- are checked at the edge (api/src/request.c) and by the procedures.
    -- Measured: dropping the other four cut transacoes_lote's database CPU
    -- per 4-request call by about 15% (pgbench, commit off, medians).
    CONSTRAINT saldo_dentro_do_limite CHECK (saldo >= -limite)
) WITH (
    fillfactor = 50, -- room on the page for HOT updates of the hot rows
    -- Thousands of updates a second on five rows: vacuum them as soon as
    -- there is something to vacuum. Measured: until its first vacuum the
    -- table costs the database twice the CPU per request (the page's dead
    -- line pointers pile up and every prune and lookup walks them).
    autovacuum_vacuum_threshold = 200,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_cost_delay = 0,
    -- Never auto-ANALYZE: five rows whose statistics never change the plan,
    -- and an ANALYZE every second (its threshold is 50 changes) invalidates
    -- every backend's cached plans. The seed analyzes it once.
    autovacuum_analyze_threshold = 2147483647
);

CREATE TABLE transacoes (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    -- No foreign key: a row is only ever inserted by `transacoes_lote` or
    -- `transacao` right after it locked that client's row, which already
    -- proves the client exists; the FK trigger would cost a lookup per insert.
    -- No CHECKs either (see clientes): valor > 0 and tipo in (c, d) are
    -- refused by both procedures, descricao (1 to 10 characters) at the edge,
    -- and varchar(10) still bounds it here.
    cliente_id   integer     NOT NULL,
    valor        bigint      NOT NULL,
    tipo         char(1)     NOT NULL,
    descricao    varchar(10) NOT NULL,
    -- Set by transacoes_lote to the time its row locks were granted (not the
    -- transaction's start, which can be long before under contention), so
    -- ids and times agree: newer id, same or later time.
    realizada_em timestamptz NOT NULL
) WITH (
    -- Never auto-ANALYZE: its one query (a client's newest ten, by the
    -- index below) has the same plan whatever the statistics, and each
    -- ANALYZE samples 30,000 rows inside the database's CPU share while the
    -- table grows (every 10% of growth: ~75 times during the official test).
    autovacuum_analyze_threshold = 2147483647
);

-- The only index the hot path needs: a client's newest transactions first.
CREATE INDEX transacoes_cliente_recentes ON transacoes (cliente_id, id DESC);

-- Idempotency-Key: the outcome of each keyed POST, stored in the same
-- transaction that settled it, so that a retry with the same key gets the
-- same answer and moves no money. A key is scoped to the client of the path:
-- every request for (cliente_id, chave) is serialized by that client's row
-- lock, so two replicas can never settle the same key twice. Keys expire
-- after 24 hours (transacoes_lote ignores and purges older ones).
CREATE TABLE idempotencia (
    cliente_id integer     NOT NULL,
    chave      text        NOT NULL,
    -- The request the key was first used with: a retry must match it.
    valor      bigint      NOT NULL,
    tipo       char(1)     NOT NULL,
    descricao  varchar(10) NOT NULL,
    -- Its outcome: status 0 (applied) or 1 (refused), and the answer sent.
    status     integer     NOT NULL,
    saldo      bigint      NOT NULL,
    limite     bigint      NOT NULL,
    criada_em  timestamptz NOT NULL,
    PRIMARY KEY (cliente_id, chave)
);
CREATE INDEX idempotencia_expiracao ON idempotencia (criada_em);

-- The procedures the API calls. Each answers with a *result*, never an
-- exception, for the expected refusals, so that one refused debit cannot
-- abort the round trip (one implicit transaction) that it shares with
-- other requests.

-- transacoes_lote: settles every credit and debit of one round trip in a
-- single call. The replicas call it for a round trip in which a request has
-- an Idempotency-Key; without keys they call transacoes_lote_c (db/c: the
-- same rules in C, checked against this function by
-- tests/integration/test_lote_c.py).
--
-- Arguments are parallel, 1-based: p_clientes[i], p_valores[i],
-- substr(p_tipos, i, 1) ('c' or 'd'), p_descricoes[i], and p_chaves[i], the
-- request's Idempotency-Key or NULL (the API sends the arrays in binary, so
-- no text is escaped or parsed). p_chaves is NULL when no request of the batch has
-- a key: then no idempotency work is done at all (the Rinha load never sends
-- keys and pays two tests per request for them).
-- Requests are applied in the order given; the caller may order them by
-- client to keep its own fairness, this function does not need it.
--
-- Returns one row per request, in the same order: (status, saldo, limite)
--   status 0: applied; saldo is the balance right after this request.
--   status 1: refused (a debit would pass -limite, or a credit would
--             overflow the bigint balance); nothing changed for it.
--   status 2: no such client.
--   status 3: its Idempotency-Key was already used for a different request
--             (valor, tipo or descricao differ); nothing changed.
--   status 4: a retry of an applied keyed request: saldo and limite are
--             the stored answer; nothing changed now.
--   status 5: a retry of a refused keyed request; nothing changed now.
-- (api/src/db_batch.c mirrors these codes.)
--
-- Cost: however many requests, one statement, one row lock per distinct
-- client, and one statement that updates each changed client and inserts
-- every applied transaction. The rows
-- are locked in ascending id order, so two concurrent batches can never
-- deadlock, and they stay locked until the round trip commits.
--
-- Time: every transaction of the batch is dated clock_timestamp() read once
-- the locks are held, not now() (the transaction's start): a batch that
-- waited for a lock must not be dated before the batch it waited for.
CREATE FUNCTION transacoes_lote(p_clientes integer[], p_valores bigint[], p_tipos text, p_descricoes text[],
                                p_chaves text[] DEFAULT NULL)
RETURNS TABLE (r_status integer, r_saldo bigint, r_limite bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n         integer := coalesce(array_length(p_clientes, 1), 0);
    ids       integer[];
    saldos    bigint[];
    limites   bigint[];
    novos     bigint[];
    k         integer;
    delta     bigint;
    ins_ord   integer[] := '{}';
    agora     timestamptz;
    -- Keys known in this call: stored ones, then those settled so far.
    -- chave_ref[j] is "cliente_id:chave"; the others hold what was stored.
    -- (No initial values: a DECLARE default is evaluated on every call.)
    chave_ref text[];
    chave_vl  bigint[];
    chave_tp  text[];
    chave_ds  text[];
    chave_st  integer[];
    chave_sd  bigint[];
    chave_lm  bigint[];
    novas     integer[]; -- indexes into chave_* of keys to store
    ref       text;
    j         integer;
BEGIN
    IF coalesce(array_length(p_valores, 1), 0) <> n OR length(p_tipos) <> n
       OR coalesce(array_length(p_descricoes, 1), 0) <> n
       OR (p_chaves IS NOT NULL AND coalesce(array_length(p_chaves, 1), 0) <> n) THEN
        RAISE EXCEPTION 'transacoes_lote: arguments of different lengths';
    END IF;
    -- What the table no longer CHECKs (01-schema.sql): tipo and valor.
    IF p_tipos !~ '^[cd]*$' OR (0 < ALL (p_valores)) IS NOT TRUE THEN
        RAISE EXCEPTION 'transacoes_lote: tipo must be c or d and valor positive';
    END IF;

    -- Lock every client of the batch once, in ascending id order.
    SELECT array_agg(c.id ORDER BY c.id), array_agg(c.saldo ORDER BY c.id), array_agg(c.limite ORDER BY c.id)
      INTO ids, saldos, limites
      FROM (SELECT c.id, c.saldo, c.limite
              FROM clientes c
             WHERE c.id = ANY (p_clientes)
             ORDER BY c.id
               FOR UPDATE) c;
    novos := saldos;
    agora := clock_timestamp();

    IF p_chaves IS NOT NULL THEN
        novas := '{}';
        -- Under the client locks: no other transaction can be settling the
        -- same (cliente_id, chave) now, and this statement sees every one
        -- committed before.
        SELECT coalesce(array_agg(i.cliente_id || ':' || i.chave), '{}'), coalesce(array_agg(i.valor), '{}'),
               coalesce(array_agg(i.tipo::text), '{}'), coalesce(array_agg(i.descricao::text), '{}'),
               coalesce(array_agg(i.status), '{}'), coalesce(array_agg(i.saldo), '{}'),
               coalesce(array_agg(i.limite), '{}')
          INTO chave_ref, chave_vl, chave_tp, chave_ds, chave_st, chave_sd, chave_lm
          FROM idempotencia i
         WHERE (i.cliente_id, i.chave) IN (SELECT p_clientes[x], p_chaves[x]
                                             FROM generate_subscripts(p_chaves, 1) AS x
                                            WHERE p_chaves[x] IS NOT NULL)
           AND i.criada_em > agora - interval '24 hours';
    END IF;

    -- Each statement of this loop runs once per request: it holds no more
    -- than applying a request needs, and a request without a key (the whole
    -- Rinha load, where p_chaves is NULL) pays two tests for the key paths.
    FOR i IN 1 .. n LOOP
        k := array_position(ids, p_clientes[i]);
        IF k IS NULL THEN
            r_status := 2; r_saldo := NULL; r_limite := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF p_chaves IS NOT NULL AND p_chaves[i] IS NOT NULL THEN
            ref := p_clientes[i] || ':' || p_chaves[i];
            j := array_position(chave_ref, ref);
            IF j IS NOT NULL THEN
                -- A retry answers what was stored; the key reused for
                -- another request is refused. Nothing changes now.
                IF chave_vl[j] = p_valores[i] AND chave_tp[j] = substr(p_tipos, i, 1) AND chave_ds[j] = p_descricoes[i] THEN
                    r_status := 4 + chave_st[j]; r_saldo := chave_sd[j]; r_limite := chave_lm[j];
                ELSE
                    r_status := 3; r_saldo := NULL; r_limite := NULL;
                END IF;
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        delta := CASE substr(p_tipos, i, 1) WHEN 'c' THEN p_valores[i] ELSE -p_valores[i] END;
        -- Both tests are written so that they cannot overflow a bigint,
        -- whatever valor (positive) and saldo >= -limite: a credit that
        -- would overflow and a debit past the limit are refused, never an
        -- error (transacoes_lote_c answers the same).
        IF (delta > 0 AND novos[k] <= 9223372036854775807 - delta)
           OR (delta <= 0 AND novos[k] >= p_valores[i] - limites[k]) THEN
            novos[k] := novos[k] + delta;
            ins_ord := ins_ord || i;
            r_status := 0;
        ELSE
            r_status := 1;
        END IF;
        r_saldo := novos[k];
        r_limite := limites[k];
        IF p_chaves IS NOT NULL AND p_chaves[i] IS NOT NULL THEN
            -- The first use of this key (ref was set above): remember it.
            chave_ref := chave_ref || ref;
            chave_vl := chave_vl || p_valores[i];
            chave_tp := chave_tp || substr(p_tipos, i, 1);
            chave_ds := chave_ds || p_descricoes[i];
            chave_st := chave_st || r_status;
            chave_sd := chave_sd || r_saldo;
            chave_lm := chave_lm || r_limite;
            novas := novas || array_length(chave_ref, 1);
        END IF;
        RETURN NEXT;
    END LOOP;

    -- One statement for both writes (each statement of a PL/pgSQL function
    -- has a fixed cost that dominates small batches): the balances, then
    -- the transactions in request order, so identity ids (newest first in
    -- the statement) follow the order the balances were computed in.
    WITH atualizados AS (
        UPDATE clientes c
           SET saldo = u.saldo
          FROM unnest(ids, novos, saldos) AS u(id, saldo, antes)
         WHERE c.id = u.id AND u.saldo <> u.antes)
    INSERT INTO transacoes (cliente_id, valor, tipo, descricao, realizada_em)
    SELECT p_clientes[x.o], p_valores[x.o], substr(p_tipos, x.o, 1), p_descricoes[x.o], agora
      FROM unnest(ins_ord) WITH ORDINALITY AS x(o, pos)
     ORDER BY x.pos;

    IF array_length(novas, 1) > 0 THEN
        -- An expired key may still have its row: the new outcome replaces it.
        INSERT INTO idempotencia AS i (cliente_id, chave, valor, tipo, descricao, status, saldo, limite, criada_em)
        SELECT split_part(chave_ref[x], ':', 1)::integer, substr(chave_ref[x], strpos(chave_ref[x], ':') + 1),
               chave_vl[x], chave_tp[x], chave_ds[x], chave_st[x], chave_sd[x], chave_lm[x], agora
          FROM unnest(novas) AS x
        ON CONFLICT (cliente_id, chave) DO UPDATE
           SET valor = excluded.valor, tipo = excluded.tipo, descricao = excluded.descricao,
               status = excluded.status, saldo = excluded.saldo, limite = excluded.limite,
               criada_em = excluded.criada_em;
        DELETE FROM idempotencia WHERE criada_em <= agora - interval '24 hours';
    END IF;
END;
$$;

-- transacao: one credit or debit, the same rules and answer as a batch of
-- one in transacoes_lote, without arrays. The replicas no longer call it
-- (a round trip without Idempotency-Keys goes to transacoes_lote_c, in C,
-- db/c, from one write up, at less CPU); it stays for manual use and for
-- make bench's pgbench variants (bench/bench.py), which compare against it.
-- The UPDATE takes the row lock; the time is read after it
-- (clock_timestamp()), as in transacoes_lote.
CREATE FUNCTION transacao(p_cliente integer, p_valor bigint, p_tipo char, p_descricao varchar)
RETURNS TABLE (r_status integer, r_saldo bigint, r_limite bigint)
LANGUAGE plpgsql AS $$
DECLARE
    delta bigint := CASE p_tipo WHEN 'c' THEN p_valor ELSE -p_valor END;
BEGIN
    IF p_tipo NOT IN ('c', 'd') OR p_valor <= 0 THEN
        RAISE EXCEPTION 'transacao: invalid tipo or valor';
    END IF;
    UPDATE clientes c
       SET saldo = c.saldo + delta
     WHERE c.id = p_cliente
       AND CASE WHEN delta > 0 THEN c.saldo <= 9223372036854775807 - delta
                ELSE c.saldo >= p_valor - c.limite END
    RETURNING 0, c.saldo, c.limite INTO r_status, r_saldo, r_limite;
    IF FOUND THEN
        INSERT INTO transacoes (cliente_id, valor, tipo, descricao, realizada_em)
        VALUES (p_cliente, p_valor, p_tipo, p_descricao, clock_timestamp());
    ELSE
        -- Refused (the row is there: say so with its balance) or no client.
        SELECT 1, c.saldo, c.limite INTO r_status, r_saldo, r_limite FROM clientes c WHERE c.id = p_cliente;
        IF NOT FOUND THEN
            r_status := 2;
        END IF;
    END IF;
    RETURN NEXT;
END;
$$;

-- extrato: the statement as the JSON text the API sends, or NULL when the
-- client does not exist. One SQL statement, hence one snapshot: the total
-- and the last ten transactions always agree. PL/pgSQL rather than a SQL
-- function because PL/pgSQL keeps the statement's plan across calls, while
-- a SQL function is planned again on every call.
-- The replicas call extrato_c (db/c/extrato.c) instead, which writes the
-- same document and is tested against this one: a third of the
-- instructions, and no plan to keep. The plan kept here is the one made at
-- a backend's first call: on a fresh, empty transacoes a bitmap scan of all
-- the client's rows and a sort, kept until a vacuum's new row count makes
-- the backend plan again (autovacuum does within seconds here; without it,
-- measured: 20 ms a call at 40,000 rows per client, 0.3 ms once replanned).
CREATE FUNCTION extrato(p_cliente integer)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
    SELECT json_build_object(
        'saldo', json_build_object(
            'total', c.saldo,
            -- The moment of the read (not the transaction's start): no
            -- transaction listed can be dated after it.
            'data_extrato', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'limite', c.limite),
        'ultimas_transacoes', COALESCE(
            (SELECT json_agg(json_build_object(
                        'valor', t.valor,
                        'tipo', t.tipo,
                        'descricao', t.descricao,
                        'realizada_em', to_char(t.realizada_em AT TIME ZONE 'UTC',
                                                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
                    ORDER BY t.id DESC)
               FROM (SELECT * FROM transacoes t
                      WHERE t.cliente_id = c.id
                      ORDER BY t.id DESC
                      LIMIT 10) t),
            '[]'::json))::text
      FROM clientes c
     WHERE c.id = p_cliente);
END;
$$;

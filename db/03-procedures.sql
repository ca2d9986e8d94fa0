-- The procedures the API calls. Each answers with a *result*, never an
-- exception, for the expected refusals, so that one refused debit cannot
-- abort the round trip (one implicit transaction) that it shares with
-- other requests.

-- transacoes_lote: settles every credit and debit of one round trip in a
-- single call.
--
-- Arguments are parallel, 1-based: p_clientes[i], p_valores[i],
-- substr(p_tipos, i, 1) ('c' or 'd') and the i-th string of the JSON array
-- p_descricoes (JSON so that the caller escapes text with a JSON library).
-- Requests are applied in the order given; the caller may order them by
-- client to keep its own fairness, this function does not need it.
--
-- Returns one row per request, in the same order: (status, saldo, limite)
--   status 0: applied; saldo is the balance right after this request.
--   status 1: refused (a debit would pass -limite, or a credit would
--             overflow the bigint balance); nothing changed for it.
--   status 2: no such client.
--
-- Cost: however many requests, one statement, one row lock per distinct
-- client, one UPDATE per changed client and one multi-row INSERT. The rows
-- are locked in ascending id order, so two concurrent batches can never
-- deadlock, and they stay locked until the round trip commits.
CREATE FUNCTION transacoes_lote(p_clientes integer[], p_valores bigint[], p_tipos text, p_descricoes json)
RETURNS TABLE (r_status integer, r_saldo bigint, r_limite bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n         integer := coalesce(array_length(p_clientes, 1), 0);
    descr     text[] := ARRAY(SELECT json_array_elements_text(p_descricoes));
    ids       integer[];
    saldos    bigint[];
    limites   bigint[];
    novos     bigint[];
    k         integer;
    delta     bigint;
    ins_ord   integer[] := '{}';
BEGIN
    IF coalesce(array_length(p_valores, 1), 0) <> n OR length(p_tipos) <> n
       OR coalesce(array_length(descr, 1), 0) <> n THEN
        RAISE EXCEPTION 'transacoes_lote: arguments of different lengths';
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

    FOR i IN 1 .. n LOOP
        k := array_position(ids, p_clientes[i]);
        IF k IS NULL THEN
            r_status := 2; r_saldo := NULL; r_limite := NULL;
        ELSE
            delta := CASE substr(p_tipos, i, 1) WHEN 'c' THEN p_valores[i] ELSE -p_valores[i] END;
            -- A debit can neither overflow nor underflow (saldo >= -limite
            -- and valor <= 2^53); a credit is checked before it is added.
            IF (delta > 0 AND novos[k] <= 9223372036854775807 - delta)
               OR (delta <= 0 AND novos[k] + delta >= -limites[k]) THEN
                novos[k] := novos[k] + delta;
                ins_ord := ins_ord || i;
                r_status := 0;
            ELSE
                r_status := 1;
            END IF;
            r_saldo := novos[k];
            r_limite := limites[k];
        END IF;
        RETURN NEXT;
    END LOOP;

    UPDATE clientes c
       SET saldo = u.saldo
      FROM unnest(ids, novos, saldos) AS u(id, saldo, antes)
     WHERE c.id = u.id AND u.saldo <> u.antes;

    -- In request order, so identity ids (newest first in the statement)
    -- follow the order the balances were computed in.
    INSERT INTO transacoes (cliente_id, valor, tipo, descricao)
    SELECT p_clientes[o], p_valores[o], substr(p_tipos, o, 1), descr[o]
      FROM unnest(ins_ord) WITH ORDINALITY AS x(o, pos)
     ORDER BY pos;
END;
$$;

-- transacao: one credit or debit, the same rules (it is a batch of one).
-- Kept for tools such as pgbench and for manual use.
CREATE FUNCTION transacao(p_cliente integer, p_valor bigint, p_tipo char, p_descricao varchar)
RETURNS TABLE (r_status integer, r_saldo bigint, r_limite bigint)
LANGUAGE sql AS $$
    SELECT * FROM transacoes_lote(ARRAY[p_cliente], ARRAY[p_valor], p_tipo::text, json_build_array(p_descricao));
$$;

-- extrato: the statement as the JSON text the API sends, or NULL when the
-- client does not exist. One SQL statement, hence one snapshot: the total
-- and the last ten transactions always agree. PL/pgSQL rather than a SQL
-- function because PL/pgSQL keeps the statement's plan across calls, while
-- a SQL function is planned again on every call.
CREATE FUNCTION extrato(p_cliente integer)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
    SELECT json_build_object(
        'saldo', json_build_object(
            'total', c.saldo,
            'data_extrato', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
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

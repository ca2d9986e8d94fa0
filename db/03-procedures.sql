-- The procedures the API calls. Each answers with a *result*, never an
-- exception, for the expected refusals, so that one refused debit cannot
-- abort the batch (one implicit transaction per pipeline round trip) that
-- it shares with other requests.

-- transacao: applies one credit or debit.
-- Returns one row (status, saldo, limite):
--   status 0: applied; saldo is the new balance.
--   status 1: refused (the debit would pass -limite, or a credit would
--             overflow the bigint balance); nothing changed.
--   status 2: no such client.
CREATE FUNCTION transacao(p_cliente integer, p_valor bigint, p_tipo char, p_descricao varchar)
RETURNS TABLE (r_status integer, r_saldo bigint, r_limite bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_delta bigint := CASE p_tipo WHEN 'c' THEN p_valor ELSE -p_valor END;
BEGIN
    -- The row lock taken here is held until the batch commits. Under READ
    -- COMMITTED a concurrent update makes this re-check the condition on the
    -- newest row version, so the limit holds under any concurrency.
    UPDATE clientes c
       SET saldo = c.saldo + v_delta
     WHERE c.id = p_cliente
       -- CASE fixes the evaluation order: a credit is checked for overflow
       -- before anything adds it; a debit can neither overflow nor underflow
       -- (saldo >= -limite and valor <= 2^53).
       AND CASE WHEN v_delta > 0
                THEN c.saldo <= 9223372036854775807 - v_delta
                ELSE c.saldo + v_delta >= -c.limite
           END
    RETURNING 0, c.saldo, c.limite INTO r_status, r_saldo, r_limite;

    IF FOUND THEN
        INSERT INTO transacoes (cliente_id, valor, tipo, descricao)
        VALUES (p_cliente, p_valor, p_tipo, p_descricao);
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT 1, c.saldo, c.limite INTO r_status, r_saldo, r_limite
      FROM clientes c WHERE c.id = p_cliente;
    IF NOT FOUND THEN
        r_status := 2;
    END IF;
    RETURN NEXT;
END;
$$;

-- extrato: the statement as the JSON text the API sends, or NULL when the
-- client does not exist. One SQL statement, hence one snapshot: the total
-- and the last ten transactions always agree.
CREATE FUNCTION extrato(p_cliente integer)
RETURNS text
LANGUAGE sql STABLE AS $$
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
     WHERE c.id = p_cliente;
$$;

-- transacoes_lote_c: transacoes_lote (03-procedures.sql) for a round trip
-- without Idempotency-Keys, in C (db/c/transacoes_lote.c says why and what
-- it keeps). Same arguments but p_chaves, same result rows.
--
-- Run by init.sh as a superuser, since only a superuser may declare a C
-- function, with two psql variables: lib, the library's path (natively the
-- project's build/rinha_db.so; in the database image $libdir/rinha_db), and
-- role, the application role, which then owns it and alone may call it.
CREATE FUNCTION transacoes_lote_c(p_clientes integer[], p_valores bigint[], p_tipos text, p_descricoes text[])
RETURNS TABLE (r_status integer, r_saldo bigint, r_limite bigint)
AS :'lib', 'transacoes_lote_c'
LANGUAGE C VOLATILE;

ALTER FUNCTION transacoes_lote_c(integer[], bigint[], text, text[]) OWNER TO :"role";
REVOKE EXECUTE ON FUNCTION transacoes_lote_c(integer[], bigint[], text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION transacoes_lote_c(integer[], bigint[], text, text[]) TO :"role";

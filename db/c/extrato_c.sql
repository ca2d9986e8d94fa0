-- extrato_c: extrato (03-procedures.sql) in C (db/c/extrato.c says why and
-- what it keeps): the same argument, the same JSON document, without
-- whitespace. STRICT: a NULL client is no client, NULL, as in extrato.
--
-- Run by init.sh as a superuser, since only a superuser may declare a C
-- function, with two psql variables: lib, the library's path (natively the
-- project's build/rinha_db.so; in the database image $libdir/rinha_db), and
-- role, the application role, which then owns it and alone may call it.
CREATE FUNCTION extrato_c(p_cliente integer)
RETURNS text
AS :'lib', 'extrato_c'
LANGUAGE C STABLE STRICT;

ALTER FUNCTION extrato_c(integer) OWNER TO :"role";
REVOKE EXECUTE ON FUNCTION extrato_c(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION extrato_c(integer) TO :"role";

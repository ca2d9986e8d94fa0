-- The five clients of the contract, balance 0 (client 6 must not exist).
-- db/clientes.csv is the one list of clients: the test suites, the load
-- scenarios and the benchmark read it too. Paths are relative to db/
-- (init.sh runs psql from there).
\copy clientes (id, limite) FROM 'clientes.csv' WITH (FORMAT csv, HEADER true)
-- The table has no CHECK on limite (01-schema.sql says why): check it once.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM clientes WHERE limite < 0) THEN
        RAISE EXCEPTION 'clientes.csv: a limite is negative';
    END IF;
END;
$$;
-- Statistics once (autovacuum never analyzes the hot tables).
ANALYZE clientes;

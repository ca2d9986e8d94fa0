-- The five clients of the contract, balance 0 (client 6 must not exist).
-- db/clientes.csv is the one list of clients: the test suites, the load
-- scenarios and the benchmark read it too. Paths are relative to db/
-- (init.sh runs psql from there).
\copy clientes (id, limite) FROM 'clientes.csv' WITH (FORMAT csv, HEADER true)

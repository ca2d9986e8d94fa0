-- The five clients of the contract, balance 0. Client 6 must not exist.
INSERT INTO clientes (id, limite, saldo) VALUES
    (1, 100000, 0),
    (2, 80000, 0),
    (3, 1000000, 0),
    (4, 10000000, 0),
    (5, 500000, 0);

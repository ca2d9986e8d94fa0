/*
 * db_batch.h - the pure parts of a round trip: the order of its queries, the
 * batch call's parameters, and how each statement's result becomes each
 * query's answer. Parameters of the batch call and every result travel in
 * PostgreSQL's binary format.
 *
 * No sockets and no loop here, so that the one place where a bug would
 * answer the wrong customer (matching results to requests) is unit-tested
 * on fabricated results (api/tests/test_db_batch.c).
 */
#ifndef RINHA_DB_BATCH_H
#define RINHA_DB_BATCH_H

#include <libpq-fe.h>
#include <stddef.h>

#include "db.h"

/* The parameters of one transacoes_lote() call, in PostgreSQL's binary
 * format (see db_batch.c): the arrays that PQsendQueryPrepared takes, filled
 * by db_batch_params_encode into buffers reused from call to call. */
enum { LOTE_CLIENTES, LOTE_VALORES, LOTE_TIPOS, LOTE_DESCRICOES, LOTE_CHAVES, LOTE_NPARAMS };

typedef struct {
    size_t cap;                       /* most queries in one call */
    char *buf[LOTE_NPARAMS];          /* integer[], bigint[], text, text[], text[] */
    size_t size[LOTE_NPARAMS];        /* their allocated bytes */
    const char *values[LOTE_NPARAMS]; /* buf[i]; values[LOTE_CHAVES] is NULL when no query has a key */
    int lengths[LOTE_NPARAMS];
} db_batch_params_t;

/* Orders a round trip: the statement reads first (arrival order), then the
 * writes grouped by client in ascending id, keeping arrival order among one
 * client's requests (each client's balance evolves in the order its
 * requests came). Returns how many reads lead the array. */
size_t db_batch_order(db_query_t **q, size_t n);

/* 0 on success, -1 out of memory. */
int db_batch_params_init(db_batch_params_t *p, size_t cap);
/* Fills `p` for the writes w[0..n); 0, or -1 if n is 0 or more than p->cap,
 * or out of memory. The text arrays' buffers grow to the largest call seen
 * (the keys' only once a request has one); the others are sized by init. */
int db_batch_params_encode(db_batch_params_t *p, db_query_t *const *w, size_t n);
void db_batch_params_free(db_batch_params_t *p);

/* Fills the answer of each write w[i] from row i of the transacoes_lote()
 * (or transacoes_lote_c()) result, in binary format. -1 (nothing trusted) unless the
 * result has exactly n rows of (status integer, saldo bigint, limite bigint)
 * with known statuses. */
int db_batch_decode_writes(const PGresult *r, db_query_t *const *w, size_t n);
/* Fills the answer of a statement read from extrato_c()'s single row (text,
 * whose binary format is its bytes). The JSON points into `r`. -1 if the
 * shape is wrong. */
int db_batch_decode_extrato(const PGresult *r, db_query_t *q);

#endif

/*
 * db_batch.h - the pure parts of a round trip: the order of its queries, the
 * text of the batch call's parameters, and how each statement's result
 * becomes each query's answer.
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

/* The text parameters of one transacoes_lote() call, buffers reused from
 * round trip to round trip. */
typedef struct {
    size_t cap;       /* queries the fixed buffers have room for */
    char *ids;        /* "{1,2,...}" */
    char *valores;    /* "{10,20,...}" */
    char *tipos;      /* "cd..." */
    char *descricoes; /* JSON array of strings, from jansson (freed by db_batch_params_reset) */
    char *chaves;     /* JSON array of strings and nulls, or NULL when no query has a key */
} db_batch_params_t;

/* Orders a round trip: the statement reads first (arrival order), then the
 * writes grouped by client in ascending id, keeping arrival order among one
 * client's requests (each client's balance evolves in the order its
 * requests came). Returns how many reads lead the array. */
size_t db_batch_order(db_query_t **q, size_t n);

/* 0 on success, -1 out of memory. */
int db_batch_params_init(db_batch_params_t *p, size_t cap);
/* Fills `p` for the writes w[0..n); n <= p->cap. 0 on success, -1 out of memory. */
int db_batch_params_encode(db_batch_params_t *p, db_query_t *const *w, size_t n);
/* Frees what encode allocated; the fixed buffers stay. */
void db_batch_params_reset(db_batch_params_t *p);
void db_batch_params_free(db_batch_params_t *p);

/* Fills the answer of each write w[i] from row i of the transacoes_lote()
 * result. -1 (nothing trusted) unless the result has exactly n rows of
 * (status, saldo, limite) with known statuses. */
int db_batch_decode_writes(const PGresult *r, db_query_t *const *w, size_t n);
/* Fills the answer of a statement read from extrato()'s single row. The JSON
 * points into `r`. -1 if the shape is wrong. */
int db_batch_decode_extrato(const PGresult *r, db_query_t *q);

#endif

/*
 * db.h - the replica's PostgreSQL client: libpq pipeline mode on the h2o
 * event loop, one commit per round trip.
 *
 * Requests submitted while every connection is busy wait in a FIFO. After
 * each loop iteration db_pool_dispatch() sends everything waiting, up to
 * MAX_BATCH per connection, as one pipeline ended by a single Sync: the
 * statements form one implicit transaction, so the whole round trip costs
 * one commit (one WAL flush) instead of one per request. All the writes of
 * a round trip go in one transacoes_lote() call, which locks each client
 * once, in ascending id order, so two replicas' transactions cannot
 * deadlock; each statement (extrato) is its own call in the same pipeline.
 * No query is completed before the Sync that commits it has come back.
 */
#ifndef RINHA_DB_H
#define RINHA_DB_H

#include <libpq-fe.h>
#include <stdint.h>

#include <h2o.h>

#include "config.h"

typedef enum {
    DB_QUERY_TRANSACAO, /* a credit or debit: settled with its batchmates by one transacoes_lote() call */
    DB_QUERY_EXTRATO,   /* extrato(id) -> statement JSON text, or NULL for no such client */
} db_query_kind_t;

typedef enum {
    DB_OK,          /* committed; `result` and `row` hold the answer */
    DB_UNAVAILABLE, /* the connection was lost or closed: outcome unknown */
    DB_TIMEOUT,     /* the round trip took longer than DB_TIMEOUT_MS: outcome unknown */
    DB_FAILED,      /* the round trip's transaction failed and was rolled back */
} db_outcome_t;

typedef struct db_query db_query_t;
typedef void (*db_query_cb)(db_query_t *q);

/* Embedded in the caller's request context; the caller owns the memory,
 * which must live until on_done is called. */
struct db_query {
    h2o_linklist_t link; /* internal: the pool's waiting FIFO */
    uint64_t seq;        /* internal: arrival order, keeps sorting stable */
    db_query_kind_t kind;
    int32_t client_id;
    /* DB_QUERY_TRANSACAO only; descricao is valid UTF-8 without NUL. */
    int64_t valor;
    char tipo; /* 'c' or 'd' */
    const char *descricao;
    size_t descricao_len;

    db_query_cb on_done;  /* called exactly once, on the loop thread */
    db_outcome_t outcome; /* set before on_done */
    /* On DB_OK, valid only during on_done (the pool frees it right after):
     * for a transaction the row (status, saldo, limite) of the batch result,
     * for a statement row 0 (the JSON text or NULL). */
    const PGresult *result;
    int row;
};

typedef struct db_pool db_pool_t;

typedef enum {
    DB_SUBMIT_QUEUED = 0,
    DB_SUBMIT_OVERLOADED,  /* MAX_PENDING requests already wait: answer 503 at once */
    DB_SUBMIT_UNAVAILABLE, /* no connection to the database is up: answer 503 at once */
} db_submit_t;

db_pool_t *db_pool_create(h2o_loop_t *loop, const config_t *cfg);
/* Starts connecting; connections are (re)established in the background. */
void db_pool_start(db_pool_t *pool);
db_submit_t db_pool_submit(db_pool_t *pool, db_query_t *q);
/* Sends what waits on idle connections; call after every loop iteration. */
void db_pool_dispatch(db_pool_t *pool);
/* Whether some connection can take queries now. */
int db_pool_is_up(const db_pool_t *pool);
/* Requests queued or in flight. */
size_t db_pool_pending(const db_pool_t *pool);
/* Fails whatever is still pending with DB_UNAVAILABLE, closes and frees. */
void db_pool_destroy(db_pool_t *pool);

#endif

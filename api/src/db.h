/*
 * db.h - the replica's PostgreSQL client: libpq pipeline mode on the h2o
 * event loop, one commit per round trip.
 *
 * How a request travels (files in brackets):
 *   1. handlers.c validates it and calls db_pool_submit(): the query waits in
 *      the pool's FIFO, its queue deadline armed [db_pool.c].
 *   2. After every loop iteration main.c calls db_pool_dispatch(): each idle
 *      connection takes up to MAX_BATCH waiting queries as one round trip
 *      [db_pool.c]. Every request parsed in the same iteration shares it.
 *   3. The round trip is ordered and encoded [db_batch.c]: each statement
 *      read (extrato) as its own statement + Sync, then all the writes as one
 *      batch call + Sync, i.e. one transaction and one commit for every write
 *      of the round trip: transacoes_lote_c() (C, db/c) when no write has an
 *      Idempotency-Key, transacoes_lote() (PL/pgSQL) when one has. Both lock
 *      clients at most once each, in ascending id order, so two replicas'
 *      round trips never deadlock.
 *   4. Results come back in order and are matched to their queries; a write
 *      is answered only once the Sync that commits it has come back
 *      [db_conn.c, decoding in db_batch.c].
 *   5. on_done runs exactly once per query with an outcome that says whether
 *      it happened: DB_OK (settled), DB_NOT_DONE (provably not done: safe to
 *      retry) or DB_UNKNOWN (a write whose commit may or may not have
 *      happened).
 *
 * Deadlines (DB_TIMEOUT_MS = T): a query not sent within T/2 of its
 * submission is answered DB_NOT_DONE; a round trip gets T/2, and the
 * database's statement_timeout is set to T/4 on every connection, so that
 * the database gives up on a held row lock (an error: rolled back, known)
 * before the replica does (unknown). No query waits longer than T in all.
 */
#ifndef RINHA_DB_H
#define RINHA_DB_H

#include <stdint.h>

#include <h2o.h>

#include "config.h"
#include "metrics.h"
#include "request.h"

typedef enum {
    DB_QUERY_EXTRATO,   /* extrato_c(id): the statement's JSON, or no such client */
    DB_QUERY_TRANSACAO, /* a credit or debit, settled with its batchmates by one transacoes_lote() call */
} db_query_kind_t;

typedef enum {
    DB_OK,       /* settled: the answer is filled in (a write is committed) */
    DB_NOT_DONE, /* provably not done (never sent, rolled back, refused by the database in time) */
    DB_UNKNOWN,  /* a write that reached the database whose commit's fate is unknown */
} db_outcome_t;

/* Why an outcome is not DB_OK (for logs, metrics and the error body). */
typedef enum {
    DB_CAUSE_NONE,
    DB_CAUSE_QUEUE_TIMEOUT, /* waited T/2 without being sent */
    DB_CAUSE_NOT_SENT,      /* no connection could take it, or its Sync never left the replica */
    DB_CAUSE_ROLLED_BACK,   /* the database answered with an error: the transaction rolled back */
    DB_CAUSE_CONN_LOST,     /* the connection broke while the round trip was in flight */
    DB_CAUSE_DEADLINE,      /* the round trip passed its deadline (T/2) */
    DB_CAUSE_MALFORMED,     /* the round trip committed but its answer was unreadable */
} db_cause_t;

/* The status codes of transacoes_lote() (db/03-procedures.sql). */
typedef enum {
    TX_APPLIED = 0,
    TX_REFUSED = 1, /* limit exceeded (or balance overflow): nothing changed */
    TX_NO_CLIENT = 2,
    TX_KEY_CONFLICT = 3,   /* Idempotency-Key already used for a different request */
    TX_REPLAY_APPLIED = 4, /* retry of an applied keyed request: the stored answer */
    TX_REPLAY_REFUSED = 5, /* retry of a refused keyed request */
} tx_status_t;

typedef struct db_query db_query_t;
typedef struct db_pool db_pool_t;
typedef void (*db_query_cb)(db_query_t *q);

/* Embedded in the caller's request context; the caller owns the memory,
 * which must live until on_done is called. */
struct db_query {
    /* Filled by the caller. */
    db_query_kind_t kind;
    int32_t client_id;
    const transacao_t *tx; /* DB_QUERY_TRANSACAO: the validated body */
    const char *idem_key;  /* DB_QUERY_TRANSACAO: Idempotency-Key or NULL */
    size_t idem_key_len;
    db_query_cb on_done; /* called exactly once, on the loop thread */

    /* Set before on_done. */
    db_outcome_t outcome;
    db_cause_t cause;
    union {
        struct {
            tx_status_t status;
            int64_t saldo, limite; /* meaningful for APPLIED, REFUSED and the replays */
        } tx;
        struct {
            const char *json; /* NULL: no such client; else valid only during on_done */
            size_t len;
        } extrato;
    } answer;
    uint64_t queued_at_us; /* clock_us() at the submission */
    uint64_t sent_at_us;   /* clock_us() when its round trip was sent, 0 if never */
    uint64_t done_at_us;   /* clock_us() when its answer arrived (set before on_done) */

    /* Internal to the pool. */
    db_pool_t *pool;
    h2o_linklist_t link;             /* the waiting FIFO */
    h2o_timeout_entry_t queue_timer; /* fires if it waits too long to be sent */
    uint64_t seq;                    /* arrival order, keeps sorting stable */
};

typedef enum {
    DB_SUBMIT_QUEUED = 0,
    DB_SUBMIT_OVERLOADED,  /* MAX_PENDING requests already wait: answer 503 at once */
    DB_SUBMIT_UNAVAILABLE, /* no connection to the database is up: answer 503 at once */
} db_submit_t;

/* `metrics` (NULL: none) gets the round trips' and connections' events. */
db_pool_t *db_pool_create(h2o_loop_t *loop, const config_t *cfg, metrics_t *metrics);
/* Starts connecting; connections are (re)established in the background. */
void db_pool_start(db_pool_t *pool);
db_submit_t db_pool_submit(db_pool_t *pool, db_query_t *q);
/* Sends what waits on idle connections; call after every loop iteration. */
void db_pool_dispatch(db_pool_t *pool);
/* Whether some connection can take queries now. */
int db_pool_is_up(const db_pool_t *pool);
/* Requests queued or in flight. */
size_t db_pool_pending(const db_pool_t *pool);
/* Requests waiting for a round trip (walks the queue: for scrapes, not the hot path). */
size_t db_pool_queued(const db_pool_t *pool);
/* Connections whose pipeline is ready or busy. */
size_t db_pool_connections_up(const db_pool_t *pool);
/* Answers whatever is still pending (DB_NOT_DONE or DB_UNKNOWN, as the
 * case is), closes the connections and frees the pool. */
void db_pool_destroy(db_pool_t *pool);

#endif

/*
 * db_internal.h - what the pool (db_pool.c) and its connections (db_conn.c)
 * share. Not for the rest of the server: handlers.c sees only db.h.
 */
#ifndef RINHA_DB_INTERNAL_H
#define RINHA_DB_INTERNAL_H

#include <libpq-fe.h>
#include <sys/types.h>

#include "db.h"
#include "db_batch.h"

/* Reconnect delays after consecutive failures, in ms. */
#define DB_BACKOFF_STEPS 6

typedef enum { CONN_DOWN, CONN_CONNECTING, CONN_PREPARING, CONN_READY, CONN_BUSY } conn_state_t;

/* What the errors received so far prove about a segment's transaction. */
typedef enum {
    SEG_NO_ERROR,
    SEG_ROLLED_BACK,  /* the server reported an error that ends it without commit */
    SEG_FATE_UNKNOWN, /* an error that may have come after the commit */
} seg_error_t;

typedef struct {
    db_pool_t *pool;
    unsigned index;
    conn_state_t state;
    PGconn *pg;
    h2o_socket_t *sock; /* wraps a dup of libpq's fd: h2o_socket_close closes its own */
    ino_t sock_ino;     /* the socket the dup refers to (fd numbers are reused) */
    int write_armed;    /* a write notification is pending */
    int reading;        /* read notifications are on */

    /* The round trip in flight: `nsegs` segments, each some statements then
     * a Sync. BUSY: one segment per statement read (batch[0..nreads)), then
     * one for all the writes (batch[nreads..nbatch)) if there are any.
     * PREPARING: one segment holding the prepares and the session settings. */
    db_query_t **batch;
    size_t nbatch, nreads, nsegs;
    size_t seg;            /* the segment whose results are arriving */
    size_t stmts_left;     /* its statements whose results have not ended yet */
    seg_error_t seg_error; /* what its errors prove */
    int extra_result;      /* an error raised at COMMIT is being drained */
    PGresult *seg_result;  /* its statement's result (BUSY) */
    int sync_flushed;      /* every byte of the round trip, last Sync included, left the replica */
    db_batch_params_t params;

    uint64_t sent_at_us;       /* clock_us() when the round trip in flight was sent */
    unsigned attempts;         /* consecutive failed attempts, for the backoff */
    h2o_timeout_entry_t timer; /* round-trip / connect deadline, or the backoff wait */
} db_conn_t;

struct db_pool {
    h2o_loop_t *loop;
    const config_t *cfg;
    metrics_t *metrics; /* NULL: metrics off */
    db_conn_t *conns;
    size_t nconns;
    h2o_linklist_t waiting;
    size_t pending; /* waiting + in flight */
    uint64_t next_seq;
    int closing;
    h2o_timeout_t queue_deadline;   /* T/2: longest wait before being sent */
    h2o_timeout_t round_trip;       /* T/2: longest round trip */
    h2o_timeout_t connect_deadline; /* T: longest connect + prepare */
    h2o_timeout_t backoff[DB_BACKOFF_STEPS];
};

/* db_pool.c */
void db_pool_complete(db_pool_t *pool, db_query_t *q, db_outcome_t outcome, db_cause_t cause);
/* A connection went down: if none is left, answer the waiting queries. */
void db_pool_on_conn_down(db_pool_t *pool);

/* db_conn.c */
int db_conn_init(db_conn_t *conn, db_pool_t *pool, unsigned index);
void db_conn_connect(db_conn_t *conn);
/* Sends conn->batch[0..n) (taken off the waiting FIFO) as one round trip. */
void db_conn_send(db_conn_t *conn, size_t n);
/* Closes the connection, answering what is in flight; frees its buffers. */
void db_conn_dispose(db_conn_t *conn);

#endif

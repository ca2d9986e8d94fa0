/*
 * metrics.h - the replica's Prometheus metrics: a registry of counters and
 * fixed-bucket histograms owned by the event loop (one per process), and
 * its rendering in the Prometheus text exposition format (version 0.0.4).
 *
 * The request path calls the hooks below; each one is a few additions to
 * plain integers: no lock (one thread), no allocation, no system call. A
 * NULL registry (METRICS_LISTEN unset) makes every hook a no-op. Gauges
 * (queue depth, connections) are not updated on the hot path: they are
 * read from their owner when a scrape renders them (metrics_set_gauges).
 *
 * Series (all prefixed rinha_; times in seconds):
 *   http_requests_total{route,status}       responses the handler sent
 *   http_request_duration_seconds{route}    handler entry to response, histogram
 *   http_errors_total{status,cause}         the 503s and 504s, by cause
 *   db_queue_wait_seconds                   arrival to its round trip's send, histogram
 *   db_round_trip_seconds                   a round trip's send to its last answer, histogram
 *   db_round_trip_requests                  requests per round trip, histogram
 *   db_commit_requests{kind}                requests settled per committed transaction,
 *                                           histogram: its _count is the commits
 *   db_rollbacks_total{kind}, db_unknown_total  transactions rolled back / of unknown fate
 *   db_connects_total, db_connection_failures_total  pipelines made ready / lost
 *   db_pending, db_queued, db_max_pending, db_connections_up  gauges, read at scrape time
 * plus the usual process_* series (CPU, memory, descriptors, start time).
 */
#ifndef RINHA_METRICS_H
#define RINHA_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    METRICS_ROUTE_TRANSACAO, /* POST /clientes/{id}/transacoes */
    METRICS_ROUTE_EXTRATO,   /* GET /clientes/{id}/extrato */
    METRICS_ROUTE_OTHER,     /* anything else (404, 405) */
    METRICS_ROUTES
} metrics_route_t;

/* Why a request got 503 or 504. */
typedef enum {
    METRICS_CAUSE_NONE,
    METRICS_CAUSE_MAX_PENDING,   /* refused at once: MAX_PENDING requests already wait (503) */
    METRICS_CAUSE_DB_DOWN,       /* refused at once: no database connection, or draining (503) */
    METRICS_CAUSE_QUEUE_TIMEOUT, /* waited T/2 without being sent (503) */
    METRICS_CAUSE_NOT_SENT,      /* its Sync never left the replica (503) */
    METRICS_CAUSE_ROLLED_BACK,   /* the database answered with an error (503) */
    METRICS_CAUSE_CONN_LOST,     /* the connection broke in flight (503 or 504) */
    METRICS_CAUSE_DEADLINE,      /* the round trip passed its deadline (503 or 504) */
    METRICS_CAUSE_MALFORMED,     /* committed, answer unreadable (504) */
    METRICS_CAUSES
} metrics_cause_t;

/* A transaction's kind: a statement read (one request) or a round trip's
 * writes (one or more requests, one commit). */
typedef enum { METRICS_TX_READ, METRICS_TX_WRITE, METRICS_TX_KINDS } metrics_tx_kind_t;

/* How a transaction ended. */
typedef enum { METRICS_TX_COMMITTED, METRICS_TX_ROLLED_BACK, METRICS_TX_UNKNOWN } metrics_tx_end_t;

/* Statuses counted separately; any other is counted as "other". */
#define METRICS_STATUSES 10

/* Latency histograms: 16 buckets from 50 us to 2.5 s, then +Inf. */
#define METRICS_TIME_BUCKETS 17
/* Size histograms: 1, 2, 4, ... 1024 requests, then +Inf. */
#define METRICS_SIZE_BUCKETS 12

typedef struct {
    uint64_t counts[METRICS_TIME_BUCKETS]; /* per bucket, not cumulative */
    uint64_t sum_us;
} metrics_time_hist_t;

typedef struct {
    uint64_t counts[METRICS_SIZE_BUCKETS];
    uint64_t sum;
} metrics_size_hist_t;

/* Read at scrape time from the state's owner (the database pool). */
typedef struct {
    size_t pending;        /* queued + in flight */
    size_t queued;         /* waiting for a round trip */
    size_t max_pending;    /* MAX_PENDING */
    size_t connections_up; /* pipelines ready or busy */
    size_t connections;    /* DB_CONNECTIONS */
} metrics_gauges_t;

typedef void (*metrics_gauges_cb)(void *ctx, metrics_gauges_t *out);

typedef struct {
    uint64_t requests[METRICS_ROUTES][METRICS_STATUSES];
    metrics_time_hist_t request_duration[METRICS_ROUTES];
    uint64_t errors[2][METRICS_CAUSES]; /* [0]: 503, [1]: 504 */
    metrics_time_hist_t queue_wait;
    metrics_time_hist_t round_trip;
    metrics_size_hist_t round_trip_requests;
    metrics_size_hist_t commit_requests[METRICS_TX_KINDS];
    uint64_t rollbacks[METRICS_TX_KINDS];
    uint64_t unknown;
    uint64_t connects;
    uint64_t connection_failures;
    uint64_t scrapes;
    metrics_gauges_cb gauges;
    void *gauges_ctx;
} metrics_t;

/* Zeroes a registry (all series at 0, no gauge source). */
void metrics_init(metrics_t *m);

/* Where the gauges come from when a scrape renders them. */
void metrics_set_gauges(metrics_t *m, metrics_gauges_cb cb, void *ctx);

/* ---- hooks: each is O(buckets) integer work; m may be NULL -------------- */

/* A response left the handler: its route, its HTTP status (499: the
 * client went away before its answer), for a 503/504 why, and the time
 * from the handler's entry to the response, in microseconds. */
void metrics_request_done(metrics_t *m, metrics_route_t route, int status, metrics_cause_t cause,
                          uint64_t elapsed_us);

/* A request left the queue in a round trip after waiting `wait_us`. */
void metrics_queued(metrics_t *m, uint64_t wait_us);

/* A round trip of `nrequests` requests got its last answer `rtt_us`
 * after it was sent (round trips lost with their connection are not
 * observed: their requests are counted as errors). */
void metrics_round_trip(metrics_t *m, size_t nrequests, uint64_t rtt_us);

/* A transaction of the round trip ended (its Sync came back, or the
 * connection was lost): `nrequests` requests of `kind`. A committed one is
 * observed in db_commit_requests, whose _count then grows as the commits
 * PostgreSQL counts for the replicas (pg_stat_database.xact_commit), save
 * for the few transactions of each (re)connect (counted in db_connects). */
void metrics_transaction(metrics_t *m, metrics_tx_kind_t kind, size_t nrequests, metrics_tx_end_t end);

/* A database connection's pipeline became ready (first connect or a
 * reconnect): reconnects = connects - DB_CONNECTIONS. */
void metrics_db_connected(metrics_t *m);

/* A database connection failed or was lost (it will be retried). */
void metrics_db_failed(metrics_t *m);

/* ---- rendering ----------------------------------------------------------- */

/* Writes every series in the text exposition format; counts the scrape.
 * Returns 0, or -1 if writing to `out` failed. */
int metrics_render(metrics_t *m, FILE *out);

/* Writes process_* series from /proc/self (CPU seconds, resident memory,
 * open descriptors, start time); -1 if writing failed. Missing /proc files
 * leave their series out. */
int metrics_render_process(FILE *out);

/* The status label of a status code (e.g. "200", "other"); for tests. */
const char *metrics_status_label(int status);

#endif

/*
 * db_pool.c - the replica's queue of database work and its connections
 * (see db.h for how a request travels).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db_internal.h"
#include "log.h"

static const uint64_t backoff_ms[DB_BACKOFF_STEPS] = {10, 50, 100, 250, 500, 1000};

void db_pool_complete(db_pool_t *pool, db_query_t *q, db_outcome_t outcome, db_cause_t cause)
{
    q->outcome = outcome;
    q->cause = cause;
    q->done_at_us = clock_us();
    pool->pending--;
    q->on_done(q);
}

/* Takes a query off the waiting FIFO, with its queue deadline. */
static void pool_unlink_waiting(db_query_t *q)
{
    h2o_linklist_unlink(&q->link);
    if (h2o_timeout_is_linked(&q->queue_timer))
        h2o_timeout_unlink(&q->queue_timer);
}

/* Waited T/2 without a connection to take it: it was never sent, so the
 * client may safely retry; waiting longer would only push the answer past
 * the request's deadline. */
static void on_queue_timeout(h2o_timeout_entry_t *entry)
{
    db_query_t *q = H2O_STRUCT_FROM_MEMBER(db_query_t, queue_timer, entry);
    h2o_linklist_unlink(&q->link);
    db_pool_complete(q->pool, q, DB_NOT_DONE, DB_CAUSE_QUEUE_TIMEOUT);
}

int db_pool_is_up(const db_pool_t *pool)
{
    return db_pool_connections_up(pool) > 0;
}

/* Nobody can serve the waiting queries soon: answer them now (never sent)
 * rather than let them wait for a reconnect of unknown length. */
static void pool_fail_waiting(db_pool_t *pool)
{
    while (!h2o_linklist_is_empty(&pool->waiting)) {
        db_query_t *q = H2O_STRUCT_FROM_MEMBER(db_query_t, link, pool->waiting.next);
        pool_unlink_waiting(q);
        db_pool_complete(pool, q, DB_NOT_DONE, DB_CAUSE_NOT_SENT);
    }
}

void db_pool_on_conn_down(db_pool_t *pool)
{
    if (!db_pool_is_up(pool))
        pool_fail_waiting(pool);
}

db_pool_t *db_pool_create(h2o_loop_t *loop, const config_t *cfg, metrics_t *metrics)
{
    db_pool_t *pool = h2o_mem_alloc(sizeof(*pool));
    memset(pool, 0, sizeof(*pool));
    pool->loop = loop;
    pool->cfg = cfg;
    pool->metrics = metrics;
    h2o_linklist_init_anchor(&pool->waiting);
    h2o_timeout_init(loop, &pool->queue_deadline, cfg->db_timeout_ms / 2);
    h2o_timeout_init(loop, &pool->round_trip, cfg->db_timeout_ms / 2);
    h2o_timeout_init(loop, &pool->connect_deadline, cfg->db_timeout_ms);
    for (size_t i = 0; i < DB_BACKOFF_STEPS; i++)
        h2o_timeout_init(loop, &pool->backoff[i], backoff_ms[i]);
    pool->nconns = cfg->db_connections;
    pool->conns = h2o_mem_alloc(sizeof(db_conn_t) * pool->nconns);
    for (size_t i = 0; i < pool->nconns; i++) {
        if (db_conn_init(&pool->conns[i], pool, (unsigned)i) != 0)
            h2o_fatal("db: out of memory");
    }
    return pool;
}

void db_pool_start(db_pool_t *pool)
{
    for (size_t i = 0; i < pool->nconns; i++)
        db_conn_connect(&pool->conns[i]);
}

db_submit_t db_pool_submit(db_pool_t *pool, db_query_t *q)
{
    if (pool->closing || !db_pool_is_up(pool))
        return DB_SUBMIT_UNAVAILABLE;
    if (pool->pending >= pool->cfg->max_pending)
        return DB_SUBMIT_OVERLOADED;
    q->pool = pool;
    q->seq = pool->next_seq++;
    q->queued_at_us = clock_us();
    q->sent_at_us = 0;
    q->outcome = DB_NOT_DONE;
    q->cause = DB_CAUSE_NONE;
    h2o_linklist_insert(&pool->waiting, &q->link);
    memset(&q->queue_timer, 0, sizeof(q->queue_timer));
    q->queue_timer.cb = on_queue_timeout;
    h2o_timeout_link(pool->loop, &pool->queue_deadline, &q->queue_timer);
    pool->pending++;
    return DB_SUBMIT_QUEUED;
}

static void pool_send_batch(db_pool_t *pool, db_conn_t *conn)
{
    size_t n = 0;
    while (n < pool->cfg->max_batch && !h2o_linklist_is_empty(&pool->waiting)) {
        db_query_t *q = H2O_STRUCT_FROM_MEMBER(db_query_t, link, pool->waiting.next);
        assert(q->link.next != NULL && q->link.prev != NULL); /* a linked node (helps the analyzer too) */
        pool_unlink_waiting(q);
        conn->batch[n++] = q;
    }
    db_conn_send(conn, n);
}

void db_pool_dispatch(db_pool_t *pool)
{
    for (size_t i = 0; i < pool->nconns && !h2o_linklist_is_empty(&pool->waiting); i++) {
        if (pool->conns[i].state == CONN_READY)
            pool_send_batch(pool, &pool->conns[i]);
    }
}

size_t db_pool_pending(const db_pool_t *pool)
{
    return pool->pending;
}

size_t db_pool_queued(const db_pool_t *pool)
{
    size_t n = 0;
    for (const h2o_linklist_t *l = pool->waiting.next; l != &pool->waiting; l = l->next)
        n++;
    return n;
}

size_t db_pool_connections_up(const db_pool_t *pool)
{
    size_t n = 0;
    for (size_t i = 0; i < pool->nconns; i++)
        n += pool->conns[i].state == CONN_READY || pool->conns[i].state == CONN_BUSY;
    return n;
}

void db_pool_destroy(db_pool_t *pool)
{
    pool->closing = 1;
    for (size_t i = 0; i < pool->nconns; i++)
        db_conn_dispose(&pool->conns[i]);
    pool_fail_waiting(pool);
    h2o_timeout_dispose(pool->loop, &pool->queue_deadline);
    h2o_timeout_dispose(pool->loop, &pool->round_trip);
    h2o_timeout_dispose(pool->loop, &pool->connect_deadline);
    for (size_t i = 0; i < DB_BACKOFF_STEPS; i++)
        h2o_timeout_dispose(pool->loop, &pool->backoff[i]);
    free(pool->conns);
    free(pool);
}

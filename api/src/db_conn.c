/*
 * db_conn.c - one pipelined PostgreSQL connection on the h2o loop.
 *
 * A small state machine:
 *
 *   DOWN --connect--> CONNECTING --PQconnectPoll OK--> PREPARING
 *     ^                                                   | Sync of the prepares
 *     |                                                   v
 *     +---- any error, deadline or EOF ---------- READY <--> BUSY (one round trip)
 *
 * A failed connection answers its in-flight queries with what is known of
 * them and waits a growing backoff before the next attempt; the process
 * never exits on a database fault.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "db_internal.h"
#include "fmt.h"
#include "log.h"

typedef struct {
    const char *name;
    const char *sql;
    int nparams;
} statement_t;

enum { STMT_EXTRATO, STMT_LOTE, STMT_LOTE_C };

static const statement_t statements[] = {
    /* The statement, in C (db/c/extrato.c): a third of the PL/pgSQL
     * extrato's instructions, and ten index entries read whatever the
     * table's size, where PL/pgSQL could keep a plan made for an empty
     * table. */
    [STMT_EXTRATO] = {"extrato", "SELECT extrato_c($1::integer)", 1},
    /* All the writes of a round trip, in one call (and one transaction),
     * when one of them has an Idempotency-Key (PL/pgSQL). */
    [STMT_LOTE] = {"lote",
                   "SELECT r_status, r_saldo, r_limite FROM transacoes_lote($1::integer[], $2::bigint[], "
                   "$3::text, $4::text[], $5::text[])",
                   5},
    /* The same without keys (the whole Rinha load), in C, from a single
     * write up: measured (callgrind), a batch of one costs under half of
     * the PL/pgSQL batch call and less than the PL/pgSQL transacao(). */
    [STMT_LOTE_C] = {"lote_c",
                     "SELECT r_status, r_saldo, r_limite FROM transacoes_lote_c($1::integer[], $2::bigint[], "
                     "$3::text, $4::text[])",
                     4},
};
#define STATEMENT_COUNT (sizeof(statements) / sizeof(statements[0]))

/* Session settings sent with the prepares. statement_timeout (T/4) makes
 * the database give up on a stuck statement (a row lock held elsewhere) with
 * an error, i.e. a known rollback, before the replica's round-trip deadline
 * (T/2) turns it into an unknown; it also bounds how long a backend whose
 * replica gave up can go on. Not lock_timeout: it bounds each lock wait, and
 * one contended row is two waits (its tuple lock, then its holder), so
 * batches waited past the replica's deadline (measured: 504s where
 * statement_timeout gave none). Not client_connection_check_interval either:
 * statement_timeout already bounds an abandoned backend, and that setting
 * arms one more timer on every statement. */
#define SESSION_SETTINGS_SQL "SELECT set_config('statement_timeout', $1, false)"

static void conn_fail(db_conn_t *conn, db_cause_t cause, const char *why);
static void on_conn_read(h2o_socket_t *sock, const char *err);
static void on_conn_writable(h2o_socket_t *sock, const char *err);
static void on_conn_timer(h2o_timeout_entry_t *entry);

/* libpq messages end with a newline and may carry more lines (CONTEXT):
 * logs keep one line per event. */
static const char *first_line(char *buf, size_t cap, const char *msg)
{
    snprintf(buf, cap, "%s", msg != NULL ? msg : "unknown error");
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

/* ---- socket plumbing -------------------------------------------------- */

static void conn_detach_socket(db_conn_t *conn)
{
    if (conn->sock != NULL) {
        h2o_socket_close(conn->sock);
        conn->sock = NULL;
    }
    conn->write_armed = 0;
    conn->reading = 0;
    conn->sock_ino = 0;
}

static ino_t socket_ino(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/* Whether our h2o socket still mirrors libpq's. While connecting, libpq may
 * close a socket (a failed address, an SSL/GSS fallback) and open another,
 * which usually gets the same fd number: compare the sockets themselves. A
 * stale dup would keep the old, dead socket alive in epoll and spin. */
static int conn_socket_current(const db_conn_t *conn)
{
    int fd = PQsocket(conn->pg);
    return conn->sock != NULL && fd >= 0 && socket_ino(fd) == conn->sock_ino;
}

static int conn_attach_socket(db_conn_t *conn)
{
    conn_detach_socket(conn);
    int pg_fd = PQsocket(conn->pg);
    if (pg_fd < 0)
        return -1;
    int fd = fcntl(pg_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        LOG_E("db[%u]: dup of the libpq socket failed: %s", conn->index, strerror(errno));
        return -1;
    }
    conn->sock_ino = socket_ino(fd);
    conn->sock = h2o_evloop_socket_create(conn->pool->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    conn->sock->data = conn;
    return 0;
}

static void conn_read_start(db_conn_t *conn, h2o_socket_cb cb)
{
    h2o_socket_read_start(conn->sock, cb);
    conn->reading = 1;
}

static void conn_arm_timer(db_conn_t *conn, h2o_timeout_t *list)
{
    if (h2o_timeout_is_linked(&conn->timer))
        h2o_timeout_unlink(&conn->timer);
    h2o_timeout_link(conn->pool->loop, list, &conn->timer);
}

/* Pushes libpq's output buffer; when the socket is full, continues from the
 * write notification. Once everything has left, the round trip's last Sync
 * has too: from then on its commit may happen even if we lose the line. */
static int conn_flush(db_conn_t *conn)
{
    int r = PQflush(conn->pg);
    if (r < 0) {
        conn_fail(conn, DB_CAUSE_CONN_LOST, PQerrorMessage(conn->pg));
        return -1;
    }
    if (r == 0) {
        conn->sync_flushed = 1;
    } else if (!conn->write_armed) {
        conn->write_armed = 1;
        h2o_socket_notify_write(conn->sock, on_conn_writable);
    }
    return 0;
}

static void on_conn_writable(h2o_socket_t *sock, const char *err)
{
    db_conn_t *conn = sock->data;
    conn->write_armed = 0;
    if (err != NULL) {
        conn_fail(conn, DB_CAUSE_CONN_LOST, err);
        return;
    }
    conn_flush(conn);
}

/* ---- answering the round trip in flight --------------------------------- */

static db_query_t **conn_writes(db_conn_t *conn)
{
    return conn->batch + conn->nreads;
}

static size_t conn_nwrites(const db_conn_t *conn)
{
    return conn->nbatch - conn->nreads;
}

static void conn_clear_segment(db_conn_t *conn)
{
    if (conn->seg_result != NULL) {
        PQclear(conn->seg_result);
        conn->seg_result = NULL;
    }
    conn->seg_error = SEG_NO_ERROR;
    conn->extra_result = 0;
    conn->stmts_left = 1;
}

/* The outcome of unfinished writes, from what is known of their segment. */
static db_outcome_t writes_outcome(seg_error_t err, int sync_out, db_cause_t *cause)
{
    if (err == SEG_ROLLED_BACK) {
        *cause = DB_CAUSE_ROLLED_BACK;
        return DB_NOT_DONE;
    }
    if (err == SEG_NO_ERROR && !sync_out) {
        *cause = DB_CAUSE_NOT_SENT;
        return DB_NOT_DONE;
    }
    return DB_UNKNOWN;
}

/* The connection is going away with the round trip unfinished. Segments
 * before `seg` were answered already. A read is never harmful to repeat;
 * the writes are known not done if the server said their transaction ended
 * without commit, or if their Sync never left the replica (the database
 * rolls back a transaction whose client vanished before the Sync), and
 * unknown otherwise. */
static void conn_abandon_round_trip(db_conn_t *conn, db_cause_t cause)
{
    db_pool_t *pool = conn->pool;
    db_query_t **batch = conn->batch;
    size_t seg = conn->seg, nreads = conn->nreads, nbatch = conn->nbatch;
    db_cause_t read_cause = cause;
    seg_error_t write_error = seg == nreads ? conn->seg_error : SEG_NO_ERROR;
    db_outcome_t write_outcome = writes_outcome(write_error, conn->sync_flushed, &cause);
    /* Detach the batch first: completion callbacks must see a clean conn. */
    conn->nbatch = conn->nreads = conn->nsegs = conn->seg = 0;
    conn_clear_segment(conn);
    for (size_t i = seg; i < nreads; i++)
        db_pool_complete(pool, batch[i], DB_NOT_DONE, read_cause);
    size_t first_write = nreads > seg ? nreads : seg;
    if (first_write < nbatch && write_outcome == DB_UNKNOWN)
        metrics_transaction(pool->metrics, METRICS_TX_WRITE, nbatch - first_write, METRICS_TX_UNKNOWN);
    for (size_t i = first_write; i < nbatch; i++)
        db_pool_complete(pool, batch[i], write_outcome, cause);
}

/* A statement read's segment is over. */
static void conn_answer_read(db_conn_t *conn, db_query_t *q)
{
    if (conn->seg_error != SEG_NO_ERROR || db_batch_decode_extrato(conn->seg_result, q) != 0) {
        db_pool_complete(conn->pool, q, DB_NOT_DONE, DB_CAUSE_ROLLED_BACK);
        return;
    }
    db_pool_complete(conn->pool, q, DB_OK, DB_CAUSE_NONE);
}

/* The writes' segment is over: its Sync came back, so the transaction has
 * ended one way or the other. */
static void conn_answer_writes(db_conn_t *conn)
{
    db_query_t **w = conn_writes(conn);
    size_t n = conn_nwrites(conn);
    if (conn->seg_error != SEG_NO_ERROR) {
        db_cause_t cause = DB_CAUSE_MALFORMED;
        db_outcome_t outcome = writes_outcome(conn->seg_error, 1, &cause);
        for (size_t i = 0; i < n; i++)
            db_pool_complete(conn->pool, w[i], outcome, cause);
        return;
    }
    if (db_batch_decode_writes(conn->seg_result, w, n) != 0) {
        /* Committed (no error before the Sync), but which request was
         * applied cannot be read: the truth is "unknown", not "not done". */
        LOG_E("db[%u]: unreadable answer to a committed round trip of %zu write(s)", conn->index, n);
        for (size_t i = 0; i < n; i++)
            db_pool_complete(conn->pool, w[i], DB_UNKNOWN, DB_CAUSE_MALFORMED);
        return;
    }
    for (size_t i = 0; i < n; i++)
        db_pool_complete(conn->pool, w[i], DB_OK, DB_CAUSE_NONE);
}

static void conn_on_ready(db_conn_t *conn)
{
    h2o_timeout_unlink(&conn->timer);
    conn->state = CONN_READY;
}

/* Counts how segment `seg`'s transaction ended, as PostgreSQL counts it:
 * without an error before its Sync it committed (a statement read too). */
static void conn_count_transaction(const db_conn_t *conn, size_t seg)
{
    int read = seg < conn->nreads;
    metrics_tx_end_t end = conn->seg_error == SEG_NO_ERROR      ? METRICS_TX_COMMITTED
                           : conn->seg_error == SEG_ROLLED_BACK ? METRICS_TX_ROLLED_BACK
                                                                : METRICS_TX_UNKNOWN;
    metrics_transaction(conn->pool->metrics, read ? METRICS_TX_READ : METRICS_TX_WRITE,
                        read ? 1 : conn_nwrites(conn), end);
}

/* The current segment's Sync arrived. */
static void conn_end_segment(db_conn_t *conn)
{
    if (conn->state == CONN_PREPARING) {
        if (conn->seg_error != SEG_NO_ERROR) {
            conn_fail(conn, DB_CAUSE_NOT_SENT, "preparing statements failed (is the schema loaded?)");
            return;
        }
        conn_clear_segment(conn);
        conn->attempts = 0;
        conn_on_ready(conn);
        metrics_db_connected(conn->pool->metrics);
        LOG_I("db[%u]: connected, pipeline ready", conn->index);
        return;
    }
    size_t seg = conn->seg;
    int last = seg + 1 == conn->nsegs;
    conn_count_transaction(conn, seg);
    if (seg < conn->nreads)
        conn_answer_read(conn, conn->batch[seg]);
    else
        conn_answer_writes(conn);
    /* Results live until the callbacks have answered from them. */
    conn_clear_segment(conn);
    conn->seg = seg + 1;
    if (last) {
        metrics_round_trip(conn->pool->metrics, conn->nbatch, clock_us() - conn->sent_at_us);
        conn->nbatch = conn->nreads = conn->nsegs = conn->seg = 0;
        conn_on_ready(conn);
    }
}

/* ---- failure and reconnection ------------------------------------------ */

static void conn_schedule_reconnect(db_conn_t *conn)
{
    if (conn->pool->closing)
        return;
    size_t step = conn->attempts < DB_BACKOFF_STEPS ? conn->attempts : DB_BACKOFF_STEPS - 1;
    conn->attempts++;
    h2o_timeout_link(conn->pool->loop, &conn->pool->backoff[step], &conn->timer);
}

static void conn_close(db_conn_t *conn, db_cause_t cause)
{
    if (h2o_timeout_is_linked(&conn->timer))
        h2o_timeout_unlink(&conn->timer);
    conn_detach_socket(conn);
    if (conn->pg != NULL) {
        PQfinish(conn->pg);
        conn->pg = NULL;
    }
    conn->state = CONN_DOWN;
    conn_abandon_round_trip(conn, cause);
}

static void conn_fail(db_conn_t *conn, db_cause_t cause, const char *why)
{
    size_t lost =
        conn->state == CONN_BUSY ? conn->nbatch - (conn->seg < conn->nreads ? conn->seg : conn->nreads) : 0;
    char reason[256];
    LOG_W("db[%u]: connection lost (%s); %zu in-flight request(s) answered", conn->index,
          first_line(reason, sizeof(reason), why), lost);
    metrics_db_failed(conn->pool->metrics);
    conn_close(conn, cause);
    conn_schedule_reconnect(conn);
    db_pool_on_conn_down(conn->pool);
}

static void on_conn_timer(h2o_timeout_entry_t *entry)
{
    db_conn_t *conn = H2O_STRUCT_FROM_MEMBER(db_conn_t, timer, entry);
    if (conn->state == CONN_DOWN)
        db_conn_connect(conn);
    else
        conn_fail(conn, DB_CAUSE_DEADLINE, "deadline exceeded");
}

/* ---- connecting -------------------------------------------------------- */

static int conn_send_settings(db_conn_t *conn)
{
    char timeout[32];
    snprintf(timeout, sizeof(timeout), "%" PRIu64 "ms", conn->pool->cfg->db_timeout_ms / 4);
    const char *params[1] = {timeout};
    return PQsendQueryParams(conn->pg, SESSION_SETTINGS_SQL, 1, NULL, params, NULL, NULL, 0);
}

static void conn_send_prepares(db_conn_t *conn)
{
    if (PQsetnonblocking(conn->pg, 1) != 0 || PQenterPipelineMode(conn->pg) != 1) {
        conn_fail(conn, DB_CAUSE_NOT_SENT, PQerrorMessage(conn->pg));
        return;
    }
    for (size_t i = 0; i < STATEMENT_COUNT; i++) {
        if (!PQsendPrepare(conn->pg, statements[i].name, statements[i].sql, statements[i].nparams, NULL)) {
            conn_fail(conn, DB_CAUSE_NOT_SENT, PQerrorMessage(conn->pg));
            return;
        }
    }
    if (!conn_send_settings(conn) || !PQpipelineSync(conn->pg)) {
        conn_fail(conn, DB_CAUSE_NOT_SENT, PQerrorMessage(conn->pg));
        return;
    }
    conn->state = CONN_PREPARING;
    conn->nbatch = conn->nreads = conn->seg = 0;
    conn->nsegs = 1;
    conn_clear_segment(conn);
    conn->stmts_left = STATEMENT_COUNT + 1;
    conn_read_start(conn, on_conn_read);
    conn_flush(conn);
}

static void on_connect_io(h2o_socket_t *sock, const char *err);

static void conn_poll_connect(db_conn_t *conn, PostgresPollingStatusType st)
{
    if (st == PGRES_POLLING_FAILED) {
        conn_fail(conn, DB_CAUSE_NOT_SENT, PQerrorMessage(conn->pg));
        return;
    }
    if (!conn_socket_current(conn) && conn_attach_socket(conn) != 0) {
        conn_fail(conn, DB_CAUSE_NOT_SENT, "no socket");
        return;
    }
    switch (st) {
    case PGRES_POLLING_READING:
        if (!conn->reading)
            conn_read_start(conn, on_connect_io);
        return;
    case PGRES_POLLING_WRITING:
        if (conn->reading) {
            h2o_socket_read_stop(conn->sock);
            conn->reading = 0;
        }
        if (!conn->write_armed) {
            conn->write_armed = 1;
            h2o_socket_notify_write(conn->sock, on_connect_io);
        }
        return;
    case PGRES_POLLING_OK:
        if (conn->reading) {
            h2o_socket_read_stop(conn->sock);
            conn->reading = 0;
        }
        conn_send_prepares(conn);
        return;
    default:
        conn_fail(conn, DB_CAUSE_NOT_SENT, PQerrorMessage(conn->pg));
        return;
    }
}

static void on_connect_io(h2o_socket_t *sock, const char *err)
{
    db_conn_t *conn = sock->data;
    (void)err; /* PQconnectPoll reports the real error, if any */
    conn->write_armed = 0;
    conn_poll_connect(conn, PQconnectPoll(conn->pg));
}

void db_conn_connect(db_conn_t *conn)
{
    conn->pg = PQconnectStart(conn->pool->cfg->db_conninfo);
    if (conn->pg == NULL) {
        conn_fail(conn, DB_CAUSE_NOT_SENT, "out of memory");
        return;
    }
    if (PQstatus(conn->pg) == CONNECTION_BAD) {
        conn_fail(conn, DB_CAUSE_NOT_SENT, PQerrorMessage(conn->pg));
        return;
    }
    conn->state = CONN_CONNECTING;
    conn_arm_timer(conn, &conn->pool->connect_deadline);
    /* libpq's documented start state is "as if PQconnectPoll had returned
     * PGRES_POLLING_WRITING". */
    conn_poll_connect(conn, PGRES_POLLING_WRITING);
}

/* ---- results ------------------------------------------------------------ */

/* What an error result proves. Only the server's own errors prove anything
 * (libpq's local ones, such as a lost connection, carry no SQLSTATE). An
 * error while a statement runs means the Sync, hence the commit, was never
 * processed; an ERROR at COMMIT means it failed; but a FATAL or PANIC after
 * the statements may come after the commit has happened. */
static seg_error_t classify_error(const PGresult *r, int statements_done)
{
    if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED)
        return SEG_ROLLED_BACK; /* skipped after an earlier error of the same transaction */
    const char *sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sqlstate == NULL || severity == NULL)
        return SEG_FATE_UNKNOWN;
    if (!statements_done || strcmp(severity, "ERROR") == 0)
        return SEG_ROLLED_BACK;
    return SEG_FATE_UNKNOWN;
}

static void conn_take_result(db_conn_t *conn, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        char msg[256];
        seg_error_t err = classify_error(r, conn->stmts_left == 0);
        if (conn->seg_error == SEG_NO_ERROR && st != PGRES_PIPELINE_ABORTED)
            LOG_W("db[%u]: statement failed (%s): %s", conn->index,
                  err == SEG_ROLLED_BACK ? "rolled back" : "commit unknown",
                  first_line(msg, sizeof(msg), PQresultErrorMessage(r)));
        if (err > conn->seg_error)
            conn->seg_error = err;
        /* After the statements, an error is the COMMIT's: a NULL follows. */
        if (conn->stmts_left == 0)
            conn->extra_result = 1;
        PQclear(r);
        return;
    }
    if (conn->stmts_left == 0) {
        LOG_W("db[%u]: unexpected result before Sync", conn->index);
        conn->seg_error = SEG_FATE_UNKNOWN;
        conn->extra_result = 1;
    } else if (conn->state == CONN_BUSY && conn->seg_result == NULL) {
        conn->seg_result = r;
        return;
    }
    PQclear(r);
}

/* Routes every result libpq has complete. Results arrive in order: for each
 * statement one or more results then NULL, and after a segment's statements
 * its Sync. */
static void conn_process_results(db_conn_t *conn)
{
    while ((conn->state == CONN_BUSY || conn->state == CONN_PREPARING) && !PQisBusy(conn->pg)) {
        PGresult *r = PQgetResult(conn->pg);
        if (r == NULL) {
            if (conn->stmts_left > 0)
                conn->stmts_left--;
            else if (conn->extra_result)
                conn->extra_result = 0;
            else
                return; /* nothing more until the next bytes arrive */
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            if (conn->stmts_left > 0) {
                conn_fail(conn, DB_CAUSE_CONN_LOST, "Sync before the end of a statement's results");
                return;
            }
            conn_end_segment(conn);
            continue;
        }
        conn_take_result(conn, r);
    }
}

static void on_conn_read(h2o_socket_t *sock, const char *err)
{
    db_conn_t *conn = sock->data;
    if (err != NULL) {
        conn_fail(conn, DB_CAUSE_CONN_LOST, err);
        return;
    }
    if (!PQconsumeInput(conn->pg)) {
        conn_fail(conn, DB_CAUSE_CONN_LOST, PQerrorMessage(conn->pg));
        return;
    }
    /* libpq may have been waiting for input before it could send more. */
    if (!conn->write_armed && conn_flush(conn) != 0)
        return;
    conn_process_results(conn);
    if (conn->pg == NULL)
        return;
    PGnotify *n;
    while ((n = PQnotifies(conn->pg)) != NULL)
        PQfreemem(n);
}

/* ---- sending a round trip ------------------------------------------------ */

/* One prepared statement ended by its own Sync (a segment). Parameters in
 * text unless `lengths` is given (then binary, see db_batch.c), copied by
 * libpq into its output buffer at once; results always in binary. */
static int conn_send_segment(db_conn_t *conn, int stmt, const char *const *params, const int *lengths)
{
    /* Only the batch call passes lengths: one format per lote parameter. */
    static const int binary[LOTE_NPARAMS] = {1, 1, 1, 1, 1};
    const statement_t *st = &statements[stmt];
    return PQsendQueryPrepared(conn->pg, st->name, st->nparams, params, lengths,
                               lengths != NULL ? binary : NULL, 1) &&
           PQpipelineSync(conn->pg);
}

static int conn_send_extrato(db_conn_t *conn, const db_query_t *q)
{
    char id[FMT_INT64_MAX_LEN + 1];
    *fmt_i64(id, q->client_id) = '\0';
    const char *params[1] = {id};
    return conn_send_segment(conn, STMT_EXTRATO, params, NULL);
}

static int conn_send_writes(db_conn_t *conn)
{
    db_batch_params_t *p = &conn->params;
    if (db_batch_params_encode(p, conn_writes(conn), conn_nwrites(conn)) != 0)
        return 0;
    /* p_chaves is NULL when no write has a key: the C call takes the first
     * four parameters. */
    return conn_send_segment(conn, p->values[LOTE_CHAVES] == NULL ? STMT_LOTE_C : STMT_LOTE, p->values,
                             p->lengths);
}

void db_conn_send(db_conn_t *conn, size_t n)
{
    conn->nbatch = n;
    conn->nreads = db_batch_order(conn->batch, n);
    conn->nsegs = conn->nreads + (n > conn->nreads ? 1 : 0);
    conn->seg = 0;
    conn->sync_flushed = 0;
    conn_clear_segment(conn);
    conn->state = CONN_BUSY;
    conn_arm_timer(conn, &conn->pool->round_trip);

    uint64_t now = clock_us();
    conn->sent_at_us = now;
    for (size_t i = 0; i < n; i++) {
        conn->batch[i]->sent_at_us = now;
        metrics_queued(conn->pool->metrics, now - conn->batch[i]->queued_at_us);
    }
    int ok = 1;
    for (size_t i = 0; ok && i < conn->nreads; i++)
        ok = conn_send_extrato(conn, conn->batch[i]);
    if (ok && n > conn->nreads)
        ok = conn_send_writes(conn);
    if (!ok) {
        conn_fail(conn, DB_CAUSE_NOT_SENT, PQerrorMessage(conn->pg));
        return;
    }
    conn_flush(conn);
}

/* ---- life cycle ------------------------------------------------------------ */

int db_conn_init(db_conn_t *conn, db_pool_t *pool, unsigned index)
{
    memset(conn, 0, sizeof(*conn));
    conn->pool = pool;
    conn->index = index;
    conn->state = CONN_DOWN;
    conn->timer.cb = on_conn_timer;
    conn->batch = malloc(sizeof(db_query_t *) * pool->cfg->max_batch);
    if (conn->batch == NULL || db_batch_params_init(&conn->params, pool->cfg->max_batch) != 0) {
        free(conn->batch);
        conn->batch = NULL;
        return -1;
    }
    return 0;
}

void db_conn_dispose(db_conn_t *conn)
{
    conn_close(conn, DB_CAUSE_CONN_LOST);
    free(conn->batch);
    conn->batch = NULL;
    db_batch_params_free(&conn->params);
}

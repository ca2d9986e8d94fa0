/*
 * db.c - libpq pipeline client on the h2o loop (see db.h for the model).
 *
 * Each connection is a small state machine:
 *
 *   DOWN --connect--> CONNECTING --PQconnectPoll OK--> PREPARING
 *     ^                                                   | Sync of the prepares
 *     |                                                   v
 *     +---- any error, timeout or EOF ----------- READY <--> BUSY (one round trip)
 *
 * A failed connection answers its in-flight queries and waits a growing
 * backoff before the next attempt; the process never exits on a database
 * fault.
 */
#include "db.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

typedef struct {
    const char *name;
    const char *sql;
    int nparams;
} statement_t;

/* Indexed by db_query_kind_t. All the writes of a round trip go in one
 * transacoes_lote() call (see db/03-procedures.sql); each statement is its
 * own extrato() call. */
static const statement_t statements[] = {
    [DB_QUERY_TRANSACAO] =
        {"lote",
         "SELECT r_status, r_saldo, r_limite FROM transacoes_lote($1::integer[], $2::bigint[], "
         "$3::text, $4::json)",
         4},
    [DB_QUERY_EXTRATO] = {"extrato", "SELECT extrato($1::integer)", 1},
};
#define STATEMENT_COUNT (sizeof(statements) / sizeof(statements[0]))

/* Reconnect delays after consecutive failures, in ms. */
static const uint64_t backoff_ms[] = {10, 50, 100, 250, 500, 1000};
#define BACKOFF_STEPS (sizeof(backoff_ms) / sizeof(backoff_ms[0]))

typedef enum { CONN_DOWN, CONN_CONNECTING, CONN_PREPARING, CONN_READY, CONN_BUSY } conn_state_t;

typedef struct {
    db_pool_t *pool;
    unsigned index;
    conn_state_t state;
    PGconn *pg;
    h2o_socket_t *sock; /* wraps a dup of libpq's fd: h2o_socket_close closes its own */
    int pg_fd;          /* libpq's fd the socket mirrors */
    int write_armed;    /* a write notification is pending */
    int reading;        /* read notifications are on */

    /* The round trip in flight: `nsent` statements then one Sync. `batch`
     * holds its queries, writes first: `nwrites` of them answered by the
     * first statement's rows, then one statement per extrato. */
    db_query_t **batch;
    size_t nbatch, nwrites, nsent, ndone;
    PGresult **results; /* one per statement sent, NULL until it arrives */
    /* Text of the batch call's parameters, reused from round trip to round trip. */
    char *ids_text, *valores_text, *tipos_text;
    int failed;       /* an error result arrived: the transaction rolled back */
    int extra_result; /* an unexpected result is being drained before the Sync */

    unsigned attempts;         /* consecutive failed attempts, for the backoff */
    h2o_timeout_entry_t timer; /* round-trip / connect deadline, or the backoff wait */
} db_conn_t;

struct db_pool {
    h2o_loop_t *loop;
    const config_t *cfg;
    db_conn_t *conns;
    size_t nconns;
    h2o_linklist_t waiting;
    size_t pending; /* waiting + in flight */
    uint64_t next_seq;
    int closing;
    h2o_timeout_t deadline;
    h2o_timeout_t backoff[BACKOFF_STEPS];
};

static void conn_connect(db_conn_t *conn);
static void conn_fail(db_conn_t *conn, db_outcome_t outcome, const char *why);
static void on_conn_read(h2o_socket_t *sock, const char *err);

/* ---- completing queries ---------------------------------------------- */

static void complete(db_pool_t *pool, db_query_t *q, db_outcome_t outcome)
{
    q->outcome = outcome;
    if (outcome != DB_OK)
        q->result = NULL;
    pool->pending--;
    q->on_done(q);
}

static void conn_clear_results(db_conn_t *conn)
{
    for (size_t i = 0; i < conn->nsent; i++) {
        if (conn->results[i] != NULL) {
            PQclear(conn->results[i]);
            conn->results[i] = NULL;
        }
    }
}

int db_pool_is_up(const db_pool_t *pool)
{
    for (size_t i = 0; i < pool->nconns; i++) {
        if (pool->conns[i].state == CONN_READY || pool->conns[i].state == CONN_BUSY)
            return 1;
    }
    return 0;
}

/* Nobody can serve the waiting queries soon: answer them now rather than
 * let them wait for a reconnect of unknown length. */
static void pool_fail_waiting(db_pool_t *pool)
{
    while (!h2o_linklist_is_empty(&pool->waiting)) {
        db_query_t *q = H2O_STRUCT_FROM_MEMBER(db_query_t, link, pool->waiting.next);
        h2o_linklist_unlink(&q->link);
        complete(pool, q, DB_UNAVAILABLE);
    }
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
}

static int conn_attach_socket(db_conn_t *conn)
{
    conn_detach_socket(conn);
    conn->pg_fd = PQsocket(conn->pg);
    if (conn->pg_fd < 0)
        return -1;
    int fd = fcntl(conn->pg_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        LOG_E("db[%u]: dup of the libpq socket failed: %s", conn->index, strerror(errno));
        return -1;
    }
    conn->sock = h2o_evloop_socket_create(conn->pool->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    conn->sock->data = conn;
    return 0;
}

static void conn_read_start(db_conn_t *conn, h2o_socket_cb cb)
{
    h2o_socket_read_start(conn->sock, cb);
    conn->reading = 1;
}

static void conn_arm_deadline(db_conn_t *conn)
{
    if (h2o_timeout_is_linked(&conn->timer))
        h2o_timeout_unlink(&conn->timer);
    h2o_timeout_link(conn->pool->loop, &conn->pool->deadline, &conn->timer);
}

static void on_conn_writable(h2o_socket_t *sock, const char *err);

/* Pushes libpq's output buffer; when the socket is full, continues from the
 * write notification. */
static int conn_flush(db_conn_t *conn)
{
    int r = PQflush(conn->pg);
    if (r < 0) {
        conn_fail(conn, DB_UNAVAILABLE, PQerrorMessage(conn->pg));
        return -1;
    }
    if (r == 1 && !conn->write_armed) {
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
        conn_fail(conn, DB_UNAVAILABLE, err);
        return;
    }
    conn_flush(conn);
}

/* ---- failure and reconnection ------------------------------------------ */

static void conn_schedule_reconnect(db_conn_t *conn)
{
    if (conn->pool->closing)
        return;
    size_t step = conn->attempts < BACKOFF_STEPS ? conn->attempts : BACKOFF_STEPS - 1;
    conn->attempts++;
    h2o_timeout_link(conn->pool->loop, &conn->pool->backoff[step], &conn->timer);
}

static void conn_close(db_conn_t *conn, db_outcome_t outcome)
{
    if (h2o_timeout_is_linked(&conn->timer))
        h2o_timeout_unlink(&conn->timer);
    conn_detach_socket(conn);
    if (conn->pg != NULL) {
        PQfinish(conn->pg);
        conn->pg = NULL;
    }
    conn->state = CONN_DOWN;
    conn_clear_results(conn);
    /* Detach the batch first: completion callbacks must see a clean conn. */
    size_t n = conn->nbatch;
    conn->nbatch = conn->nwrites = conn->nsent = conn->ndone = 0;
    for (size_t i = 0; i < n; i++)
        complete(conn->pool, conn->batch[i], outcome);
}

static void conn_fail(db_conn_t *conn, db_outcome_t outcome, const char *why)
{
    size_t lost = conn->nbatch;
    /* libpq messages end with a newline; keep log lines single. */
    char reason[256];
    snprintf(reason, sizeof(reason), "%s", why != NULL ? why : "unknown error");
    reason[strcspn(reason, "\n")] = '\0';
    LOG_W("db[%u]: connection lost (%s); %zu in-flight request(s) answered 503", conn->index, reason, lost);
    conn_close(conn, outcome);
    conn_schedule_reconnect(conn);
    if (!db_pool_is_up(conn->pool))
        pool_fail_waiting(conn->pool);
}

static void on_conn_timer(h2o_timeout_entry_t *entry)
{
    db_conn_t *conn = H2O_STRUCT_FROM_MEMBER(db_conn_t, timer, entry);
    if (conn->state == CONN_DOWN)
        conn_connect(conn);
    else
        conn_fail(conn, conn->state == CONN_BUSY ? DB_TIMEOUT : DB_UNAVAILABLE, "deadline exceeded");
}

/* ---- connecting -------------------------------------------------------- */

static void conn_send_prepares(db_conn_t *conn)
{
    if (PQsetnonblocking(conn->pg, 1) != 0 || PQenterPipelineMode(conn->pg) != 1) {
        conn_fail(conn, DB_UNAVAILABLE, PQerrorMessage(conn->pg));
        return;
    }
    for (size_t i = 0; i < STATEMENT_COUNT; i++) {
        if (!PQsendPrepare(conn->pg, statements[i].name, statements[i].sql, statements[i].nparams, NULL)) {
            conn_fail(conn, DB_UNAVAILABLE, PQerrorMessage(conn->pg));
            return;
        }
    }
    if (!PQpipelineSync(conn->pg)) {
        conn_fail(conn, DB_UNAVAILABLE, PQerrorMessage(conn->pg));
        return;
    }
    conn->state = CONN_PREPARING;
    conn->nbatch = conn->nwrites = 0;
    conn->nsent = STATEMENT_COUNT;
    conn->ndone = 0;
    conn->failed = conn->extra_result = 0;
    conn_read_start(conn, on_conn_read);
    conn_flush(conn);
}

static void on_connect_io(h2o_socket_t *sock, const char *err);

static void conn_poll_connect(db_conn_t *conn, PostgresPollingStatusType st)
{
    if (PQsocket(conn->pg) != conn->pg_fd && conn_attach_socket(conn) != 0) {
        conn_fail(conn, DB_UNAVAILABLE, "no socket");
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
        conn_fail(conn, DB_UNAVAILABLE, PQerrorMessage(conn->pg));
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

static void conn_connect(db_conn_t *conn)
{
    conn->pg = PQconnectStart(conn->pool->cfg->db_conninfo);
    if (conn->pg == NULL) {
        conn_fail(conn, DB_UNAVAILABLE, "out of memory");
        return;
    }
    if (PQstatus(conn->pg) == CONNECTION_BAD) {
        conn_fail(conn, DB_UNAVAILABLE, PQerrorMessage(conn->pg));
        return;
    }
    conn->pg_fd = -1;
    conn->state = CONN_CONNECTING;
    conn_arm_deadline(conn);
    /* libpq's documented start state is "as if PQconnectPoll had returned
     * PGRES_POLLING_WRITING". */
    conn_poll_connect(conn, PGRES_POLLING_WRITING);
}

/* ---- round trips --------------------------------------------------------- */

static void conn_on_sync(db_conn_t *conn)
{
    if (conn->state == CONN_PREPARING) {
        if (conn->failed) {
            conn_fail(conn, DB_UNAVAILABLE, "preparing statements failed (is the schema loaded?)");
            return;
        }
        h2o_timeout_unlink(&conn->timer);
        conn->state = CONN_READY;
        conn->attempts = 0;
        LOG_I("db[%u]: connected, pipeline ready", conn->index);
        return;
    }
    h2o_timeout_unlink(&conn->timer);
    db_outcome_t outcome = conn->failed ? DB_FAILED : DB_OK;
    /* Every answer must be there: the batch call one row per write, and
     * each extrato one row. Anything else is a broken round trip. */
    size_t first_extrato = conn->nwrites > 0 ? 1 : 0;
    if (outcome == DB_OK && conn->nwrites > 0 &&
        (conn->results[0] == NULL || PQntuples(conn->results[0]) != (int)conn->nwrites ||
         PQnfields(conn->results[0]) != 3))
        outcome = DB_FAILED;
    for (size_t i = first_extrato; outcome == DB_OK && i < conn->nsent; i++) {
        if (conn->results[i] == NULL || PQntuples(conn->results[i]) != 1 || PQnfields(conn->results[i]) != 1)
            outcome = DB_FAILED;
    }
    if (outcome != DB_OK && !conn->failed)
        LOG_W("db[%u]: malformed answer to a round trip; answering 503", conn->index);

    size_t n = conn->nbatch, nwrites = conn->nwrites;
    conn->state = CONN_READY;
    for (size_t i = 0; i < n; i++) {
        db_query_t *q = conn->batch[i];
        q->result = i < nwrites ? conn->results[0] : conn->results[first_extrato + (i - nwrites)];
        q->row = i < nwrites ? (int)i : 0;
        complete(conn->pool, q, outcome);
    }
    /* Results live until every callback has answered from them. */
    conn_clear_results(conn);
    conn->nbatch = conn->nwrites = conn->nsent = conn->ndone = 0;
}

static void conn_take_result(db_conn_t *conn, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        if (!conn->failed && st != PGRES_PIPELINE_ABORTED)
            LOG_W("db[%u]: statement failed, round trip rolled back: %s", conn->index,
                  PQresultErrorMessage(r));
        conn->failed = 1;
        PQclear(r);
        return;
    }
    if (conn->state == CONN_BUSY && conn->results[conn->ndone] == NULL) {
        conn->results[conn->ndone] = r;
        return;
    }
    PQclear(r);
}

/* Routes every result libpq has complete. Results arrive in order: for each
 * statement one or more results then NULL, and after them the Sync. */
static void conn_process_results(db_conn_t *conn)
{
    while ((conn->state == CONN_BUSY || conn->state == CONN_PREPARING) && !PQisBusy(conn->pg)) {
        PGresult *r = PQgetResult(conn->pg);
        if (conn->ndone < conn->nsent) {
            if (r == NULL)
                conn->ndone++;
            else
                conn_take_result(conn, r);
            continue;
        }
        /* Every statement is done: what comes now must be the Sync. An error
         * raised at COMMIT arrives as an extra result (then NULL) first. */
        if (r == NULL) {
            if (conn->extra_result) {
                conn->extra_result = 0;
                continue;
            }
            return;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            conn_on_sync(conn);
            continue;
        }
        LOG_W("db[%u]: unexpected result before Sync: %s", conn->index, PQresultErrorMessage(r));
        conn->failed = 1;
        conn->extra_result = 1;
        PQclear(r);
    }
}

static void on_conn_read(h2o_socket_t *sock, const char *err)
{
    db_conn_t *conn = sock->data;
    if (err != NULL) {
        conn_fail(conn, DB_UNAVAILABLE, err);
        return;
    }
    if (!PQconsumeInput(conn->pg)) {
        conn_fail(conn, DB_UNAVAILABLE, PQerrorMessage(conn->pg));
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

static int compare_queries(const void *a, const void *b)
{
    const db_query_t *x = *(db_query_t *const *)a, *y = *(db_query_t *const *)b;
    /* Writes first (they become the rows of the one batch call), grouped by
     * client in ascending id, keeping arrival order among one client's
     * requests: each client's balance evolves in the order its requests
     * came. (Deadlock freedom does not rest on this order: the batch call
     * locks its clients in ascending id itself.) */
    if (x->kind != y->kind)
        return x->kind == DB_QUERY_TRANSACAO ? -1 : 1;
    if (x->client_id != y->client_id)
        return x->client_id < y->client_id ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Writes "{a,b,c}" into buf, which has room for every value. */
static char *format_int_array(char *buf, db_query_t **qs, size_t n, int valores)
{
    char *p = buf;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        p += valores ? sprintf(p, "%" PRId64, qs[i]->valor) : sprintf(p, "%" PRId32, qs[i]->client_id);
    }
    *p++ = '}';
    *p = '\0';
    return buf;
}

/* The descricoes travel as one JSON array of strings, so that jansson does
 * the escaping (PostgreSQL's array literal syntax would need a hand-written
 * escaper). NULL if out of memory. */
static char *format_descricoes(db_query_t **qs, size_t n)
{
    json_t *arr = json_array();
    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        /* _nocheck: request.c has already validated the UTF-8. */
        if (json_array_append_new(arr, json_stringn_nocheck(qs[i]->descricao, qs[i]->descricao_len)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

static int conn_send_writes(db_conn_t *conn, size_t nwrites)
{
    db_query_t **w = conn->batch;
    for (size_t i = 0; i < nwrites; i++)
        conn->tipos_text[i] = w[i]->tipo;
    conn->tipos_text[nwrites] = '\0';
    char *descricoes = format_descricoes(w, nwrites);
    if (descricoes == NULL)
        return 0;
    const char *params[4] = {format_int_array(conn->ids_text, w, nwrites, 0),
                             format_int_array(conn->valores_text, w, nwrites, 1), conn->tipos_text,
                             descricoes};
    /* libpq copies the parameters into its output buffer at once. */
    const statement_t *st = &statements[DB_QUERY_TRANSACAO];
    int ok = PQsendQueryPrepared(conn->pg, st->name, st->nparams, params, NULL, NULL, 0);
    free(descricoes);
    return ok;
}

static int conn_send_extrato(db_conn_t *conn, const db_query_t *q)
{
    char id[16];
    snprintf(id, sizeof(id), "%" PRId32, q->client_id);
    const char *params[1] = {id};
    const statement_t *st = &statements[DB_QUERY_EXTRATO];
    return PQsendQueryPrepared(conn->pg, st->name, st->nparams, params, NULL, NULL, 0);
}

static void conn_send_batch(db_conn_t *conn)
{
    db_pool_t *pool = conn->pool;
    size_t n = 0;
    while (n < pool->cfg->max_batch && !h2o_linklist_is_empty(&pool->waiting)) {
        db_query_t *q = H2O_STRUCT_FROM_MEMBER(db_query_t, link, pool->waiting.next);
        assert(q->link.next != NULL && q->link.prev != NULL); /* a linked node (helps the analyzer too) */
        h2o_linklist_unlink(&q->link);
        conn->batch[n++] = q;
    }
    qsort(conn->batch, n, sizeof(db_query_t *), compare_queries);
    size_t nwrites = 0;
    while (nwrites < n && conn->batch[nwrites]->kind == DB_QUERY_TRANSACAO)
        nwrites++;
    conn->nbatch = n;
    conn->nwrites = nwrites;
    conn->nsent = (nwrites > 0 ? 1 : 0) + (n - nwrites);
    conn->ndone = 0;
    conn->failed = conn->extra_result = 0;
    conn->state = CONN_BUSY;
    conn_arm_deadline(conn);

    int ok = nwrites == 0 || conn_send_writes(conn, nwrites);
    for (size_t i = nwrites; ok && i < n; i++)
        ok = conn_send_extrato(conn, conn->batch[i]);
    if (!ok || !PQpipelineSync(conn->pg)) {
        conn_fail(conn, DB_UNAVAILABLE, PQerrorMessage(conn->pg));
        return;
    }
    conn_flush(conn);
}

/* ---- the pool ------------------------------------------------------------ */

db_pool_t *db_pool_create(h2o_loop_t *loop, const config_t *cfg)
{
    db_pool_t *pool = h2o_mem_alloc(sizeof(*pool));
    memset(pool, 0, sizeof(*pool));
    pool->loop = loop;
    pool->cfg = cfg;
    h2o_linklist_init_anchor(&pool->waiting);
    h2o_timeout_init(loop, &pool->deadline, cfg->db_timeout_ms);
    for (size_t i = 0; i < BACKOFF_STEPS; i++)
        h2o_timeout_init(loop, &pool->backoff[i], backoff_ms[i]);
    pool->nconns = cfg->db_connections;
    pool->conns = h2o_mem_alloc(sizeof(db_conn_t) * pool->nconns);
    memset(pool->conns, 0, sizeof(db_conn_t) * pool->nconns);
    for (size_t i = 0; i < pool->nconns; i++) {
        db_conn_t *conn = &pool->conns[i];
        conn->pool = pool;
        conn->index = (unsigned)i;
        conn->state = CONN_DOWN;
        conn->pg_fd = -1;
        conn->timer.cb = on_conn_timer;
        size_t max = cfg->max_batch;
        conn->batch = h2o_mem_alloc(sizeof(db_query_t *) * max);
        conn->results = h2o_mem_alloc(sizeof(PGresult *) * (max + STATEMENT_COUNT));
        memset(conn->results, 0, sizeof(PGresult *) * (max + STATEMENT_COUNT));
        /* "{" + max values of up to 20 characters and a comma + "}" + NUL */
        conn->ids_text = h2o_mem_alloc(max * 21 + 3);
        conn->valores_text = h2o_mem_alloc(max * 21 + 3);
        conn->tipos_text = h2o_mem_alloc(max + 1);
    }
    return pool;
}

void db_pool_start(db_pool_t *pool)
{
    for (size_t i = 0; i < pool->nconns; i++)
        conn_connect(&pool->conns[i]);
}

db_submit_t db_pool_submit(db_pool_t *pool, db_query_t *q)
{
    if (pool->closing || !db_pool_is_up(pool))
        return DB_SUBMIT_UNAVAILABLE;
    if (pool->pending >= pool->cfg->max_pending)
        return DB_SUBMIT_OVERLOADED;
    q->seq = pool->next_seq++;
    q->result = NULL;
    h2o_linklist_insert(&pool->waiting, &q->link);
    pool->pending++;
    return DB_SUBMIT_QUEUED;
}

void db_pool_dispatch(db_pool_t *pool)
{
    for (size_t i = 0; i < pool->nconns && !h2o_linklist_is_empty(&pool->waiting); i++) {
        if (pool->conns[i].state == CONN_READY)
            conn_send_batch(&pool->conns[i]);
    }
}

size_t db_pool_pending(const db_pool_t *pool)
{
    return pool->pending;
}

void db_pool_destroy(db_pool_t *pool)
{
    pool->closing = 1;
    for (size_t i = 0; i < pool->nconns; i++) {
        db_conn_t *conn = &pool->conns[i];
        conn_close(conn, DB_UNAVAILABLE);
        free(conn->batch);
        free(conn->results);
        free(conn->ids_text);
        free(conn->valores_text);
        free(conn->tipos_text);
    }
    pool_fail_waiting(pool);
    h2o_timeout_dispose(pool->loop, &pool->deadline);
    for (size_t i = 0; i < BACKOFF_STEPS; i++)
        h2o_timeout_dispose(pool->loop, &pool->backoff[i]);
    free(pool->conns);
    free(pool);
}

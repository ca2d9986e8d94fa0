/*
 * handlers.c - HTTP endpoints on top of request.c (validation) and db.c.
 *
 * Every response carries a Content-Length: h2o 2.2.5 closes a keep-alive
 * connection after any non-200 response without one.
 */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "fmt.h"
#include "log.h"
#include "request.h"

struct api_handler {
    h2o_handler_t super;
    db_pool_t *pool;
    metrics_t *metrics;
    int draining;
    uint64_t last_request_at;
};

/* One per request that waits for the database. Allocated with malloc: it may
 * outlive the h2o request if the client goes away (then `req` is NULL). */
typedef struct {
    db_query_t query;
    api_handler_t *handler;
    uint64_t arrived_us; /* clock_us() when the request reached the handler */
    h2o_req_t *req;
    void **req_slot; /* a pointer in req->pool that h2o clears when the request dies */
    transacao_t tx;  /* the validated body; query.tx points here */
    char idem_key[REQUEST_IDEM_KEY_MAX + 1];
} pending_t;

#define JSON_ERROR(msg) "{\"erro\":\"" msg "\"}"

static void send_json(h2o_req_t *req, int status, const char *reason, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, len);
}

static void send_error(h2o_req_t *req, int status, const char *reason, const char *body)
{
    send_json(req, status, reason, body, strlen(body));
}

/* 503 + Retry-After is only ever sent for work that provably did not
 * happen: a client that obeys it never moves money twice. */
static void send_not_done(h2o_req_t *req, const char *body)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    send_error(req, 503, "Service Unavailable", body);
}

/* A write that reached the database and whose commit nobody can vouch for:
 * no Retry-After, and the body says how to find out. */
static void send_unknown(h2o_req_t *req)
{
    send_error(req, 504, "Gateway Timeout",
               JSON_ERROR("outcome unknown: the transaction may or may not have been applied; check GET "
                          "/clientes/{id}/extrato, or retry with the same Idempotency-Key"));
}

/* ---- turning database answers into responses ------------------------- */

static void mark_replayed(h2o_req_t *req)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("idempotent-replayed"), 0, NULL,
                          H2O_STRLIT("true"));
}

static void respond_transacao(h2o_req_t *req, const db_query_t *q)
{
    switch (q->answer.tx.status) {
    case TX_NO_CLIENT:
        send_error(req, 404, "Not Found", JSON_ERROR("cliente nao encontrado"));
        return;
    case TX_KEY_CONFLICT:
        send_error(req, 422, "Unprocessable Entity",
                   JSON_ERROR("Idempotency-Key already used for a different request"));
        return;
    case TX_REPLAY_REFUSED:
        mark_replayed(req);
        /* fall through */
    case TX_REFUSED:
        send_error(req, 422, "Unprocessable Entity", JSON_ERROR("limite insuficiente"));
        return;
    case TX_REPLAY_APPLIED:
        mark_replayed(req);
        /* fall through */
    case TX_APPLIED:
        break;
    }
    char body[sizeof("{\"limite\":,\"saldo\":}") + 2 * FMT_INT64_MAX_LEN];
    char *p = fmt_lit(body, "{\"limite\":");
    p = fmt_lit(fmt_i64(p, q->answer.tx.limite), ",\"saldo\":");
    p = fmt_i64(p, q->answer.tx.saldo);
    *p++ = '}';
    send_json(req, 200, "OK", body, (size_t)(p - body));
}

static void respond_extrato(h2o_req_t *req, const db_query_t *q)
{
    if (q->answer.extrato.json == NULL) {
        send_error(req, 404, "Not Found", JSON_ERROR("cliente nao encontrado"));
        return;
    }
    send_json(req, 200, "OK", q->answer.extrato.json, q->answer.extrato.len);
}

static const char *not_done_body(db_cause_t cause)
{
    switch (cause) {
    case DB_CAUSE_QUEUE_TIMEOUT:
        return JSON_ERROR("not done: timed out waiting for the database; safe to retry");
    case DB_CAUSE_ROLLED_BACK:
        return JSON_ERROR("not done: the database refused or timed out, nothing was applied; safe to retry");
    default:
        return JSON_ERROR("not done: database unavailable; safe to retry");
    }
}

static void respond_outcome(h2o_req_t *req, db_query_t *q)
{
    switch (q->outcome) {
    case DB_OK:
        if (q->kind == DB_QUERY_TRANSACAO)
            respond_transacao(req, q);
        else
            respond_extrato(req, q);
        return;
    case DB_NOT_DONE:
        send_not_done(req, not_done_body(q->cause));
        return;
    case DB_UNKNOWN:
        send_unknown(req);
        return;
    }
}

/* Server-Timing (the W3C header browsers and load tools show): time queued
 * before the round trip, the round trip itself, and the request's whole
 * wait for the database, in milliseconds with microsecond digits. */
#define SERVER_TIMING_MAX (sizeof("queue;dur=, db;dur=, total;dur=") + 3 * (FMT_INT64_MAX_LEN + 4))

static void add_server_timing(h2o_req_t *req, const db_query_t *q)
{
    uint64_t sent = q->sent_at_us != 0 ? q->sent_at_us : q->done_at_us;
    char *v = h2o_mem_alloc_pool(&req->pool, SERVER_TIMING_MAX);
    char *p = fmt_ms(fmt_lit(v, "queue;dur="), sent - q->queued_at_us);
    p = fmt_ms(fmt_lit(p, ", db;dur="), q->done_at_us - sent);
    p = fmt_ms(fmt_lit(p, ", total;dur="), q->done_at_us - q->queued_at_us);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("server-timing"), 0, NULL, v,
                          (size_t)(p - v));
}

static metrics_cause_t metrics_cause(const db_query_t *q)
{
    if (q->outcome == DB_OK)
        return METRICS_CAUSE_NONE;
    switch (q->cause) {
    case DB_CAUSE_QUEUE_TIMEOUT:
        return METRICS_CAUSE_QUEUE_TIMEOUT;
    case DB_CAUSE_NOT_SENT:
        return METRICS_CAUSE_NOT_SENT;
    case DB_CAUSE_ROLLED_BACK:
        return METRICS_CAUSE_ROLLED_BACK;
    case DB_CAUSE_CONN_LOST:
        return METRICS_CAUSE_CONN_LOST;
    case DB_CAUSE_DEADLINE:
        return METRICS_CAUSE_DEADLINE;
    case DB_CAUSE_MALFORMED:
        return METRICS_CAUSE_MALFORMED;
    case DB_CAUSE_NONE:
        break;
    }
    return METRICS_CAUSE_NONE;
}

static void on_query_done(db_query_t *q)
{
    pending_t *p = H2O_STRUCT_FROM_MEMBER(pending_t, query, q);
    metrics_route_t route = q->kind == DB_QUERY_TRANSACAO ? METRICS_ROUTE_TRANSACAO : METRICS_ROUTE_EXTRATO;
    int status = 499; /* the client went away before its answer */
    if (p->req != NULL) {
        /* Unhook first: the response may end the request, whose disposal
         * must then not reach back into `p`. */
        *p->req_slot = NULL;
        add_server_timing(p->req, q);
        respond_outcome(p->req, q);
        /* h2o's evloop completes a write from the loop, never inside
         * h2o_send: the request is still alive here. */
        status = p->req->res.status;
    }
    metrics_request_done(p->handler->metrics, route, status, metrics_cause(q), clock_us() - p->arrived_us);
    free(p);
}

static void on_req_disposed(void *slot)
{
    pending_t *p = *(pending_t **)slot;
    if (p != NULL)
        p->req = NULL;
}

/* ---- the handler ----------------------------------------------------- */

static pending_t *pending_new(api_handler_t *self, h2o_req_t *req, uint64_t arrived_us, db_query_kind_t kind,
                              int32_t client_id)
{
    pending_t *p = h2o_mem_alloc(sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->handler = self;
    p->arrived_us = arrived_us;
    p->req = req;
    p->req_slot = h2o_mem_alloc_shared(&req->pool, sizeof(pending_t *), on_req_disposed);
    *p->req_slot = p;
    p->query.kind = kind;
    p->query.client_id = client_id;
    p->query.on_done = on_query_done;
    return p;
}

/* Queues `p` for the database, or answers 503 at once. Returns 1 if it was
 * queued (then on_query_done answers and counts it); else 0, with the
 * refusal's cause in *refusal. */
static int submit(api_handler_t *self, h2o_req_t *req, pending_t *p, metrics_cause_t *refusal)
{
    db_submit_t st = db_pool_submit(self->pool, &p->query);
    if (st == DB_SUBMIT_QUEUED)
        return 1;
    *p->req_slot = NULL;
    free(p);
    if (st == DB_SUBMIT_OVERLOADED) {
        *refusal = METRICS_CAUSE_MAX_PENDING;
        send_not_done(req, JSON_ERROR("not done: overloaded; safe to retry"));
    } else {
        *refusal = METRICS_CAUSE_DB_DOWN;
        send_not_done(req, not_done_body(DB_CAUSE_NOT_SENT));
    }
    return 0;
}

/* Finds the request's Idempotency-Key. 0 with *key NULL if there is none,
 * -1 if it is malformed or repeated. */
static int find_idem_key(h2o_req_t *req, const char **key, size_t *key_len)
{
    *key = NULL;
    ssize_t at = h2o_find_header_by_str(&req->headers, H2O_STRLIT("idempotency-key"), -1);
    if (at < 0)
        return 0;
    if (h2o_find_header_by_str(&req->headers, H2O_STRLIT("idempotency-key"), at) >= 0)
        return -1;
    const h2o_iovec_t *v = &req->headers.entries[at].value;
    return idempotency_key_parse(v->base, v->len, key, key_len);
}

/* Validates and queues one transaction (see submit for the return). */
static int handle_transacao(api_handler_t *self, h2o_req_t *req, uint64_t arrived_us, int32_t client_id,
                            metrics_cause_t *refusal)
{
    const char *key;
    size_t key_len;
    if (find_idem_key(req, &key, &key_len) != 0) {
        send_error(req, 400, "Bad Request",
                   JSON_ERROR("Idempotency-Key must be one value of 1 to 255 visible ASCII characters"));
        return 0;
    }
    transacao_t tx;
    body_error_t err =
        transacao_parse(req->entity.base != NULL ? req->entity.base : "", req->entity.len, &tx);
    if (err != BODY_OK) {
        char body[128];
        int n = snprintf(body, sizeof(body), "{\"erro\":\"%s\"}", body_error_message(err));
        /* body_error_message returns constants free of quotes and backslashes,
         * so they need no JSON escaping. */
        send_json(req, 422, "Unprocessable Entity", body, (size_t)n);
        return 0;
    }
    pending_t *p = pending_new(self, req, arrived_us, DB_QUERY_TRANSACAO, client_id);
    p->tx = tx;
    p->query.tx = &p->tx;
    if (key != NULL) {
        memcpy(p->idem_key, key, key_len);
        p->idem_key[key_len] = '\0';
        p->query.idem_key = p->idem_key;
        p->query.idem_key_len = key_len;
    }
    return submit(self, req, p, refusal);
}

static int on_req(h2o_handler_t *h, h2o_req_t *req)
{
    api_handler_t *self = (api_handler_t *)h;
    self->last_request_at = h2o_now(req->conn->ctx->loop);
    uint64_t arrived_us = clock_us();
    int queued = 0;
    metrics_cause_t refusal = METRICS_CAUSE_NONE;
    if (self->draining)
        req->http1_is_persistent = 0;
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    route_t route = route_match(req->method.base, req->method.len, req->path.base, path_len);

    switch (route.kind) {
    case ROUTE_TRANSACAO:
        queued = handle_transacao(self, req, arrived_us, route.client_id, &refusal);
        break;
    case ROUTE_EXTRATO:
        queued = submit(self, req, pending_new(self, req, arrived_us, DB_QUERY_EXTRATO, route.client_id),
                        &refusal);
        break;
    case ROUTE_METHOD_NOT_ALLOWED:
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, route.allow,
                       strlen(route.allow));
        send_error(req, 405, "Method Not Allowed", JSON_ERROR("metodo nao permitido"));
        break;
    case ROUTE_NOT_FOUND:
        send_error(req, 404, "Not Found", JSON_ERROR("nao encontrado"));
        break;
    }
    /* Answered without the database: counted now (a queued request is
     * counted when its answer comes, in on_query_done). The request is
     * still alive: h2o completes writes from the loop. */
    if (!queued)
        metrics_request_done(self->metrics,
                             route.kind == ROUTE_TRANSACAO ? METRICS_ROUTE_TRANSACAO
                             : route.kind == ROUTE_EXTRATO ? METRICS_ROUTE_EXTRATO
                                                           : METRICS_ROUTE_OTHER,
                             req->res.status, refusal, clock_us() - arrived_us);
    return 0;
}

api_handler_t *handlers_register(h2o_hostconf_t *hostconf, db_pool_t *pool, metrics_t *metrics)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
    api_handler_t *handler = (api_handler_t *)h2o_create_handler(pathconf, sizeof(*handler));
    handler->super.on_req = on_req;
    handler->pool = pool;
    handler->metrics = metrics;
    handler->draining = 0;
    handler->last_request_at = 0;
    return handler;
}

void handlers_start_draining(api_handler_t *handler)
{
    handler->draining = 1;
}

uint64_t handlers_last_request_at(const api_handler_t *handler)
{
    return handler->last_request_at;
}

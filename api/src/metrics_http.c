/*
 * metrics_http.c - GET /metrics on METRICS_LISTEN (see metrics_http.h).
 *
 * A scrape renders the whole registry (a few hundred lines, tens of
 * microseconds) on the loop; a client that connects and stalls holds only
 * its socket and is closed after METRICS_IDLE_TIMEOUT_MS.
 */
#include "metrics_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "log.h"

/* Header read and keep-alive idle timeout of a metrics connection. */
#define METRICS_IDLE_TIMEOUT_MS 5000
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_server {
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    const char *spec;
};

typedef struct {
    h2o_handler_t super;
    metrics_t *metrics;
} metrics_handler_t;

static void send_text(h2o_req_t *req, int status, const char *reason, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT(METRICS_CONTENT_TYPE));
    h2o_send_inline(req, body, len);
}

static int on_req(h2o_handler_t *h, h2o_req_t *req)
{
    metrics_handler_t *self = (metrics_handler_t *)h;
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    if (!h2o_memis(req->path.base, path_len, H2O_STRLIT("/metrics"))) {
        send_text(req, 404, "Not Found", H2O_STRLIT("not found; try /metrics\n"));
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        send_text(req, 405, "Method Not Allowed", H2O_STRLIT("method not allowed\n"));
        return 0;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out == NULL) {
        send_text(req, 500, "Internal Server Error", H2O_STRLIT("out of memory\n"));
        return 0;
    }
    int failed = metrics_render(self->metrics, out) != 0 || metrics_render_process(out) != 0;
    if (fclose(out) != 0 || failed)
        send_text(req, 500, "Internal Server Error", H2O_STRLIT("rendering failed\n"));
    else
        send_text(req, 200, "OK", buf, len); /* copied into the request's pool */
    free(buf);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    metrics_server_t *srv = listener->data;
    if (err == NULL)
        listener_accept(listener, &srv->accept_ctx);
}

metrics_server_t *metrics_server_start(h2o_loop_t *loop, const char *spec, metrics_t *m)
{
    int fd = listener_open(spec, NULL);
    if (fd < 0)
        return NULL;
    metrics_server_t *srv = h2o_mem_alloc(sizeof(*srv));
    memset(srv, 0, sizeof(*srv));
    srv->spec = spec;
    h2o_config_init(&srv->conf);
    srv->conf.max_request_entity_size = 1024;
    srv->conf.http1.req_timeout = METRICS_IDLE_TIMEOUT_MS;
    srv->conf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&srv->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    metrics_handler_t *handler = (metrics_handler_t *)h2o_create_handler(path, sizeof(*handler));
    handler->super.on_req = on_req;
    handler->metrics = m;
    /* A second context on the same loop: its own timeouts and settings. */
    h2o_context_init(&srv->ctx, loop, &srv->conf);
    srv->accept_ctx.ctx = &srv->ctx;
    srv->accept_ctx.hosts = srv->conf.hosts;
    srv->listener = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    srv->listener->data = srv;
    h2o_socket_read_start(srv->listener, on_accept);
    LOG_I("metrics: listening on %s", spec);
    return srv;
}

void metrics_server_stop(metrics_server_t *srv)
{
    if (srv == NULL || srv->listener == NULL)
        return;
    h2o_socket_read_stop(srv->listener);
    h2o_socket_close(srv->listener);
    srv->listener = NULL;
    listener_unlink(srv->spec);
}

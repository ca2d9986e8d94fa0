/*
 * main.c - one replica: one h2o event loop serving HTTP/1.1 and driving the
 * PostgreSQL pipeline on the same thread.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "db.h"
#include "handlers.h"
#include "listener.h"
#include "log.h"
#include "metrics_http.h"

/* Largest accepted request body; a valid one is under 100 bytes. Bigger
 * bodies get 413 from h2o without reaching the handler. */
#define MAX_BODY_BYTES 16384
/* On SIGTERM, the replica exits once nothing is pending and no request has
 * arrived for this long: nginx may still send on its keep-alive connections
 * for a moment, and each response now closes the connection it came on. */
#define DRAIN_QUIET_MS 200

/* Set by the signal handler, read by the loop: the only process-wide flag. */
static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Everything the loop owns. */
typedef struct {
    config_t cfg;
    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    db_pool_t *pool;
    api_handler_t *handler;
    metrics_t metrics;                /* the registry, used only when metrics_server is on */
    metrics_server_t *metrics_server; /* METRICS_LISTEN, or NULL */
} server_t;

static void on_accept(h2o_socket_t *listener, const char *err)
{
    server_t *srv = listener->data;
    if (err == NULL)
        listener_accept(listener, &srv->accept_ctx);
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return -1;
    /* No SA_RESTART: a signal interrupts epoll_wait so the loop notices. */
    sa.sa_handler = on_signal;
    if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
        sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    return 0;
}

/* The metrics' gauges, read from the pool when a scrape renders them. */
static void read_gauges(void *ctx, metrics_gauges_t *out)
{
    const server_t *srv = ctx;
    out->pending = db_pool_pending(srv->pool);
    out->queued = db_pool_queued(srv->pool);
    out->max_pending = srv->cfg.max_pending;
    out->connections_up = db_pool_connections_up(srv->pool);
    out->connections = srv->cfg.db_connections;
}

/* METRICS_LISTEN: opened at once, before the database is up, so that a
 * replica waiting for its database can be watched too. Serving matters
 * more than being watched: if it cannot be opened (e.g. the port is still
 * held by a predecessor) the replica serves without it. */
static void server_start_metrics(server_t *srv)
{
    if (srv->cfg.metrics_listen == NULL)
        return;
    srv->metrics_server = metrics_server_start(srv->ctx.loop, srv->cfg.metrics_listen, &srv->metrics);
    if (srv->metrics_server == NULL)
        LOG_W("%s: serving without metrics (METRICS_LISTEN=%s could not be opened)", srv->cfg.name,
              srv->cfg.metrics_listen);
}

static void server_start(server_t *srv)
{
    h2o_config_init(&srv->globalconf);
    srv->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("rinha"));
    srv->globalconf.max_request_entity_size = MAX_BODY_BYTES;
    /* Must be set before the context copies it. It is also the keep-alive
     * idle timeout: nginx's upstream keepalive_timeout is kept shorter. */
    srv->globalconf.http1.req_timeout = srv->cfg.idle_timeout_ms;
    /* HTTP/1.1 only: nginx speaks HTTP/1.1 to the replicas, and the h2c
     * upgrade of this old h2o is attack surface that nothing needs. */
    srv->globalconf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *hostconf =
        h2o_config_register_host(&srv->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);

    h2o_evloop_t *loop = h2o_evloop_create();
    metrics_init(&srv->metrics);
    metrics_set_gauges(&srv->metrics, read_gauges, srv);
    metrics_t *metrics = srv->cfg.metrics_listen != NULL ? &srv->metrics : NULL;
    srv->pool = db_pool_create(loop, &srv->cfg, metrics);
    srv->handler = handlers_register(hostconf, srv->pool, metrics);
    h2o_context_init(&srv->ctx, loop, &srv->globalconf);
    srv->accept_ctx.ctx = &srv->ctx;
    srv->accept_ctx.hosts = srv->globalconf.hosts;

    db_pool_start(srv->pool);
}

/* Opens the listener. Done only once the database pipeline is ready: until
 * then nginx finds no socket and sends everything to the other replica (a
 * refused connect is retried even for a POST), instead of this replica
 * answering 503 while it connects. */
static int server_listen(server_t *srv)
{
    int fd = listener_open(srv->cfg.listen, srv->cfg.listen_group);
    if (fd < 0)
        return -1;
    srv->listener = h2o_evloop_socket_create(srv->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    srv->listener->data = srv;
    h2o_socket_read_start(srv->listener, on_accept);
    LOG_I("%s: listening on %s", srv->cfg.name, srv->cfg.listen);
    return 0;
}

/* Runs one loop iteration, then sends what the iteration queued: every
 * request parsed in the iteration shares the next round trip. */
static void server_turn(server_t *srv, int32_t max_wait_ms)
{
    if (h2o_evloop_run(srv->ctx.loop, max_wait_ms) != 0 && errno != EINTR)
        LOG_W("event loop: %s", strerror(errno));
    db_pool_dispatch(srv->pool);
}

/* SIGTERM: stop accepting, close keep-alive connections as their next
 * response goes out, let in-flight requests finish (bounded by the database
 * deadline), then exit once the replica has been quiet for a moment. */
static void server_drain(server_t *srv)
{
    LOG_I("%s: draining %zu pending request(s)", srv->cfg.name, db_pool_pending(srv->pool));
    if (srv->listener != NULL) {
        h2o_socket_read_stop(srv->listener);
        h2o_socket_close(srv->listener);
        listener_unlink(srv->cfg.listen);
    }
    /* Its successor may bind the same address at once. */
    metrics_server_stop(srv->metrics_server);
    handlers_start_draining(srv->handler);

    h2o_loop_t *loop = srv->ctx.loop;
    uint64_t deadline = h2o_now(loop) + srv->cfg.db_timeout_ms + 1000;
    uint64_t quiet_since = h2o_now(loop);
    while (h2o_now(loop) < deadline) {
        uint64_t last = handlers_last_request_at(srv->handler);
        if (last > quiet_since)
            quiet_since = last;
        if (db_pool_pending(srv->pool) == 0 && h2o_now(loop) - quiet_since >= DRAIN_QUIET_MS)
            break;
        server_turn(srv, 10);
    }
    db_pool_destroy(srv->pool);
    LOG_I("%s: stopped", srv->cfg.name);
}

/* Each keep-alive connection from nginx is a descriptor: take the hard
 * limit rather than the usual soft 1024, so a burst of connections is not
 * refused by the kernel. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        LOG_W("getrlimit: %s", strerror(errno));
        return;
    }
    if (rl.rlim_cur == rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        LOG_W("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
}

int main(void)
{
    static server_t srv; /* large; lives for the whole process */
    if (config_load(&srv.cfg) != 0)
        return 2;
    log_set_level((log_level_t)srv.cfg.log_level);
    raise_fd_limit();
    if (install_signals() != 0) {
        LOG_E("sigaction: %s", strerror(errno));
        return 1;
    }
    server_start(&srv);
    server_start_metrics(&srv);
    if (!db_pool_is_up(srv.pool))
        LOG_I("%s: waiting for the database before listening", srv.cfg.name);
    while (!stop_requested && !db_pool_is_up(srv.pool))
        server_turn(&srv, 100);
    if (!stop_requested && server_listen(&srv) != 0)
        return 1;
    while (!stop_requested)
        server_turn(&srv, 1000);
    server_drain(&srv);
    return 0;
}

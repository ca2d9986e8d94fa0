/*
 * metrics_http.h - serves the registry (metrics.h) as GET /metrics on its
 * own listener (METRICS_LISTEN), on the replica's event loop but with its
 * own h2o configuration and context: nginx never routes to it, and the API
 * listener never serves it.
 */
#ifndef RINHA_METRICS_HTTP_H
#define RINHA_METRICS_HTTP_H

#include <h2o.h>

#include "metrics.h"

typedef struct metrics_server metrics_server_t;

/* Opens `spec` ("host:port" or "unix:/path"; a unix socket gets mode 0660)
 * and serves `m` on `loop` from now on. NULL, with a message, on failure. */
metrics_server_t *metrics_server_start(h2o_loop_t *loop, const char *spec, metrics_t *m);

/* Stops accepting and removes a unix socket file (connections being served
 * finish on their own). */
void metrics_server_stop(metrics_server_t *srv);

#endif

/*
 * handlers.h - the HTTP side: routes a request, validates it, hands it to
 * the database pool and turns the outcome into a response.
 */
#ifndef RINHA_HANDLERS_H
#define RINHA_HANDLERS_H

#include "db.h"

typedef struct api_handler api_handler_t;

/* Registers the single handler that serves every path of `hostconf`;
 * every response it sends is counted in `metrics` (NULL: none). */
api_handler_t *handlers_register(h2o_hostconf_t *hostconf, db_pool_t *pool, metrics_t *metrics);

/* From now on every response asks the client to close its connection, so
 * that nginx stops reusing its keep-alive connections to this replica. */
void handlers_start_draining(api_handler_t *handler);

/* Loop time (ms) at which the last request arrived. */
uint64_t handlers_last_request_at(const api_handler_t *handler);

#endif

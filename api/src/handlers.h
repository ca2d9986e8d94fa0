/*
 * handlers.h - the HTTP side: routes a request, validates it, hands it to
 * the database pool and turns the outcome into a response.
 */
#ifndef RINHA_HANDLERS_H
#define RINHA_HANDLERS_H

#include "db.h"

/* Registers the single handler that serves every path of `hostconf`. */
void handlers_register(h2o_hostconf_t *hostconf, db_pool_t *pool);

#endif

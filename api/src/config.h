/*
 * config.h - the replica's settings, read once from the environment.
 */
#ifndef RINHA_CONFIG_H
#define RINHA_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *listen;       /* LISTEN: "unix:/path" or "host:port" */
    const char *listen_group; /* LISTEN_GROUP: group allowed to connect to a unix LISTEN, or NULL */
    const char *db_conninfo;  /* DATABASE_URL: libpq conninfo string or URI */
    size_t db_connections;    /* DB_CONNECTIONS: pipelined connections per replica */
    size_t max_pending;       /* MAX_PENDING: queued + in-flight requests before 503 */
    size_t max_batch;         /* MAX_BATCH: requests per round trip (one commit) */
    uint64_t
        db_timeout_ms; /* DB_TIMEOUT_MS: the longest a request waits for the database, from its arrival */
    uint64_t idle_timeout_ms; /* IDLE_TIMEOUT_MS: HTTP keep-alive idle timeout */
    int log_level;            /* LOG_LEVEL: error|warn|info|debug */
    const char *name;         /* REPLICA_NAME: shown in logs */
    const char
        *metrics_listen; /* METRICS_LISTEN: "unix:/path" or "host:port" for GET /metrics, or NULL (off) */
} config_t;

/* Fills `cfg` from the environment; on an invalid value prints why on
 * stderr and returns -1. */
int config_load(config_t *cfg);

#endif

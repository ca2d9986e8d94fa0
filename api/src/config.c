#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : fallback;
}

/* Reads an unsigned integer in [min, max]; -1 (with a message) if invalid. */
static int env_uint(const char *name, uint64_t fallback, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        *out = fallback;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || v[0] == '-' || n < min || n > max) {
        fprintf(stderr, "config: %s=%s is not an integer in [%llu, %llu]\n", name, v, (unsigned long long)min,
                (unsigned long long)max);
        return -1;
    }
    *out = n;
    return 0;
}

int config_load(config_t *cfg)
{
    uint64_t conns, pending, batch;
    cfg->listen = env_or("LISTEN", "127.0.0.1:8080");
    cfg->listen_group = env_or("LISTEN_GROUP", NULL);
    cfg->db_conninfo = env_or("DATABASE_URL", "host=/run/rinha dbname=rinha user=rinha");
    cfg->name = env_or("REPLICA_NAME", "api");
    cfg->metrics_listen = env_or("METRICS_LISTEN", NULL);
    if (env_uint("DB_CONNECTIONS", 1, 1, 64, &conns) != 0 ||
        env_uint("MAX_PENDING", 1024, 1, 1000000, &pending) != 0 ||
        env_uint("MAX_BATCH", 256, 1, 65536, &batch) != 0 ||
        env_uint("DB_TIMEOUT_MS", 2000, 10, 600000, &cfg->db_timeout_ms) != 0 ||
        env_uint("IDLE_TIMEOUT_MS", 60000, 100, 3600000, &cfg->idle_timeout_ms) != 0)
        return -1;
    cfg->db_connections = conns;
    cfg->max_pending = pending;
    cfg->max_batch = batch;

    const char *level = env_or("LOG_LEVEL", "info");
    cfg->log_level = log_level_parse(level);
    if (cfg->log_level < 0) {
        fprintf(stderr, "config: LOG_LEVEL=%s is not one of error, warn, info, debug\n", level);
        return -1;
    }
    return 0;
}

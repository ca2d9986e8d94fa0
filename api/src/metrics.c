/*
 * metrics.c - the registry's hooks and its text exposition (see metrics.h).
 */
#include "metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Upper bounds (inclusive, as Prometheus's `le`) of the latency buckets, in
 * microseconds, and the same as label text in seconds. The last is +Inf. */
static const uint64_t time_le_us[METRICS_TIME_BUCKETS - 1] = {
    50,    100,   250,    500,    1000,   2500,    5000,    10000,
    25000, 50000, 100000, 250000, 500000, 1000000, 1500000, 2500000,
};
static const char *const time_le_label[METRICS_TIME_BUCKETS] = {
    "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",  "0.1",    "0.25",    "0.5",    "1",     "1.5",    "2.5",   "+Inf",
};
static const uint64_t size_le[METRICS_SIZE_BUCKETS - 1] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const char *const size_le_label[METRICS_SIZE_BUCKETS] = {
    "1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "1024", "+Inf",
};

static const int status_codes[METRICS_STATUSES - 1] = {200, 400, 404, 405, 413, 422, 499, 503, 504};
static const char *const status_labels[METRICS_STATUSES] = {"200", "400", "404", "405", "413",
                                                            "422", "499", "503", "504", "other"};
static const char *const route_labels[METRICS_ROUTES] = {"transacao", "extrato", "other"};
static const char *const cause_labels[METRICS_CAUSES] = {
    "none",        "max_pending", "db_down",  "queue_timeout", "not_sent",
    "rolled_back", "conn_lost",   "deadline", "malformed",
};
static const char *const tx_kind_labels[METRICS_TX_KINDS] = {"read", "write"};

void metrics_init(metrics_t *m)
{
    memset(m, 0, sizeof(*m));
}

void metrics_set_gauges(metrics_t *m, metrics_gauges_cb cb, void *ctx)
{
    m->gauges = cb;
    m->gauges_ctx = ctx;
}

static size_t status_index(int status)
{
    for (size_t i = 0; i < METRICS_STATUSES - 1; i++) {
        if (status_codes[i] == status)
            return i;
    }
    return METRICS_STATUSES - 1;
}

const char *metrics_status_label(int status)
{
    return status_labels[status_index(status)];
}

static void time_observe(metrics_time_hist_t *h, uint64_t us)
{
    size_t i = 0;
    while (i < METRICS_TIME_BUCKETS - 1 && us > time_le_us[i])
        i++;
    h->counts[i]++;
    h->sum_us += us;
}

static void size_observe(metrics_size_hist_t *h, uint64_t n)
{
    size_t i = 0;
    while (i < METRICS_SIZE_BUCKETS - 1 && n > size_le[i])
        i++;
    h->counts[i]++;
    h->sum += n;
}

void metrics_request_done(metrics_t *m, metrics_route_t route, int status, metrics_cause_t cause,
                          uint64_t elapsed_us)
{
    if (m == NULL || (unsigned)route >= METRICS_ROUTES)
        return;
    m->requests[route][status_index(status)]++;
    time_observe(&m->request_duration[route], elapsed_us);
    if ((status == 503 || status == 504) && (unsigned)cause < METRICS_CAUSES)
        m->errors[status == 504][cause]++;
}

void metrics_queued(metrics_t *m, uint64_t wait_us)
{
    if (m != NULL)
        time_observe(&m->queue_wait, wait_us);
}

void metrics_round_trip(metrics_t *m, size_t nrequests, uint64_t rtt_us)
{
    if (m == NULL)
        return;
    time_observe(&m->round_trip, rtt_us);
    size_observe(&m->round_trip_requests, nrequests);
}

void metrics_transaction(metrics_t *m, metrics_tx_kind_t kind, size_t nrequests, metrics_tx_end_t end)
{
    if (m == NULL || (unsigned)kind >= METRICS_TX_KINDS)
        return;
    switch (end) {
    case METRICS_TX_COMMITTED:
        size_observe(&m->commit_requests[kind], nrequests);
        break;
    case METRICS_TX_ROLLED_BACK:
        m->rollbacks[kind]++;
        break;
    case METRICS_TX_UNKNOWN:
        m->unknown++;
        break;
    }
}

void metrics_db_connected(metrics_t *m)
{
    if (m != NULL)
        m->connects++;
}

void metrics_db_failed(metrics_t *m)
{
    if (m != NULL)
        m->connection_failures++;
}

/* ---- rendering ------------------------------------------------------------ */

/* fprintf's result, folded: once a write fails the render reports it. */
typedef struct {
    FILE *out;
    int failed;
} writer_t;

#define put(w, ...)                                                                                          \
    do {                                                                                                     \
        if (fprintf((w)->out, __VA_ARGS__) < 0)                                                              \
            (w)->failed = 1;                                                                                 \
    } while (0)

static void header(writer_t *w, const char *name, const char *type, const char *help)
{
    put(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Microseconds as seconds, exactly (no floating point). */
static void put_seconds(writer_t *w, uint64_t us)
{
    put(w, "%" PRIu64 ".%06" PRIu64 "\n", us / 1000000u, us % 1000000u);
}

/* One histogram's lines; `labels` is "" or `key="value",` (with the comma).
 * Its sum is microseconds, printed as seconds, when `sum_is_us`; else a
 * plain count. */
static void put_hist(writer_t *w, const char *name, const char *labels, const uint64_t *counts,
                     const char *const *le, size_t buckets, uint64_t sum, bool sum_is_us)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < buckets; i++) {
        cum += counts[i];
        put(w, "%s_bucket{%sle=\"%s\"} %" PRIu64 "\n", name, labels, le[i], cum);
    }
    /* The labels without their trailing comma, in braces, or nothing. */
    size_t n = strlen(labels);
    const char *open = n > 0 ? "{" : "", *close = n > 0 ? "}" : "";
    int len = n > 0 ? (int)n - 1 : 0;
    put(w, "%s_sum%s%.*s%s ", name, open, len, labels, close);
    if (sum_is_us)
        put_seconds(w, sum);
    else
        put(w, "%" PRIu64 "\n", sum);
    put(w, "%s_count%s%.*s%s %" PRIu64 "\n", name, open, len, labels, close, cum);
}

/* `key="value",` in `buf` (32 bytes: our keys and values are short), the
 * form put_hist takes. */
static const char *label(char buf[32], const char *key, const char *value)
{
    snprintf(buf, 32, "%s=\"%s\",", key, value);
    return buf;
}

static void put_time_hist(writer_t *w, const char *name, const char *labels, const metrics_time_hist_t *h)
{
    put_hist(w, name, labels, h->counts, time_le_label, METRICS_TIME_BUCKETS, h->sum_us, true);
}

static void put_size_hist(writer_t *w, const char *name, const char *labels, const metrics_size_hist_t *h)
{
    put_hist(w, name, labels, h->counts, size_le_label, METRICS_SIZE_BUCKETS, h->sum, false);
}

static void render_http(writer_t *w, const metrics_t *m)
{
    header(w, "rinha_http_requests_total", "counter",
           "Responses sent by the API handler, by route and status (499: the client left first).");
    for (size_t r = 0; r < METRICS_ROUTES; r++) {
        for (size_t s = 0; s < METRICS_STATUSES; s++)
            put(w, "rinha_http_requests_total{route=\"%s\",status=\"%s\"} %" PRIu64 "\n", route_labels[r],
                status_labels[s], m->requests[r][s]);
    }
    header(w, "rinha_http_request_duration_seconds", "histogram",
           "Time from the handler's entry to the response, by route.");
    char labels[32];
    for (size_t r = 0; r < METRICS_ROUTES; r++)
        put_time_hist(w, "rinha_http_request_duration_seconds", label(labels, "route", route_labels[r]),
                      &m->request_duration[r]);
    header(w, "rinha_http_errors_total", "counter",
           "503 (not done: safe to retry) and 504 (outcome unknown) responses, by cause.");
    for (size_t s = 0; s < 2; s++) {
        for (size_t c = 1; c < METRICS_CAUSES; c++)
            put(w, "rinha_http_errors_total{status=\"%s\",cause=\"%s\"} %" PRIu64 "\n", s ? "504" : "503",
                cause_labels[c], m->errors[s][c]);
    }
}

static void render_db(writer_t *w, const metrics_t *m)
{
    header(w, "rinha_db_queue_wait_seconds", "histogram",
           "Time a request waited in the replica before its round trip was sent.");
    put_time_hist(w, "rinha_db_queue_wait_seconds", "", &m->queue_wait);
    header(w, "rinha_db_round_trip_seconds", "histogram",
           "Time from a round trip's send to its last answer (completed round trips).");
    put_time_hist(w, "rinha_db_round_trip_seconds", "", &m->round_trip);
    header(w, "rinha_db_round_trip_requests", "histogram",
           "Requests per round trip (completed round trips).");
    put_size_hist(w, "rinha_db_round_trip_requests", "", &m->round_trip_requests);
    header(w, "rinha_db_commit_requests", "histogram",
           "Requests settled per committed transaction, by kind; _count is the commits.");
    char labels[32];
    for (size_t k = 0; k < METRICS_TX_KINDS; k++)
        put_size_hist(w, "rinha_db_commit_requests", label(labels, "kind", tx_kind_labels[k]),
                      &m->commit_requests[k]);
    header(w, "rinha_db_rollbacks_total", "counter",
           "Transactions the database ended with an error, by kind.");
    for (size_t k = 0; k < METRICS_TX_KINDS; k++)
        put(w, "rinha_db_rollbacks_total{kind=\"%s\"} %" PRIu64 "\n", tx_kind_labels[k], m->rollbacks[k]);
    header(w, "rinha_db_unknown_total", "counter",
           "Write transactions whose commit's fate is unknown (connection lost after the Sync left).");
    put(w, "rinha_db_unknown_total %" PRIu64 "\n", m->unknown);
    header(w, "rinha_db_connects_total", "counter",
           "Database pipelines made ready (first connects and reconnects).");
    put(w, "rinha_db_connects_total %" PRIu64 "\n", m->connects);
    header(w, "rinha_db_connection_failures_total", "counter",
           "Database connections that failed or were lost (each is retried with backoff).");
    put(w, "rinha_db_connection_failures_total %" PRIu64 "\n", m->connection_failures);
}

static void render_gauges(writer_t *w, const metrics_t *m)
{
    if (m->gauges == NULL)
        return;
    metrics_gauges_t g = {0};
    m->gauges(m->gauges_ctx, &g);
    header(w, "rinha_db_pending", "gauge", "Requests queued or in flight (bounded by MAX_PENDING).");
    put(w, "rinha_db_pending %zu\n", g.pending);
    header(w, "rinha_db_queued", "gauge", "Requests waiting for a round trip (the queue depth).");
    put(w, "rinha_db_queued %zu\n", g.queued);
    header(w, "rinha_db_max_pending", "gauge", "MAX_PENDING: beyond it requests get 503 at once.");
    put(w, "rinha_db_max_pending %zu\n", g.max_pending);
    header(w, "rinha_db_connections_up", "gauge", "Database pipelines ready or busy.");
    put(w, "rinha_db_connections_up %zu\n", g.connections_up);
    header(w, "rinha_db_connections", "gauge", "Database connections configured (DB_CONNECTIONS).");
    put(w, "rinha_db_connections %zu\n", g.connections);
}

int metrics_render(metrics_t *m, FILE *out)
{
    writer_t w = {out, 0};
    m->scrapes++;
    render_http(&w, m);
    render_db(&w, m);
    render_gauges(&w, m);
    header(&w, "rinha_metrics_scrapes_total", "counter", "Scrapes of this endpoint, this one included.");
    put(&w, "rinha_metrics_scrapes_total %" PRIu64 "\n", m->scrapes);
    return w.failed ? -1 : 0;
}

/* ---- process metrics, from /proc --------------------------------------------- */

/* Boot time, seconds since the epoch (the btime line of /proc/stat). */
static int boot_time(uint64_t *btime)
{
    FILE *f = fopen("/proc/stat", "re");
    if (f == NULL)
        return -1;
    char line[256];
    int found = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "btime %" SCNu64, btime) == 1) {
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    long n = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* utime (field 14), stime (15), starttime (22) and rss (24) of a
 * /proc/<pid>/stat line. Fields count from 1; the command name (2) is in
 * parentheses and may hold spaces, so counting starts after its ')'. */
static int proc_stat_fields(const char *line, unsigned long long *utime, unsigned long long *stime,
                            unsigned long long *start, unsigned long long *rss)
{
    const char *s = strrchr(line, ')');
    if (s == NULL)
        return -1;
    for (int field = 3; field <= 24; field++) {
        s = strchr(s, ' ');
        if (s == NULL)
            return -1;
        s++;
        unsigned long long v = strtoull(s, NULL, 10);
        switch (field) {
        case 14:
            *utime = v;
            break;
        case 15:
            *stime = v;
            break;
        case 22:
            *start = v;
            break;
        case 24:
            *rss = v;
            break;
        default:
            break;
        }
    }
    return 0;
}

int metrics_render_process(FILE *out)
{
    writer_t w = {out, 0};
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/stat", "re");
    if (f != NULL && ticks > 0 && page > 0) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        unsigned long long utime = 0, stime = 0, start = 0, rss = 0;
        uint64_t btime;
        if (proc_stat_fields(buf, &utime, &stime, &start, &rss) == 0) {
            header(&w, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
            put(&w, "process_cpu_seconds_total %.2f\n", (double)(utime + stime) / (double)ticks);
            header(&w, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
            put(&w, "process_resident_memory_bytes %llu\n", rss * (unsigned long long)page);
            if (boot_time(&btime) == 0) {
                header(&w, "process_start_time_seconds", "gauge",
                       "Start time of the process since the epoch, in seconds.");
                put(&w, "process_start_time_seconds %.2f\n", (double)btime + (double)start / (double)ticks);
            }
        }
    }
    if (f != NULL)
        fclose(f);
    long fds = open_fds();
    if (fds >= 0) {
        header(&w, "process_open_fds", "gauge", "Open file descriptors.");
        put(&w, "process_open_fds %ld\n", fds);
    }
    return w.failed ? -1 : 0;
}

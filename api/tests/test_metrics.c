/*
 * test_metrics.c - unit tests (Check) of the metrics registry: what each
 * hook counts, the histograms' buckets, and the text exposition format
 * (cumulative buckets, +Inf equal to _count, exact _sum, HELP/TYPE once per
 * family). The endpoint's output is also parsed by a real Prometheus parser
 * in tests/metrics.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "unit.h"

/* Renders `m` into a malloc'd string. */
static char *render(metrics_t *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(metrics_render(m, out), 0);
    ck_assert_int_eq(fclose(out), 0);
    return buf;
}

/* The value of the sample line that starts with `series` followed by a
 * space; fails the test if there is none. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        ck_assert_ptr_nonnull(end);
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        line = end + 1;
    }
    ck_abort_msg("no sample %s", series);
    return -1;
}

/* One expected sample: the series (name and labels) and its value. */
typedef struct {
    const char *series;
    double value;
} want_t;

static void expect_samples(const char *text, const want_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double got = sample(text, want[i].series);
        ck_assert_msg(got == want[i].value, "%s is %g, expected %g", want[i].series, got, want[i].value);
    }
}

/* EXPECT_SAMPLES(text, {series, value}, ...): each series has its value. */
#define EXPECT_SAMPLES(text, ...)                                                                            \
    do {                                                                                                     \
        const want_t want_[] = {__VA_ARGS__};                                                                \
        expect_samples((text), want_, sizeof(want_) / sizeof(want_[0]));                                     \
    } while (0)

static int count_lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *line = text; *line != '\0';) {
        if (strncmp(line, prefix, len) == 0)
            n++;
        const char *end = strchr(line, '\n');
        line = end != NULL ? end + 1 : line + strlen(line);
    }
    return n;
}

START_TEST(test_null_registry_is_a_no_op)
{
    metrics_request_done(NULL, METRICS_ROUTE_TRANSACAO, 200, METRICS_CAUSE_NONE, 10);
    metrics_queued(NULL, 1);
    metrics_round_trip(NULL, 3, 100);
    metrics_transaction(NULL, METRICS_TX_WRITE, 3, METRICS_TX_COMMITTED);
    metrics_db_connected(NULL);
    metrics_db_failed(NULL);
}
END_TEST

START_TEST(test_requests_by_route_and_status)
{
    metrics_t m;
    metrics_init(&m);
    metrics_request_done(&m, METRICS_ROUTE_TRANSACAO, 200, METRICS_CAUSE_NONE, 100);
    metrics_request_done(&m, METRICS_ROUTE_TRANSACAO, 200, METRICS_CAUSE_NONE, 100);
    metrics_request_done(&m, METRICS_ROUTE_TRANSACAO, 422, METRICS_CAUSE_NONE, 100);
    metrics_request_done(&m, METRICS_ROUTE_EXTRATO, 404, METRICS_CAUSE_NONE, 100);
    metrics_request_done(&m, METRICS_ROUTE_OTHER, 418, METRICS_CAUSE_NONE, 100);
    metrics_request_done(&m, METRICS_ROUTES, 200, METRICS_CAUSE_NONE, 100); /* out of range: ignored */
    char *t = render(&m);
    EXPECT_SAMPLES(t, {"rinha_http_requests_total{route=\"transacao\",status=\"200\"}", 2},
                   {"rinha_http_requests_total{route=\"transacao\",status=\"422\"}", 1},
                   {"rinha_http_requests_total{route=\"extrato\",status=\"404\"}", 1},
                   {"rinha_http_requests_total{route=\"other\",status=\"other\"}", 1},
                   {"rinha_http_requests_total{route=\"extrato\",status=\"200\"}", 0});
    ck_assert_str_eq(metrics_status_label(499), "499");
    ck_assert_str_eq(metrics_status_label(0), "other");
    free(t);
}
END_TEST

START_TEST(test_errors_by_status_and_cause)
{
    metrics_t m;
    metrics_init(&m);
    metrics_request_done(&m, METRICS_ROUTE_TRANSACAO, 503, METRICS_CAUSE_MAX_PENDING, 5);
    metrics_request_done(&m, METRICS_ROUTE_TRANSACAO, 503, METRICS_CAUSE_MAX_PENDING, 5);
    metrics_request_done(&m, METRICS_ROUTE_EXTRATO, 503, METRICS_CAUSE_ROLLED_BACK, 5);
    metrics_request_done(&m, METRICS_ROUTE_TRANSACAO, 504, METRICS_CAUSE_CONN_LOST, 5);
    metrics_request_done(&m, METRICS_ROUTE_TRANSACAO, 200, METRICS_CAUSE_CONN_LOST, 5); /* not an error */
    char *t = render(&m);
    EXPECT_SAMPLES(t, {"rinha_http_errors_total{status=\"503\",cause=\"max_pending\"}", 2},
                   {"rinha_http_errors_total{status=\"503\",cause=\"rolled_back\"}", 1},
                   {"rinha_http_errors_total{status=\"504\",cause=\"conn_lost\"}", 1},
                   {"rinha_http_errors_total{status=\"503\",cause=\"conn_lost\"}", 0});
    ck_assert_int_eq(count_lines_starting(t, "rinha_http_errors_total{status=\"503\",cause=\"none\"}"), 0);
    free(t);
}
END_TEST

START_TEST(test_time_histogram_buckets_are_inclusive_and_cumulative)
{
    metrics_t m;
    metrics_init(&m);
    metrics_queued(&m, 0);       /* <= 50 us */
    metrics_queued(&m, 50);      /* le is inclusive */
    metrics_queued(&m, 51);      /* next bucket: 100 us */
    metrics_queued(&m, 1000);    /* 1 ms */
    metrics_queued(&m, 9000000); /* beyond 2.5 s: +Inf only */
    char *t = render(&m);
    EXPECT_SAMPLES(t, {"rinha_db_queue_wait_seconds_bucket{le=\"5e-05\"}", 2},
                   {"rinha_db_queue_wait_seconds_bucket{le=\"0.0001\"}", 3},
                   {"rinha_db_queue_wait_seconds_bucket{le=\"0.0005\"}", 3},
                   {"rinha_db_queue_wait_seconds_bucket{le=\"0.001\"}", 4},
                   {"rinha_db_queue_wait_seconds_bucket{le=\"2.5\"}", 4},
                   {"rinha_db_queue_wait_seconds_bucket{le=\"+Inf\"}", 5},
                   {"rinha_db_queue_wait_seconds_count", 5});
    /* 0 + 50 + 51 + 1000 + 9000000 us, printed exactly */
    ck_assert_ptr_nonnull(strstr(t, "\nrinha_db_queue_wait_seconds_sum 9.001101\n"));
    free(t);
}
END_TEST

START_TEST(test_round_trips_and_commits)
{
    metrics_t m;
    metrics_init(&m);
    metrics_round_trip(&m, 1, 300);
    metrics_round_trip(&m, 3, 700);
    metrics_round_trip(&m, 300, 2000);
    metrics_transaction(&m, METRICS_TX_READ, 1, METRICS_TX_COMMITTED);
    metrics_transaction(&m, METRICS_TX_WRITE, 2, METRICS_TX_COMMITTED);
    metrics_transaction(&m, METRICS_TX_WRITE, 299, METRICS_TX_COMMITTED);
    metrics_transaction(&m, METRICS_TX_WRITE, 7, METRICS_TX_ROLLED_BACK);
    metrics_transaction(&m, METRICS_TX_WRITE, 7, METRICS_TX_UNKNOWN);
    metrics_db_connected(&m);
    metrics_db_connected(&m);
    metrics_db_failed(&m);
    char *t = render(&m);
    EXPECT_SAMPLES(t, {"rinha_db_round_trip_requests_bucket{le=\"1\"}", 1},
                   {"rinha_db_round_trip_requests_bucket{le=\"2\"}", 1},
                   {"rinha_db_round_trip_requests_bucket{le=\"4\"}", 2},
                   {"rinha_db_round_trip_requests_bucket{le=\"256\"}", 2},
                   {"rinha_db_round_trip_requests_bucket{le=\"512\"}", 3},
                   {"rinha_db_round_trip_requests_sum", 304}, {"rinha_db_round_trip_seconds_count", 3},
                   {"rinha_db_commit_requests_count{kind=\"read\"}", 1},
                   {"rinha_db_commit_requests_count{kind=\"write\"}", 2},
                   {"rinha_db_commit_requests_sum{kind=\"write\"}", 301},
                   {"rinha_db_commit_requests_bucket{kind=\"write\",le=\"2\"}", 1},
                   {"rinha_db_rollbacks_total{kind=\"write\"}", 1}, {"rinha_db_unknown_total", 1},
                   {"rinha_db_connects_total", 2}, {"rinha_db_connection_failures_total", 1});
    free(t);
}
END_TEST

static void fake_gauges(void *ctx, metrics_gauges_t *out)
{
    const size_t *base = ctx;
    out->pending = *base;
    out->queued = *base - 1;
    out->max_pending = 1024;
    out->connections_up = 1;
    out->connections = 2;
}

START_TEST(test_gauges_are_read_at_render_time)
{
    metrics_t m;
    metrics_init(&m);
    char *t = render(&m);
    ck_assert_int_eq(count_lines_starting(t, "rinha_db_pending"), 0); /* no source: left out */
    free(t);
    size_t pending = 7;
    metrics_set_gauges(&m, fake_gauges, &pending);
    t = render(&m);
    EXPECT_SAMPLES(t, {"rinha_db_pending", 7}, {"rinha_db_queued", 6}, {"rinha_db_max_pending", 1024},
                   {"rinha_db_connections_up", 1}, {"rinha_metrics_scrapes_total", 2});
    free(t);
}
END_TEST

START_TEST(test_exposition_shape)
{
    metrics_t m;
    metrics_init(&m);
    metrics_request_done(&m, METRICS_ROUTE_EXTRATO, 200, METRICS_CAUSE_NONE, 1234);
    char *t = render(&m);
    /* Each family: one HELP and one TYPE line; every line ends with '\n'. */
    ck_assert_int_eq(count_lines_starting(t, "# TYPE rinha_http_request_duration_seconds histogram"), 1);
    ck_assert_int_eq(count_lines_starting(t, "# HELP rinha_http_request_duration_seconds "), 1);
    ck_assert_int_eq(count_lines_starting(t, "# TYPE rinha_http_requests_total counter"), 1);
    ck_assert_int_eq(t[strlen(t) - 1], '\n');
    ck_assert_ptr_nonnull(
        strstr(t, "\nrinha_http_request_duration_seconds_sum{route=\"extrato\"} 0.001234\n"));
    ck_assert_double_eq(sample(t, "rinha_http_request_duration_seconds_count{route=\"extrato\"}"), 1);
    ck_assert_double_eq(
        sample(t, "rinha_http_request_duration_seconds_bucket{route=\"extrato\",le=\"0.001\"}"), 0);
    ck_assert_double_eq(
        sample(t, "rinha_http_request_duration_seconds_bucket{route=\"extrato\",le=\"0.0025\"}"), 1);
    free(t);
}
END_TEST

START_TEST(test_process_metrics)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(metrics_render_process(out), 0);
    ck_assert_int_eq(fclose(out), 0);
    ck_assert(sample(buf, "process_resident_memory_bytes") > 0);
    ck_assert(sample(buf, "process_open_fds") >= 3);
    ck_assert(sample(buf, "process_start_time_seconds") > 1.5e9);
    ck_assert(sample(buf, "process_cpu_seconds_total") >= 0);
    free(buf);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("hooks");
    tcase_add_test(tc, test_null_registry_is_a_no_op);
    tcase_add_test(tc, test_requests_by_route_and_status);
    tcase_add_test(tc, test_errors_by_status_and_cause);
    tcase_add_test(tc, test_time_histogram_buckets_are_inclusive_and_cumulative);
    tcase_add_test(tc, test_round_trips_and_commits);
    suite_add_tcase(s, tc);
    tc = tcase_create("render");
    tcase_add_test(tc, test_gauges_are_read_at_render_time);
    tcase_add_test(tc, test_exposition_shape);
    tcase_add_test(tc, test_process_metrics);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    RUN_SUITES(metrics_suite());
}

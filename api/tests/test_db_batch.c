/*
 * test_db_batch.c - unit tests (Check) of a round trip's pure parts: the
 * order of the queries, the text of the batch call's parameters, and the
 * matching of result rows to requests (the one place where a bug would
 * answer the wrong customer). Results are fabricated with libpq's own
 * PQmakeEmptyPGresult / PQsetvalue, no database needed.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "db_batch.h"
#include "unit.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    db_query_t q;
    transacao_t tx;
} fixture_t;

static void make_write(fixture_t *f, uint64_t seq, int32_t client, int64_t valor, char tipo,
                       const char *descr, const char *key)
{
    memset(f, 0, sizeof(*f));
    f->q.kind = DB_QUERY_TRANSACAO;
    f->q.seq = seq;
    f->q.client_id = client;
    f->tx.valor = valor;
    f->tx.tipo = (tipo_t)tipo;
    f->tx.descricao_len = strlen(descr);
    memcpy(f->tx.descricao, descr, f->tx.descricao_len + 1);
    f->q.tx = &f->tx;
    if (key != NULL) {
        f->q.idem_key = key;
        f->q.idem_key_len = strlen(key);
    }
}

/* Two writes for one client, in arrival order, and the array of them. */
static void make_two_writes(fixture_t f[2], db_query_t *q[2], int32_t client)
{
    make_write(&f[0], 0, client, 1, 'c', "a", NULL);
    make_write(&f[1], 1, client, 1, 'c', "b", NULL);
    q[0] = &f[0].q;
    q[1] = &f[1].q;
}

static void make_read(fixture_t *f, uint64_t seq, int32_t client)
{
    memset(f, 0, sizeof(*f));
    f->q.kind = DB_QUERY_EXTRATO;
    f->q.seq = seq;
    f->q.client_id = client;
}

/* ---- order ------------------------------------------------------------- */

START_TEST(test_order_reads_first_then_writes_by_client_then_arrival)
{
    fixture_t f[7];
    make_write(&f[0], 0, 3, 1, 'c', "a", NULL);
    make_read(&f[1], 1, 5);
    make_write(&f[2], 2, 1, 1, 'd', "b", NULL);
    make_write(&f[3], 3, 3, 1, 'd', "c", NULL);
    make_read(&f[4], 4, 1);
    make_write(&f[5], 5, 1, 1, 'c', "d", NULL);
    make_write(&f[6], 6, 2, 1, 'c', "e", NULL);
    db_query_t *q[7];
    for (size_t i = 0; i < 7; i++)
        q[i] = &f[i].q;
    ck_assert_uint_eq(db_batch_order(q, 7), 2);
    /* reads in arrival order, whatever their client */
    const uint64_t want[7] = {1, 4, 2, 5, 6, 0, 3};
    for (size_t i = 0; i < 7; i++)
        ck_assert_uint_eq(q[i]->seq, want[i]);
}
END_TEST

START_TEST(test_order_no_reads_and_only_reads)
{
    fixture_t f[2];
    db_query_t *q[2];
    make_two_writes(f, q, 2);
    ck_assert_uint_eq(db_batch_order(q, 2), 0);
    ck_assert_uint_eq(q[0]->seq, 0);
    make_read(&f[0], 0, 1);
    make_read(&f[1], 1, 1);
    q[0] = &f[1].q;
    q[1] = &f[0].q;
    ck_assert_uint_eq(db_batch_order(q, 2), 2);
    ck_assert_uint_eq(q[0]->seq, 0);
}
END_TEST

/* ---- encode ------------------------------------------------------------ */

START_TEST(test_encode_parallel_arrays)
{
    fixture_t f[3];
    make_write(&f[0], 0, 1, 9007199254740991, 'c', "say \"hi\"\\", NULL);
    make_write(&f[1], 1, 2147483647, 1, 'd', "descri\xc3\xa7\xc3\xa3o", NULL);
    make_write(&f[2], 2, 5, 42, 'd', "x", NULL);
    db_query_t *w[3] = {&f[0].q, &f[1].q, &f[2].q};
    db_batch_params_t p;
    ck_assert_int_eq(db_batch_params_init(&p, 3), 0);
    ck_assert_int_eq(db_batch_params_encode(&p, w, 3), 0);
    ck_assert_str_eq(p.ids, "{1,2147483647,5}");
    ck_assert_str_eq(p.valores, "{9007199254740991,1,42}");
    ck_assert_str_eq(p.tipos, "cdd");
    ck_assert_ptr_null(p.chaves); /* no key in the batch: the procedure skips idempotency */
    /* The descricoes are a JSON array that decodes back to the same bytes. */
    json_error_t err;
    json_t *arr = json_loads(p.descricoes, 0, &err);
    ck_assert_ptr_nonnull(arr);
    ck_assert_uint_eq(json_array_size(arr), 3);
    ck_assert_str_eq(json_string_value(json_array_get(arr, 0)), "say \"hi\"\\");
    ck_assert_str_eq(json_string_value(json_array_get(arr, 1)), "descri\xc3\xa7\xc3\xa3o");
    json_decref(arr);
    db_batch_params_free(&p);
}
END_TEST

START_TEST(test_encode_keys_only_when_some_request_has_one)
{
    fixture_t f[3];
    make_write(&f[0], 0, 1, 1, 'c', "a", NULL);
    make_write(&f[1], 1, 1, 1, 'c', "b", "k-\"1");
    make_write(&f[2], 2, 2, 1, 'c', "c", "k2");
    db_query_t *w[3] = {&f[0].q, &f[1].q, &f[2].q};
    db_batch_params_t p;
    ck_assert_int_eq(db_batch_params_init(&p, 3), 0);
    ck_assert_int_eq(db_batch_params_encode(&p, w, 3), 0);
    ck_assert_ptr_nonnull(p.chaves);
    json_error_t err;
    json_t *arr = json_loads(p.chaves, 0, &err);
    ck_assert_ptr_nonnull(arr);
    ck_assert_uint_eq(json_array_size(arr), 3);
    ck_assert(json_is_null(json_array_get(arr, 0)));
    ck_assert_str_eq(json_string_value(json_array_get(arr, 1)), "k-\"1");
    ck_assert_str_eq(json_string_value(json_array_get(arr, 2)), "k2");
    json_decref(arr);
    /* Reused for the next round trip, without keys: chaves is gone. */
    ck_assert_int_eq(db_batch_params_encode(&p, w, 1), 0);
    ck_assert_ptr_null(p.chaves);
    ck_assert_str_eq(p.ids, "{1}");
    db_batch_params_free(&p);
}
END_TEST

/* ---- decode ------------------------------------------------------------ */

/* A result of `ncols` text columns; each row given as ncols strings, NULL
 * meaning SQL NULL. */
static PGresult *make_result(int ncols, const char *const *cells, int nrows)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    ck_assert_ptr_nonnull(r);
    PGresAttDesc attrs[3];
    static char *names[3] = {"a", "b", "c"};
    memset(attrs, 0, sizeof(attrs));
    for (int c = 0; c < ncols; c++) {
        attrs[c].name = names[c];
        attrs[c].typid = 25; /* text */
        attrs[c].typlen = -1;
        attrs[c].atttypmod = -1;
    }
    ck_assert_int_eq(PQsetResultAttrs(r, ncols, attrs), 1);
    for (int row = 0; row < nrows; row++) {
        for (int c = 0; c < ncols; c++) {
            const char *v = cells[row * ncols + c];
            ck_assert_int_eq(PQsetvalue(r, row, c, (char *)v, v != NULL ? (int)strlen(v) : -1), 1);
        }
    }
    return r;
}

START_TEST(test_decode_writes_row_i_answers_request_i)
{
    fixture_t f[6];
    db_query_t *w[6];
    for (size_t i = 0; i < 6; i++) {
        make_write(&f[i], i, (int32_t)i + 1, 1, 'c', "x", NULL);
        w[i] = &f[i].q;
    }
    const char *cells[] = {
        "0", "-5", "100000", /* applied */
        "1", "7",  "80000",  /* refused: saldo and limite as they stand */
        "2", NULL, NULL,     /* no such client */
        "3", NULL, NULL,     /* key conflict */
        "4", "12", "1000",   /* replay of an applied request */
        "5", "-3", "500",    /* replay of a refused one */
    };
    PGresult *r = make_result(3, cells, 6);
    ck_assert_int_eq(db_batch_decode_writes(r, w, 6), 0);
    const tx_status_t st[6] = {TX_APPLIED,      TX_REFUSED,        TX_NO_CLIENT,
                               TX_KEY_CONFLICT, TX_REPLAY_APPLIED, TX_REPLAY_REFUSED};
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(f[i].q.answer.tx.status, st[i]);
    ck_assert_int_eq(f[0].q.answer.tx.saldo, -5);
    ck_assert_int_eq(f[0].q.answer.tx.limite, 100000);
    ck_assert_int_eq(f[1].q.answer.tx.saldo, 7);
    ck_assert_int_eq(f[4].q.answer.tx.saldo, 12);
    ck_assert_int_eq(f[5].q.answer.tx.limite, 500);
    PQclear(r);
}
END_TEST

START_TEST(test_decode_writes_refuses_wrong_shapes)
{
    fixture_t f[2];
    db_query_t *w[2];
    make_two_writes(f, w, 1);
    const char *one[] = {"0", "1", "2"};
    const char *two_bad_status[] = {"0", "1", "2", "9", "1", "2"};
    const char *two_null_saldo[] = {"0", "1", "2", "0", NULL, "2"};
    const char *two_text[] = {"0", "1", "2", "0", "1x", "2"};
    const char *two_big[] = {"0", "1", "2", "0", "99999999999999999999", "2"};
    PGresult *r = make_result(3, one, 1);
    ck_assert_int_eq(db_batch_decode_writes(r, w, 2), -1); /* fewer rows than requests */
    PQclear(r);
    const char *const *bad[] = {two_bad_status, two_null_saldo, two_text, two_big};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        r = make_result(3, bad[i], 2);
        ck_assert_int_eq(db_batch_decode_writes(r, w, 2), -1);
        PQclear(r);
    }
    r = make_result(2, one, 1);
    ck_assert_int_eq(db_batch_decode_writes(r, w, 1), -1); /* two columns */
    PQclear(r);
    ck_assert_int_eq(db_batch_decode_writes(NULL, w, 1), -1);
    r = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    ck_assert_int_eq(db_batch_decode_writes(r, w, 0), -1); /* an error result never reads as an answer */
    PQclear(r);
}
END_TEST

START_TEST(test_decode_extrato)
{
    fixture_t f;
    make_read(&f, 0, 1);
    const char *json[] = {"{\"saldo\":{}}"};
    PGresult *r = make_result(1, json, 1);
    ck_assert_int_eq(db_batch_decode_extrato(r, &f.q), 0);
    ck_assert_uint_eq(f.q.answer.extrato.len, strlen(json[0]));
    ck_assert_int_eq(memcmp(f.q.answer.extrato.json, json[0], f.q.answer.extrato.len), 0);
    PQclear(r);
    const char *none[] = {NULL};
    r = make_result(1, none, 1);
    ck_assert_int_eq(db_batch_decode_extrato(r, &f.q), 0);
    ck_assert_ptr_null(f.q.answer.extrato.json); /* no such client */
    PQclear(r);
    r = make_result(1, json, 0);
    ck_assert_int_eq(db_batch_decode_extrato(r, &f.q), -1);
    PQclear(r);
}
END_TEST

static Suite *db_batch_suite(void)
{
    Suite *s = suite_create("db_batch");
    TCase *tc = tcase_create("order");
    tcase_add_test(tc, test_order_reads_first_then_writes_by_client_then_arrival);
    tcase_add_test(tc, test_order_no_reads_and_only_reads);
    suite_add_tcase(s, tc);
    tc = tcase_create("encode");
    tcase_add_test(tc, test_encode_parallel_arrays);
    tcase_add_test(tc, test_encode_keys_only_when_some_request_has_one);
    suite_add_tcase(s, tc);
    tc = tcase_create("decode");
    tcase_add_test(tc, test_decode_writes_row_i_answers_request_i);
    tcase_add_test(tc, test_decode_writes_refuses_wrong_shapes);
    tcase_add_test(tc, test_decode_extrato);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    RUN_SUITES(db_batch_suite());
}

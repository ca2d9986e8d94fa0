/*
 * test_db_batch.c - unit tests (Check) of a round trip's pure parts: the
 * order of the queries, the binary encoding of the batch call's parameters, and the
 * matching of result rows to requests (the one place where a bug would
 * answer the wrong customer). Results are fabricated with libpq's own
 * PQmakeEmptyPGresult / PQsetvalue, no database needed.
 */
#include <check.h>
#include <endian.h>
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

static uint32_t be32_at(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return be32toh(v);
}

/* Reads a one-dimensional binary array the way the server's array_recv
 * does: checks its header against `oid`, `n` and `has_nulls`, and returns
 * its elements (NULL with length -1 for SQL NULL). Fails the test if the
 * buffer is not exactly that array. */
typedef struct {
    const char *v;
    int32_t len;
} elem_t;

static void read_array(const char *buf, int len, uint32_t oid, size_t n, int has_nulls, elem_t *out)
{
    ck_assert_int_ge(len, 20);
    ck_assert_uint_eq(be32_at(buf), 1);                /* dimensions */
    ck_assert_uint_eq(be32_at(buf + 4), has_nulls);    /* flags */
    ck_assert_uint_eq(be32_at(buf + 8), oid);          /* element type */
    ck_assert_uint_eq(be32_at(buf + 12), (uint32_t)n); /* length */
    ck_assert_uint_eq(be32_at(buf + 16), 1);           /* lower bound */
    const char *p = buf + 20, *end = buf + len;
    for (size_t i = 0; i < n; i++) {
        ck_assert(p + 4 <= end);
        out[i].len = (int32_t)be32_at(p);
        p += 4;
        out[i].v = out[i].len < 0 ? NULL : p;
        if (out[i].len > 0)
            p += out[i].len;
        ck_assert(p <= end);
    }
    ck_assert_ptr_eq(p, end); /* nothing after the last element */
}

static int64_t be_int(const elem_t *e)
{
    if (e->len == 4)
        return (int32_t)be32_at(e->v);
    ck_assert_int_eq(e->len, 8);
    return (int64_t)((uint64_t)be32_at(e->v) << 32 | be32_at(e->v + 4));
}

static void assert_text(const elem_t *e, const char *want)
{
    ck_assert_int_eq(e->len, (int32_t)strlen(want));
    ck_assert_int_eq(memcmp(e->v, want, strlen(want)), 0);
}

START_TEST(test_encode_parallel_arrays)
{
    fixture_t f[3];
    make_write(&f[0], 0, 1, 9007199254740991, 'c', "say \"hi\"\\", NULL);
    make_write(&f[1], 1, 2147483647, 1, 'd', "descri\xc3\xa7\xc3\xa3o", NULL);
    make_write(&f[2], 2, 5, 42, 'd', "{x,\"y\"}", NULL);
    db_query_t *w[3] = {&f[0].q, &f[1].q, &f[2].q};
    db_batch_params_t p;
    ck_assert_int_eq(db_batch_params_init(&p, 3), 0);
    ck_assert_int_eq(db_batch_params_encode(&p, w, 3), 0);
    elem_t e[3];
    read_array(p.values[LOTE_CLIENTES], p.lengths[LOTE_CLIENTES], 23, 3, 0, e); /* integer[] */
    ck_assert_int_eq(be_int(&e[0]), 1);
    ck_assert_int_eq(be_int(&e[1]), 2147483647);
    ck_assert_int_eq(be_int(&e[2]), 5);
    read_array(p.values[LOTE_VALORES], p.lengths[LOTE_VALORES], 20, 3, 0, e); /* bigint[] */
    ck_assert_int_eq(be_int(&e[0]), 9007199254740991);
    ck_assert_int_eq(be_int(&e[1]), 1);
    ck_assert_int_eq(be_int(&e[2]), 42);
    ck_assert_int_eq(p.lengths[LOTE_TIPOS], 3);
    ck_assert_int_eq(memcmp(p.values[LOTE_TIPOS], "cdd", 3), 0);
    /* text[]: the bytes as they came, quotes, braces and backslashes
     * included: nothing is escaped. */
    read_array(p.values[LOTE_DESCRICOES], p.lengths[LOTE_DESCRICOES], 25, 3, 0, e);
    assert_text(&e[0], "say \"hi\"\\");
    assert_text(&e[1], "descri\xc3\xa7\xc3\xa3o");
    assert_text(&e[2], "{x,\"y\"}");
    ck_assert_ptr_null(p.values[LOTE_CHAVES]); /* no key in the batch: the procedure skips idempotency */
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
    ck_assert_ptr_nonnull(p.values[LOTE_CHAVES]);
    elem_t e[3];
    read_array(p.values[LOTE_CHAVES], p.lengths[LOTE_CHAVES], 25, 3, 1, e);
    ck_assert_ptr_null(e[0].v);
    ck_assert_int_eq(e[0].len, -1);
    assert_text(&e[1], "k-\"1");
    assert_text(&e[2], "k2");
    /* Reused for the next round trip, without keys: chaves is gone. */
    ck_assert_int_eq(db_batch_params_encode(&p, w, 1), 0);
    ck_assert_ptr_null(p.values[LOTE_CHAVES]);
    read_array(p.values[LOTE_CLIENTES], p.lengths[LOTE_CLIENTES], 23, 1, 0, e);
    ck_assert_int_eq(be_int(&e[0]), 1);
    /* Nothing to send, or more than the buffers hold: refused. */
    ck_assert_int_eq(db_batch_params_encode(&p, w, 0), -1);
    ck_assert_int_eq(db_batch_params_encode(&p, w, 4), -1);
    db_batch_params_free(&p);
}
END_TEST

START_TEST(test_encode_grows_to_the_largest_batch)
{
    /* Every query at its longest (descricao of 10 four-byte characters, a
     * key of 255 characters), after a call of short ones: the buffers grow
     * to hold them. ASan reports a write past them. */
    enum { N = 64 };
    static fixture_t f[N];
    db_query_t *w[N];
    char descr[REQUEST_DESCRICAO_MAX_BYTES + 1], key[REQUEST_IDEM_KEY_MAX + 1];
    for (size_t i = 0; i < REQUEST_DESCRICAO_MAX_BYTES; i += 4)
        memcpy(descr + i, "\xf0\x9f\x92\xb0", 4);
    descr[REQUEST_DESCRICAO_MAX_BYTES] = '\0';
    memset(key, 'k', REQUEST_IDEM_KEY_MAX);
    key[REQUEST_IDEM_KEY_MAX] = '\0';
    for (size_t i = 0; i < N; i++) {
        make_write(&f[i], i, INT32_MAX, INT64_C(9007199254740991), 'd', descr, key);
        w[i] = &f[i].q;
    }
    fixture_t small;
    make_write(&small, 0, 1, 1, 'c', "a", "k");
    db_query_t *ws = &small.q;
    db_batch_params_t p;
    ck_assert_int_eq(db_batch_params_init(&p, N), 0);
    ck_assert_int_eq(db_batch_params_encode(&p, &ws, 1), 0);
    ck_assert_int_eq(db_batch_params_encode(&p, w, N), 0);
    elem_t e[N];
    read_array(p.values[LOTE_DESCRICOES], p.lengths[LOTE_DESCRICOES], 25, N, 0, e);
    assert_text(&e[N - 1], descr);
    read_array(p.values[LOTE_CHAVES], p.lengths[LOTE_CHAVES], 25, N, 1, e);
    assert_text(&e[N - 1], key);
    db_batch_params_free(&p);
}
END_TEST

/* ---- decode ------------------------------------------------------------ */

/* A binary result of (status integer, saldo bigint, limite bigint) rows,
 * as PostgreSQL sends transacoes_lote()'s; NO marks SQL NULL. `oids` lets a
 * test give other column types. */
#define NO INT64_MIN
static const Oid write_oids[3] = {23, 20, 20};

static PGresult *make_binary_result(const Oid *oids, int ncols, const int64_t *cells, int nrows)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    ck_assert_ptr_nonnull(r);
    PGresAttDesc attrs[3];
    static char *names[3] = {"a", "b", "c"};
    memset(attrs, 0, sizeof(attrs));
    for (int c = 0; c < ncols; c++) {
        attrs[c].name = names[c];
        attrs[c].typid = oids[c];
        attrs[c].typlen = oids[c] == 23 ? 4 : 8;
        attrs[c].atttypmod = -1;
        attrs[c].format = 1;
    }
    ck_assert_int_eq(PQsetResultAttrs(r, ncols, attrs), 1);
    for (int row = 0; row < nrows; row++) {
        for (int c = 0; c < ncols; c++) {
            int64_t v = cells[row * ncols + c];
            char buf[8];
            uint32_t v32 = htobe32((uint32_t)v);
            uint64_t v64 = htobe64((uint64_t)v);
            int len = oids[c] == 23 ? 4 : 8;
            memcpy(buf, len == 4 ? (const void *)&v32 : (const void *)&v64, (size_t)len);
            ck_assert_int_eq(PQsetvalue(r, row, c, v == NO ? NULL : buf, v == NO ? -1 : len), 1);
        }
    }
    return r;
}

/* A text result of one column per cell (extrato's shape). */
static PGresult *make_text_result(const char *const *cells, int nrows)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    ck_assert_ptr_nonnull(r);
    PGresAttDesc attr = {.name = "extrato", .typid = 25, .typlen = -1, .atttypmod = -1, .format = 1};
    ck_assert_int_eq(PQsetResultAttrs(r, 1, &attr), 1);
    for (int row = 0; row < nrows; row++) {
        const char *v = cells[row];
        ck_assert_int_eq(PQsetvalue(r, row, 0, (char *)v, v != NULL ? (int)strlen(v) : -1), 1);
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
    const int64_t cells[] = {
        0, -5, 100000,                               /* applied */
        1, 7,  80000,                                /* refused: saldo and limite as they stand */
        2, NO, NO,                                   /* no such client */
        3, NO, NO,                                   /* key conflict */
        4, 12, INT64_C(9007199254740991) * 1024 + 7, /* replay of an applied request; all 64 bits */
        5, -3, 500,                                  /* replay of a refused one */
    };
    PGresult *r = make_binary_result(write_oids, 3, cells, 6);
    ck_assert_int_eq(db_batch_decode_writes(r, w, 6), 0);
    const tx_status_t st[6] = {TX_APPLIED,      TX_REFUSED,        TX_NO_CLIENT,
                               TX_KEY_CONFLICT, TX_REPLAY_APPLIED, TX_REPLAY_REFUSED};
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(f[i].q.answer.tx.status, st[i]);
    ck_assert_int_eq(f[0].q.answer.tx.saldo, -5);
    ck_assert_int_eq(f[0].q.answer.tx.limite, 100000);
    ck_assert_int_eq(f[1].q.answer.tx.saldo, 7);
    ck_assert_int_eq(f[4].q.answer.tx.saldo, 12);
    ck_assert_int_eq(f[4].q.answer.tx.limite, INT64_C(9007199254740991) * 1024 + 7);
    ck_assert_int_eq(f[5].q.answer.tx.limite, 500);
    PQclear(r);
}
END_TEST

START_TEST(test_decode_writes_refuses_wrong_shapes)
{
    fixture_t f[2];
    db_query_t *w[2];
    make_two_writes(f, w, 1);
    const int64_t one[] = {0, 1, 2};
    const int64_t two_bad_status[] = {0, 1, 2, 9, 1, 2};
    const int64_t two_null_saldo[] = {0, 1, 2, 0, NO, 2};
    PGresult *r = make_binary_result(write_oids, 3, one, 1);
    ck_assert_int_eq(db_batch_decode_writes(r, w, 2), -1); /* fewer rows than requests */
    PQclear(r);
    const int64_t *const bad[] = {two_bad_status, two_null_saldo};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        r = make_binary_result(write_oids, 3, bad[i], 2);
        ck_assert_int_eq(db_batch_decode_writes(r, w, 2), -1);
        PQclear(r);
    }
    /* Columns of other types (a procedure changed under the replica): an
     * integer saldo, a bigint status. */
    const Oid int_saldo[3] = {23, 23, 20}, big_status[3] = {20, 20, 20};
    const Oid *const wrong[] = {int_saldo, big_status};
    for (size_t i = 0; i < ARRAY_LEN(wrong); i++) {
        r = make_binary_result(wrong[i], 3, one, 1);
        ck_assert_int_eq(db_batch_decode_writes(r, w, 1), -1);
        PQclear(r);
    }
    /* Text format (the statement prepared without binary results). */
    const char *text_cells[] = {"0"};
    r = make_text_result(text_cells, 1);
    ck_assert_int_eq(db_batch_decode_writes(r, w, 1), -1);
    PQclear(r);
    r = make_binary_result(write_oids, 2, one, 1);
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
    PGresult *r = make_text_result(json, 1);
    ck_assert_int_eq(db_batch_decode_extrato(r, &f.q), 0);
    ck_assert_uint_eq(f.q.answer.extrato.len, strlen(json[0]));
    ck_assert_int_eq(memcmp(f.q.answer.extrato.json, json[0], f.q.answer.extrato.len), 0);
    PQclear(r);
    const char *none[] = {NULL};
    r = make_text_result(none, 1);
    ck_assert_int_eq(db_batch_decode_extrato(r, &f.q), 0);
    ck_assert_ptr_null(f.q.answer.extrato.json); /* no such client */
    PQclear(r);
    r = make_text_result(json, 0);
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
    tcase_add_test(tc, test_encode_grows_to_the_largest_batch);
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

/*
 * db_batch.c - ordering, encoding and decoding of a round trip (see
 * db_batch.h). Pure: no I/O.
 */
#include "db_batch.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

/* ---- order ------------------------------------------------------------- */

static int compare_queries(const void *a, const void *b)
{
    const db_query_t *x = *(db_query_t *const *)a, *y = *(db_query_t *const *)b;
    if (x->kind != y->kind)
        return x->kind == DB_QUERY_EXTRATO ? -1 : 1;
    /* Deadlock freedom does not rest on this order: transacoes_lote() locks
     * its clients in ascending id itself. */
    if (x->kind == DB_QUERY_TRANSACAO && x->client_id != y->client_id)
        return x->client_id < y->client_id ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

size_t db_batch_order(db_query_t **q, size_t n)
{
    qsort(q, n, sizeof(db_query_t *), compare_queries);
    size_t nreads = 0;
    while (nreads < n && q[nreads]->kind == DB_QUERY_EXTRATO)
        nreads++;
    return nreads;
}

/* ---- encode ------------------------------------------------------------ */

/*
 * PostgreSQL's binary array format (array_recv in the server's
 * utils/adt/arrayfuncs.c; the same layout as in COPY BINARY): five int32 -
 * number of dimensions (1), whether any element is NULL, the element type's
 * OID, the dimension's length and its lower bound (1) - then each element as
 * an int32 byte length (-1 for NULL) followed by the element's own binary
 * form: big-endian integers, or the bytes of a text. All integers are
 * big-endian.
 *
 * Why by hand: libpq has no array encoder, and the text alternatives both
 * need an escaper (an array literal's quoting, or JSON, which the procedure
 * then parsed again). libpqtypes (Debian) encodes arrays but registers types
 * with blocking queries on each connection, which this non-blocking,
 * pipelined connect path cannot run. Measured: the JSON encoding (jansson)
 * was a few percent of a replica's CPU.
 */
#define OID_INT4 23 /* fixed OIDs of the built-in types (catalog/pg_type.dat) */
#define OID_INT8 20
#define OID_TEXT 25
#define ARRAY_HEADER_LEN 20

static char *put_be32(char *p, uint32_t v)
{
    v = htobe32(v);
    memcpy(p, &v, sizeof(v));
    return p + sizeof(v);
}

static char *put_be64(char *p, uint64_t v)
{
    v = htobe64(v);
    memcpy(p, &v, sizeof(v));
    return p + sizeof(v);
}

static char *put_array_header(char *p, uint32_t elem_oid, size_t n, int has_nulls)
{
    p = put_be32(p, 1);
    p = put_be32(p, has_nulls ? 1 : 0);
    p = put_be32(p, elem_oid);
    p = put_be32(p, (uint32_t)n);
    return put_be32(p, 1);
}

/* A text element, or NULL (len -1) when s is NULL. */
static char *put_text(char *p, const char *s, size_t len)
{
    if (s == NULL)
        return put_be32(p, UINT32_MAX);
    p = put_be32(p, (uint32_t)len);
    memcpy(p, s, len);
    return p + len;
}

int db_batch_params_init(db_batch_params_t *p, size_t cap)
{
    memset(p, 0, sizeof(*p));
    p->cap = cap;
    /* The integer arrays and tipos at their largest: header, then per
     * element its length word and value. The text arrays grow on demand:
     * sized for `cap` of the longest values, the keys' would be 259 bytes a
     * query, mostly never used. */
    const size_t size[LOTE_NPARAMS] = {
        [LOTE_CLIENTES] = ARRAY_HEADER_LEN + cap * (4 + 4),
        [LOTE_VALORES] = ARRAY_HEADER_LEN + cap * (4 + 8),
        [LOTE_TIPOS] = cap,
    };
    for (size_t i = 0; i < LOTE_NPARAMS; i++) {
        if (size[i] == 0)
            continue;
        if ((p->buf[i] = malloc(size[i])) == NULL) {
            db_batch_params_free(p);
            return -1;
        }
        p->size[i] = size[i];
    }
    return 0;
}

/* Makes buf[i] hold at least `need` bytes. */
static int reserve(db_batch_params_t *p, size_t i, size_t need)
{
    if (need <= p->size[i])
        return 0;
    char *b = realloc(p->buf[i], need);
    if (b == NULL)
        return -1;
    p->buf[i] = b;
    p->size[i] = need;
    return 0;
}

int db_batch_params_encode(db_batch_params_t *p, db_query_t *const *w, size_t n)
{
    if (n == 0 || n > p->cap)
        return -1;
    /* One pass for the text arrays' sizes and whether any query has a key
     * (a query without one has idem_key_len 0). */
    size_t descricoes_len = ARRAY_HEADER_LEN, chaves_len = ARRAY_HEADER_LEN;
    int keyed = 0;
    for (size_t i = 0; i < n; i++) {
        descricoes_len += 4 + w[i]->tx->descricao_len;
        chaves_len += 4 + w[i]->idem_key_len;
        keyed |= w[i]->idem_key != NULL;
    }
    if (reserve(p, LOTE_DESCRICOES, descricoes_len) != 0 ||
        (keyed && reserve(p, LOTE_CHAVES, chaves_len) != 0))
        return -1;
    char *ids = put_array_header(p->buf[LOTE_CLIENTES], OID_INT4, n, 0);
    char *valores = put_array_header(p->buf[LOTE_VALORES], OID_INT8, n, 0);
    char *descricoes = put_array_header(p->buf[LOTE_DESCRICOES], OID_TEXT, n, 0);
    for (size_t i = 0; i < n; i++) {
        ids = put_be32(put_be32(ids, 4), (uint32_t)w[i]->client_id);
        valores = put_be64(put_be32(valores, 8), (uint64_t)w[i]->tx->valor);
        p->buf[LOTE_TIPOS][i] = (char)w[i]->tx->tipo;
        descricoes = put_text(descricoes, w[i]->tx->descricao, w[i]->tx->descricao_len);
    }
    p->lengths[LOTE_CLIENTES] = (int)(ids - p->buf[LOTE_CLIENTES]);
    p->lengths[LOTE_VALORES] = (int)(valores - p->buf[LOTE_VALORES]);
    p->lengths[LOTE_TIPOS] = (int)n;
    p->lengths[LOTE_DESCRICOES] = (int)(descricoes - p->buf[LOTE_DESCRICOES]);
    for (size_t i = 0; i < LOTE_NPARAMS; i++)
        p->values[i] = p->buf[i];
    /* Without keys the parameter is NULL: the procedure skips all
     * idempotency work, so the Rinha load pays nothing for the feature. */
    p->values[LOTE_CHAVES] = NULL;
    p->lengths[LOTE_CHAVES] = 0;
    if (keyed) {
        char *chaves = put_array_header(p->buf[LOTE_CHAVES], OID_TEXT, n, 1);
        for (size_t i = 0; i < n; i++)
            chaves = put_text(chaves, w[i]->idem_key, w[i]->idem_key_len);
        p->values[LOTE_CHAVES] = p->buf[LOTE_CHAVES];
        p->lengths[LOTE_CHAVES] = (int)(chaves - p->buf[LOTE_CHAVES]);
    }
    return 0;
}

void db_batch_params_free(db_batch_params_t *p)
{
    for (size_t i = 0; i < LOTE_NPARAMS; i++) {
        free(p->buf[i]);
        p->buf[i] = NULL;
        p->size[i] = 0;
        p->values[i] = NULL;
    }
}

/* ---- decode ------------------------------------------------------------ */

/* A binary integer column: `oid` says its width (int4 or int8). */
static int get_int(const PGresult *r, int row, int col, Oid oid, int64_t *out)
{
    const char *v = PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    if (PQgetisnull(r, row, col) || PQfformat(r, col) != 1 || PQftype(r, col) != oid)
        return -1;
    if (oid == OID_INT4 && len == 4) {
        uint32_t x;
        memcpy(&x, v, sizeof(x)); /* binary values may be unaligned */
        *out = (int32_t)be32toh(x);
        return 0;
    }
    if (oid == OID_INT8 && len == 8) {
        uint64_t x;
        memcpy(&x, v, sizeof(x));
        *out = (int64_t)be64toh(x);
        return 0;
    }
    return -1;
}

/* One row of transacoes_lote(): status, then saldo and limite, which are
 * NULL exactly for the statuses that have no balance to show. */
static int decode_write_row(const PGresult *r, int row, db_query_t *q)
{
    int64_t status;
    if (get_int(r, row, 0, OID_INT4, &status) != 0 || status < TX_APPLIED || status > TX_REPLAY_REFUSED)
        return -1;
    q->answer.tx.status = (tx_status_t)status;
    q->answer.tx.saldo = q->answer.tx.limite = 0;
    if (status == TX_NO_CLIENT || status == TX_KEY_CONFLICT)
        return 0;
    if (get_int(r, row, 1, OID_INT8, &q->answer.tx.saldo) != 0 ||
        get_int(r, row, 2, OID_INT8, &q->answer.tx.limite) != 0)
        return -1;
    return 0;
}

int db_batch_decode_writes(const PGresult *r, db_query_t *const *w, size_t n)
{
    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != (int)n || PQnfields(r) != 3)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (decode_write_row(r, (int)i, w[i]) != 0)
            return -1;
    }
    return 0;
}

int db_batch_decode_extrato(const PGresult *r, db_query_t *q)
{
    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1)
        return -1;
    if (PQgetisnull(r, 0, 0)) {
        q->answer.extrato.json = NULL;
        q->answer.extrato.len = 0;
    } else {
        q->answer.extrato.json = PQgetvalue(r, 0, 0);
        q->answer.extrato.len = (size_t)PQgetlength(r, 0, 0);
    }
    return 0;
}

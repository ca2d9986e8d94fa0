/*
 * db_batch.c - ordering, encoding and decoding of a round trip (see
 * db_batch.h). Pure: no I/O.
 */
#include "db_batch.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"

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

int db_batch_params_init(db_batch_params_t *p, size_t cap)
{
    memset(p, 0, sizeof(*p));
    p->cap = cap;
    /* "{" + cap values of up to 20 characters and a comma + "}" + NUL */
    p->ids = malloc(cap * 21 + 3);
    p->valores = malloc(cap * 21 + 3);
    p->tipos = malloc(cap + 1);
    if (p->ids == NULL || p->valores == NULL || p->tipos == NULL) {
        db_batch_params_free(p);
        return -1;
    }
    return 0;
}

/* Writes "{a,b,c}" of the ids (or valores) into buf, which has room. */
static void format_int_array(char *buf, db_query_t *const *w, size_t n, int valores)
{
    char *p = buf;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        p = fmt_i64(p, valores ? w[i]->tx->valor : w[i]->client_id);
    }
    *p++ = '}';
    *p = '\0';
}

/* The descricoes (and keys) travel as JSON arrays of strings, so that jansson
 * does the escaping (PostgreSQL's array literal syntax would need a
 * hand-written escaper). NULL if out of memory. */
static char *json_strings(db_query_t *const *w, size_t n, int keys)
{
    json_t *arr = json_array();
    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        /* _nocheck: request.c has validated the UTF-8 of descricao, and a key
         * is printable ASCII. */
        json_t *v;
        if (keys)
            v = w[i]->idem_key != NULL ? json_stringn_nocheck(w[i]->idem_key, w[i]->idem_key_len)
                                       : json_null();
        else
            v = json_stringn_nocheck(w[i]->tx->descricao, w[i]->tx->descricao_len);
        if (json_array_append_new(arr, v) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

int db_batch_params_encode(db_batch_params_t *p, db_query_t *const *w, size_t n)
{
    db_batch_params_reset(p);
    format_int_array(p->ids, w, n, 0);
    format_int_array(p->valores, w, n, 1);
    int keyed = 0;
    for (size_t i = 0; i < n; i++) {
        p->tipos[i] = (char)w[i]->tx->tipo;
        keyed |= w[i]->idem_key != NULL;
    }
    p->tipos[n] = '\0';
    p->descricoes = json_strings(w, n, 0);
    if (p->descricoes == NULL)
        return -1;
    /* Without keys the parameter stays NULL: the procedure skips all
     * idempotency work, so the Rinha load pays nothing for the feature. */
    if (keyed && (p->chaves = json_strings(w, n, 1)) == NULL)
        return -1;
    return 0;
}

void db_batch_params_reset(db_batch_params_t *p)
{
    free(p->descricoes);
    free(p->chaves);
    p->descricoes = p->chaves = NULL;
}

void db_batch_params_free(db_batch_params_t *p)
{
    db_batch_params_reset(p);
    free(p->ids);
    free(p->valores);
    free(p->tipos);
    p->ids = p->valores = p->tipos = NULL;
}

/* ---- decode ------------------------------------------------------------ */

static int parse_int64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* One row of transacoes_lote(): status, then saldo and limite, which are
 * NULL exactly for the statuses that have no balance to show. */
static int decode_write_row(const PGresult *r, int row, db_query_t *q)
{
    int64_t status;
    if (PQgetisnull(r, row, 0) || parse_int64(PQgetvalue(r, row, 0), &status) != 0 || status < TX_APPLIED ||
        status > TX_REPLAY_REFUSED)
        return -1;
    q->answer.tx.status = (tx_status_t)status;
    q->answer.tx.saldo = q->answer.tx.limite = 0;
    if (status == TX_NO_CLIENT || status == TX_KEY_CONFLICT)
        return 0;
    if (PQgetisnull(r, row, 1) || PQgetisnull(r, row, 2) ||
        parse_int64(PQgetvalue(r, row, 1), &q->answer.tx.saldo) != 0 ||
        parse_int64(PQgetvalue(r, row, 2), &q->answer.tx.limite) != 0)
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

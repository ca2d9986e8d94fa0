/*
 * test_request.c - unit tests for request.c (routing and body validation)
 * and fmt.h (the integer formatter of the answers).
 *
 * Build (from the repository root):
 *   gcc -std=c17 -Wall -Wextra -Werror -Iapi/src api/tests/test_request.c api/src/request.c \
 *       $(pkg-config --cflags --libs check jansson) -o build/test_request
 *
 * Every input is copied into a heap buffer of exactly its length (no NUL after
 * it), so that under -fsanitize=address a read past the given length is
 * reported instead of silently hitting a string literal's terminator.
 */
#include "fmt.h"
#include "request.h"
#include "unit.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal and its length in bytes, embedded NULs included. */
#define LIT(s) s, sizeof(s) - 1

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* A heap copy of exactly `len` bytes with nothing readable after it. */
static char *dup_exact(const char *s, size_t len)
{
    char *p = malloc(len > 0 ? len : 1);
    ck_assert_msg(p != NULL, "malloc failed");
    if (len > 0)
        memcpy(p, s, len);
    else
        p[0] = 'X'; /* must never be read: the length is 0 */
    return p;
}

/* Escapes `len` bytes for a failure message (non-printables as \xNN). Each
 * call returns one of a few rotating static buffers, so two may be used in one
 * message. Tests run forked, one per process, so this is not shared. */
static const char *show(const char *s, size_t len)
{
    static char bufs[4][1024];
    static unsigned next;
    char *out = bufs[next++ % ARRAY_LEN(bufs)];
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 8 < sizeof(bufs[0]); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            o += (size_t)snprintf(out + o, sizeof(bufs[0]) - o, "\\x%02x", c);
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

static const char *route_name(route_kind_t k)
{
    switch (k) {
    case ROUTE_TRANSACAO:
        return "ROUTE_TRANSACAO";
    case ROUTE_EXTRATO:
        return "ROUTE_EXTRATO";
    case ROUTE_NOT_FOUND:
        return "ROUTE_NOT_FOUND";
    case ROUTE_METHOD_NOT_ALLOWED:
        return "ROUTE_METHOD_NOT_ALLOWED";
    }
    return "(unknown route kind)";
}

static const char *body_name(body_error_t e)
{
    switch (e) {
    case BODY_OK:
        return "BODY_OK";
    case BODY_MALFORMED:
        return "BODY_MALFORMED";
    case BODY_INVALID_VALOR:
        return "BODY_INVALID_VALOR";
    case BODY_INVALID_TIPO:
        return "BODY_INVALID_TIPO";
    case BODY_INVALID_DESCRICAO:
        return "BODY_INVALID_DESCRICAO";
    }
    return "(unknown body error)";
}

/* route_match on exact-length heap copies of method and path. */
static route_t route_exact(const char *method, size_t method_len, const char *path, size_t path_len)
{
    char *m = dup_exact(method, method_len);
    char *p = dup_exact(path, path_len);
    route_t r = route_match(m, method_len, p, path_len);
    free(m);
    free(p);
    return r;
}

/* transacao_parse on an exact-length heap copy of the body. */
static body_error_t parse_exact(const char *body, size_t len, transacao_t *out)
{
    char *b = dup_exact(body, len);
    body_error_t e = transacao_parse(b, len, out);
    free(b);
    return e;
}

/* ------------------------------------------------------------------------ */
/* route_match                                                              */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *method;
    const char *path;
    route_kind_t kind;
    int32_t client_id; /* checked when kind is ROUTE_TRANSACAO / ROUTE_EXTRATO */
    const char *allow; /* checked when kind is ROUTE_METHOD_NOT_ALLOWED */
} route_case_t;

static const route_case_t route_cases[] = {
    /* matches */
    {"POST", "/clientes/1/transacoes", ROUTE_TRANSACAO, 1, NULL},
    {"GET", "/clientes/1/extrato", ROUTE_EXTRATO, 1, NULL},
    {"GET", "/clientes/5/extrato", ROUTE_EXTRATO, 5, NULL},
    {"POST", "/clientes/5/transacoes", ROUTE_TRANSACAO, 5, NULL},
    /* id 6 is syntactically fine: the database answers 404 */
    {"GET", "/clientes/6/extrato", ROUTE_EXTRATO, 6, NULL},
    {"POST", "/clientes/6/transacoes", ROUTE_TRANSACAO, 6, NULL},
    {"GET", "/clientes/2147483647/extrato", ROUTE_EXTRATO, INT32_MAX, NULL},
    {"POST", "/clientes/2147483647/transacoes", ROUTE_TRANSACAO, INT32_MAX, NULL},
    {"GET", "/clientes/1234567890/extrato", ROUTE_EXTRATO, 1234567890, NULL},
    /* request.h: "plain decimal digits (at most 10)" with a value in range, so
     * leading zeros within 10 digits are accepted */
    {"GET", "/clientes/0000000001/extrato", ROUTE_EXTRATO, 1, NULL},
    {"GET", "/clientes/02147483647/extrato", ROUTE_NOT_FOUND, 0, NULL},

    /* malformed or out-of-range ids */
    {"GET", "/clientes/0/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"POST", "/clientes/0/transacoes", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/-1/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"POST", "/clientes/-1/transacoes", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/+1/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/abc/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"POST", "/clientes/abc/transacoes", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/1a/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/a1/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/ 1/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/1 /extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/%31/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes//extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"POST", "/clientes//transacoes", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/99999999999999999999/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/2147483648/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"POST", "/clientes/2147483648/transacoes", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/4294967297/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/9999999999/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/12345678901/extrato", ROUTE_NOT_FOUND, 0, NULL},
    /* at most 10 digits, even when the value would fit */
    {"GET", "/clientes/00000000001/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"POST", "/clientes/00000000001/transacoes", ROUTE_NOT_FOUND, 0, NULL},
    /* a bad id wins over a bad method: 404, not 405 */
    {"GET", "/clientes/0/transacoes", ROUTE_NOT_FOUND, 0, NULL},
    {"POST", "/clientes/abc/extrato", ROUTE_NOT_FOUND, 0, NULL},

    /* unknown paths */
    {"GET", "/clientes/1/extrato/", ROUTE_NOT_FOUND, 0, NULL},
    {"POST", "/clientes/1/transacoes/", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/1", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/1/", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/1/extratoX", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/1/extrat", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/1/EXTRATO", ROUTE_NOT_FOUND, 0, NULL},
    {"POST", "/clientes/1/transacoesX", ROUTE_NOT_FOUND, 0, NULL},
    {"POST", "/clientes/1/transacao", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/1//extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/1/2/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientesX/1/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/Clientes/1/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "clientes/1/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "//clientes/1/extrato", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/clientes/1/extrato?x=1", ROUTE_NOT_FOUND, 0, NULL}, /* the caller cuts the query */
    {"GET", "/", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "/foo", ROUTE_NOT_FOUND, 0, NULL},
    {"GET", "", ROUTE_NOT_FOUND, 0, NULL},
    {"POST", "/", ROUTE_NOT_FOUND, 0, NULL},

    /* known path, wrong method (exact, case-sensitive compare) */
    {"GET", "/clientes/1/transacoes", ROUTE_METHOD_NOT_ALLOWED, 0, "POST"},
    {"PUT", "/clientes/1/transacoes", ROUTE_METHOD_NOT_ALLOWED, 0, "POST"},
    {"post", "/clientes/1/transacoes", ROUTE_METHOD_NOT_ALLOWED, 0, "POST"},
    {"POSTX", "/clientes/1/transacoes", ROUTE_METHOD_NOT_ALLOWED, 0, "POST"},
    {"POS", "/clientes/1/transacoes", ROUTE_METHOD_NOT_ALLOWED, 0, "POST"},
    {"POST", "/clientes/1/extrato", ROUTE_METHOD_NOT_ALLOWED, 0, "GET"},
    {"PUT", "/clientes/1/extrato", ROUTE_METHOD_NOT_ALLOWED, 0, "GET"},
    {"DELETE", "/clientes/1/extrato", ROUTE_METHOD_NOT_ALLOWED, 0, "GET"},
    {"HEAD", "/clientes/1/extrato", ROUTE_METHOD_NOT_ALLOWED, 0, "GET"},
    {"get", "/clientes/1/extrato", ROUTE_METHOD_NOT_ALLOWED, 0, "GET"},
    {"Get", "/clientes/1/extrato", ROUTE_METHOD_NOT_ALLOWED, 0, "GET"},
    {"GETX", "/clientes/1/extrato", ROUTE_METHOD_NOT_ALLOWED, 0, "GET"},
    {"GE", "/clientes/1/extrato", ROUTE_METHOD_NOT_ALLOWED, 0, "GET"},
    {"", "/clientes/1/extrato", ROUTE_METHOD_NOT_ALLOWED, 0, "GET"},
    {"POST", "/clientes/6/extrato", ROUTE_METHOD_NOT_ALLOWED, 0, "GET"},
    {"GET", "/clientes/2147483647/transacoes", ROUTE_METHOD_NOT_ALLOWED, 0, "POST"},
};

static void check_route(const route_case_t *c, route_t r, const char *what)
{
    ck_assert_msg(r.kind == c->kind, "%s %s %s: kind %s, expected %s", what, c->method, c->path,
                  route_name(r.kind), route_name(c->kind));
    if (c->kind == ROUTE_TRANSACAO || c->kind == ROUTE_EXTRATO)
        ck_assert_msg(r.client_id == c->client_id, "%s %s %s: client_id %" PRId32 ", expected %" PRId32, what,
                      c->method, c->path, r.client_id, c->client_id);
    if (c->kind == ROUTE_METHOD_NOT_ALLOWED) {
        ck_assert_msg(r.allow != NULL, "%s %s %s: allow is NULL, expected \"%s\"", what, c->method, c->path,
                      c->allow);
        ck_assert_msg(strcmp(r.allow, c->allow) == 0, "%s %s %s: allow \"%s\", expected \"%s\"", what,
                      c->method, c->path, r.allow, c->allow);
    }
}

START_TEST(test_route_table)
{
    const route_case_t *c = &route_cases[_i];
    size_t ml = strlen(c->method), pl = strlen(c->path);

    /* exact-length heap copies: any read past the length is an ASan error */
    check_route(c, route_exact(c->method, ml, c->path, pl), "exact buffers:");

    /* the same bytes followed by trailing garbage that is outside the length */
    char mbuf[64], pbuf[128];
    ck_assert(ml + 8 <= sizeof(mbuf) && pl + 8 <= sizeof(pbuf));
    memcpy(mbuf, c->method, ml);
    memcpy(mbuf + ml, "GARBAGE", 8);
    memcpy(pbuf, c->path, pl);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): deliberately unterminated */
    memcpy(pbuf + pl, "/extrato", 8);
    check_route(c, route_match(mbuf, ml, pbuf, pl), "trailing garbage:");
}
END_TEST

/* The path is length-delimited: the server passes it without the query. */
START_TEST(test_route_len_excludes_query)
{
    static const char path[] = "/clientes/1/extrato?x";
    route_t r = route_match(LIT("GET"), path, sizeof(path) - 1 - 2);
    ck_assert_msg(r.kind == ROUTE_EXTRATO, "\"/clientes/1/extrato?x\" with len excluding \"?x\": got %s",
                  route_name(r.kind));
    ck_assert_int_eq(r.client_id, 1);

    static const char tpath[] = "/clientes/42/transacoes?a=b&c";
    r = route_match(LIT("POST"), tpath, strlen("/clientes/42/transacoes"));
    ck_assert_msg(r.kind == ROUTE_TRANSACAO, "transacoes with query cut by len: got %s", route_name(r.kind));
    ck_assert_int_eq(r.client_id, 42);
}
END_TEST

/* A length shorter than the string must cut the path, never be extended. */
START_TEST(test_route_len_truncates)
{
    static const char path[] = "/clientes/1/extrato";
    route_t r = route_match(LIT("GET"), path, sizeof(path) - 2); /* "/clientes/1/extrat" */
    ck_assert_msg(r.kind == ROUTE_NOT_FOUND, "truncated \"/clientes/1/extrat\": got %s", route_name(r.kind));

    r = route_match(LIT("GET"), path, strlen("/clientes/1")); /* no suffix left */
    ck_assert_msg(r.kind == ROUTE_NOT_FOUND, "truncated \"/clientes/1\": got %s", route_name(r.kind));

    r = route_match(LIT("GET"), path, strlen("/clientes/")); /* exactly the prefix */
    ck_assert_msg(r.kind == ROUTE_NOT_FOUND, "truncated \"/clientes/\": got %s", route_name(r.kind));

    r = route_match(LIT("GET"), path, 0);
    ck_assert_msg(r.kind == ROUTE_NOT_FOUND, "path_len 0: got %s", route_name(r.kind));

    /* the method is length-delimited too: "GETX" with len 3 is "GET" */
    r = route_match("GETX", 3, path, sizeof(path) - 1);
    ck_assert_msg(r.kind == ROUTE_EXTRATO, "method \"GETX\" with len 3: got %s", route_name(r.kind));
    ck_assert_int_eq(r.client_id, 1);

    /* ... and "GET" with len 2 is "GE" */
    r = route_match("GET", 2, path, sizeof(path) - 1);
    ck_assert_msg(r.kind == ROUTE_METHOD_NOT_ALLOWED, "method \"GET\" with len 2: got %s",
                  route_name(r.kind));
    ck_assert_str_eq(r.allow, "GET");
}
END_TEST

/* Embedded NUL bytes are data, not terminators. */
START_TEST(test_route_embedded_nul)
{
    route_t r = route_exact(LIT("GET"), LIT("/clientes/1\0/extrato"));
    ck_assert_msg(r.kind == ROUTE_NOT_FOUND, "NUL inside id: got %s", route_name(r.kind));

    r = route_exact(LIT("GET"), LIT("/clientes/1/extrato\0"));
    ck_assert_msg(r.kind == ROUTE_NOT_FOUND, "NUL after path: got %s", route_name(r.kind));

    r = route_exact(LIT("GET"), LIT("/clientes\0/1/extrato"));
    ck_assert_msg(r.kind == ROUTE_NOT_FOUND, "NUL inside prefix: got %s", route_name(r.kind));

    r = route_exact(LIT("GET\0"), LIT("/clientes/1/extrato"));
    ck_assert_msg(r.kind == ROUTE_METHOD_NOT_ALLOWED, "method \"GET\\0\": got %s", route_name(r.kind));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* transacao_parse: valid bodies                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *body;
    size_t len;
    int64_t valor;
    tipo_t tipo;
    const char *descricao; /* expected decoded bytes */
    size_t descricao_len;
    size_t descricao_chars;
} valid_case_t;

#define UTF8_C "\xc3\xa7"             /* ç, U+00E7, 2 bytes */
#define UTF8_EURO "\xe2\x82\xac"      /* €, U+20AC, 3 bytes */
#define UTF8_EMOJI "\xf0\x9f\x98\x80" /* 😀, U+1F600, 4 bytes */
#define X10(s) s s s s s s s s s s
#define X11(s) X10(s) s

static const valid_case_t valid_cases[] = {
    {LIT("{\"valor\":1000,\"tipo\":\"c\",\"descricao\":\"descricao\"}"), 1000, TIPO_CREDITO, LIT("descricao"),
     9},
    {LIT("{\"valor\":1000,\"tipo\":\"d\",\"descricao\":\"descricao\"}"), 1000, TIPO_DEBITO, LIT("descricao"),
     9},
    /* keys in any order */
    {LIT("{\"descricao\":\"abc\",\"tipo\":\"d\",\"valor\":7}"), 7, TIPO_DEBITO, LIT("abc"), 3},
    {LIT("{\"tipo\":\"c\",\"descricao\":\"x\",\"valor\":42}"), 42, TIPO_CREDITO, LIT("x"), 1},
    /* unknown extra keys of any type are ignored */
    {LIT("{\"valor\":5,\"tipo\":\"c\",\"descricao\":\"toma\",\"extra\":[1,{\"a\":null}],\"x\":1.5,\"y\":"
         "\"z\"}"),
     5, TIPO_CREDITO, LIT("toma"), 4},
    {LIT("{\"id\":3,\"valor\":5,\"Valor\":\"no\",\"TIPO\":0,\"tipo\":\"d\",\"descricao\":\"devolve\"}"), 5,
     TIPO_DEBITO, LIT("devolve"), 7},
    /* valor limits */
    {LIT("{\"valor\":1,\"tipo\":\"c\",\"descricao\":\"um\"}"), 1, TIPO_CREDITO, LIT("um"), 2},
    {LIT("{\"valor\":9007199254740991,\"tipo\":\"c\",\"descricao\":\"max\"}"), REQUEST_VALOR_MAX,
     TIPO_CREDITO, LIT("max"), 3},
    /* descricao: exactly 10 ASCII characters */
    {LIT("{\"valor\":10,\"tipo\":\"c\",\"descricao\":\"0123456789\"}"), 10, TIPO_CREDITO, LIT("0123456789"),
     10},
    /* "descrição": 9 characters, 11 bytes */
    {LIT("{\"valor\":10,\"tipo\":\"c\",\"descricao\":\"descri" UTF8_C "\xc3\xa3o\"}"), 10, TIPO_CREDITO,
     LIT("descri" UTF8_C "\xc3\xa3o"), 9},
    /* 10 two-byte characters (20 bytes) */
    {LIT("{\"valor\":10,\"tipo\":\"d\",\"descricao\":\"" X10(UTF8_C) "\"}"), 10, TIPO_DEBITO,
     LIT(X10(UTF8_C)), 10},
    /* 10 three-byte characters (30 bytes) */
    {LIT("{\"valor\":10,\"tipo\":\"d\",\"descricao\":\"" X10(UTF8_EURO) "\"}"), 10, TIPO_DEBITO,
     LIT(X10(UTF8_EURO)), 10},
    /* 10 four-byte characters (40 bytes, REQUEST_DESCRICAO_MAX_BYTES) */
    {LIT("{\"valor\":10,\"tipo\":\"d\",\"descricao\":\"" X10(UTF8_EMOJI) "\"}"), 10, TIPO_DEBITO,
     LIT(X10(UTF8_EMOJI)), 10},
    /* 10 four-byte characters written as surrogate-pair escapes */
    {LIT("{\"valor\":10,\"tipo\":\"d\",\"descricao\":\"" X10("\\ud83d\\ude00") "\"}"), 10, TIPO_DEBITO,
     LIT(X10(UTF8_EMOJI)), 10},
    /* escapes are decoded */
    {LIT("{\"valor\":3,\"tipo\":\"c\",\"descricao\":\"a\\\"b\"}"), 3, TIPO_CREDITO, LIT("a\"b"), 3},
    {LIT("{\"valor\":3,\"tipo\":\"c\",\"descricao\":\"\\u00e7\"}"), 3, TIPO_CREDITO, LIT(UTF8_C), 1},
    {LIT("{\"valor\":3,\"tipo\":\"c\",\"descricao\":\"a\\\\b\\/c\\n\\t\"}"), 3, TIPO_CREDITO,
     LIT("a\\b/c\n\t"), 7},
    {LIT("{\"valor\":3,\"tipo\":\"\\u0063\",\"descricao\":\"\\u0041\"}"), 3, TIPO_CREDITO, LIT("A"), 1},
    /* whitespace around and inside the object */
    {LIT(" \t\r\n{ \"valor\" : 2 , \"tipo\" : \"c\" , \"descricao\" : \"ws\" } \r\n\t "), 2, TIPO_CREDITO,
     LIT("ws"), 2},
    /* a descricao of spaces is still 1..10 characters */
    {LIT("{\"valor\":2,\"tipo\":\"c\",\"descricao\":\" \"}"), 2, TIPO_CREDITO, LIT(" "), 1},
};

static void check_valid(const valid_case_t *c, const char *body, size_t len)
{
    transacao_t t;
    memset(&t, 0xAB, sizeof(t));
    body_error_t e = transacao_parse(body, len, &t);
    ck_assert_msg(e == BODY_OK, "body %s: got %s, expected BODY_OK", show(c->body, c->len), body_name(e));
    ck_assert_msg(t.valor == c->valor, "body %s: valor %" PRId64 ", expected %" PRId64, show(c->body, c->len),
                  t.valor, c->valor);
    ck_assert_msg(t.tipo == c->tipo, "body %s: tipo '%c', expected '%c'", show(c->body, c->len), (char)t.tipo,
                  (char)c->tipo);
    ck_assert_msg(t.descricao_len == c->descricao_len, "body %s: descricao_len %zu, expected %zu",
                  show(c->body, c->len), t.descricao_len, c->descricao_len);
    ck_assert_msg(memcmp(t.descricao, c->descricao, c->descricao_len) == 0,
                  "body %s: descricao %s, expected %s", show(c->body, c->len),
                  show(t.descricao, t.descricao_len), show(c->descricao, c->descricao_len));
    ck_assert_msg(t.descricao[t.descricao_len] == '\0', "body %s: descricao not NUL-terminated",
                  show(c->body, c->len));
    ck_assert_msg(memchr(t.descricao, '\0', t.descricao_len) == NULL, "body %s: NUL inside descricao",
                  show(c->body, c->len));
    size_t chars = utf8_char_count(t.descricao, t.descricao_len);
    ck_assert_msg(chars == c->descricao_chars, "body %s: %zu characters, expected %zu", show(c->body, c->len),
                  chars, c->descricao_chars);
}

START_TEST(test_body_valid)
{
    const valid_case_t *c = &valid_cases[_i];
    char *b = dup_exact(c->body, c->len);
    check_valid(c, b, c->len);
    free(b);

    /* the same body followed by bytes outside the length must be unaffected */
    char *g = malloc(c->len + 9);
    ck_assert(g != NULL);
    memcpy(g, c->body, c->len);
    memcpy(g + c->len, "}garbage", 9);
    check_valid(c, g, c->len);
    free(g);
}
END_TEST

/* REQUEST_VALOR_MAX and REQUEST_VALOR_MAX + 1, built from the macro itself. */
START_TEST(test_body_valor_max_macro)
{
    char buf[128];
    transacao_t t;

    int n = snprintf(buf, sizeof(buf), "{\"valor\":%" PRId64 ",\"tipo\":\"c\",\"descricao\":\"m\"}",
                     REQUEST_VALOR_MAX);
    ck_assert(n > 0 && (size_t)n < sizeof(buf));
    body_error_t e = parse_exact(buf, (size_t)n, &t);
    ck_assert_msg(e == BODY_OK, "body %s: got %s, expected BODY_OK", buf, body_name(e));
    ck_assert_msg(t.valor == REQUEST_VALOR_MAX, "valor %" PRId64 ", expected REQUEST_VALOR_MAX", t.valor);

    n = snprintf(buf, sizeof(buf), "{\"valor\":%" PRId64 ",\"tipo\":\"c\",\"descricao\":\"m\"}",
                 REQUEST_VALOR_MAX + 1);
    ck_assert(n > 0 && (size_t)n < sizeof(buf));
    e = parse_exact(buf, (size_t)n, &t);
    ck_assert_msg(e == BODY_INVALID_VALOR, "body %s: got %s, expected BODY_INVALID_VALOR", buf, body_name(e));
}
END_TEST

/* A valid object inside a longer, non-NUL-terminated buffer: only `len` counts. */
START_TEST(test_body_len_delimited)
{
    static const char buf[] = "{\"valor\":12,\"tipo\":\"d\",\"descricao\":\"abc\"} trailing {{{ garbage \xff";
    size_t obj_len = strlen("{\"valor\":12,\"tipo\":\"d\",\"descricao\":\"abc\"}");
    transacao_t t;
    body_error_t e = transacao_parse(buf, obj_len, &t);
    ck_assert_msg(e == BODY_OK, "object followed by garbage beyond len: got %s", body_name(e));
    ck_assert_int_eq(t.valor, 12);
    ck_assert_int_eq(t.tipo, TIPO_DEBITO);
    ck_assert_uint_eq(t.descricao_len, 3);
    ck_assert_str_eq(t.descricao, "abc");

    /* the whole buffer (garbage included) is malformed */
    e = transacao_parse(buf, sizeof(buf) - 1, &t);
    ck_assert_msg(e == BODY_MALFORMED, "object plus trailing garbage within len: got %s", body_name(e));
}
END_TEST

/* Every proper prefix of a valid body is malformed (length cuts the input). */
START_TEST(test_body_truncated_prefixes)
{
    static const char body[] = "{\"valor\":1000,\"tipo\":\"c\",\"descricao\":\"descri" UTF8_C "\xc3\xa3o\"}";
    const size_t full = sizeof(body) - 1;
    transacao_t t;
    for (size_t len = 0; len < full; len++) {
        body_error_t e = parse_exact(body, len, &t);
        ck_assert_msg(e == BODY_MALFORMED, "prefix of %zu/%zu bytes %s: got %s, expected BODY_MALFORMED", len,
                      full, show(body, len), body_name(e));
    }
    ck_assert_int_eq(parse_exact(body, full, &t), BODY_OK);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* transacao_parse: refusals                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *body;
    size_t len;
    body_error_t expected;
} body_case_t;

#define TD_C ",\"tipo\":\"c\",\"descricao\":\"descricao\""
#define BODY_VALOR(v) "{\"valor\":" v TD_C "}"

static const body_case_t valor_cases[] = {
    {LIT(BODY_VALOR("1.2")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("1.0")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("1e3")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("1E3")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("100.00")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("0.5")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("\"100\"")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("\"\"")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("0")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("-0")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("-1")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("-1000")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("null")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("true")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("false")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("[]")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("[1]")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("{}")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("9007199254740992")), BODY_INVALID_VALOR}, /* REQUEST_VALOR_MAX + 1 */
    {LIT(BODY_VALOR("9223372036854775807")), BODY_INVALID_VALOR},
    {LIT(BODY_VALOR("-9223372036854775808")), BODY_INVALID_VALOR},
    /* beyond 64 bits: jansson refuses the number at parse time */
    {LIT(BODY_VALOR("99999999999999999999")), BODY_MALFORMED},
    {LIT(BODY_VALOR("9223372036854775808")), BODY_MALFORMED},
    /* missing (and a near-miss key name) */
    {LIT("{\"tipo\":\"c\",\"descricao\":\"descricao\"}"), BODY_INVALID_VALOR},
    {LIT("{\"Valor\":1" TD_C "}"), BODY_INVALID_VALOR},
    {LIT("{\"valor \":1" TD_C "}"), BODY_INVALID_VALOR},
    {LIT("{}"), BODY_INVALID_VALOR},
};

#define BODY_TIPO(t) "{\"valor\":1000,\"tipo\":" t ",\"descricao\":\"descricao\"}"

static const body_case_t tipo_cases[] = {
    {LIT(BODY_TIPO("\"x\"")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("\"C\"")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("\"D\"")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("\"cd\"")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("\"cc\"")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("\" c\"")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("\"c \"")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("\"credito\"")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("\"\"")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("\"" UTF8_C "\"")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("null")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("1")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("99")), BODY_INVALID_TIPO}, /* 'c' as a number */
    {LIT(BODY_TIPO("true")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("[\"c\"]")), BODY_INVALID_TIPO},
    {LIT(BODY_TIPO("{}")), BODY_INVALID_TIPO},
    {LIT("{\"valor\":1000,\"descricao\":\"descricao\"}"), BODY_INVALID_TIPO}, /* missing */
    {LIT("{\"valor\":1000,\"Tipo\":\"c\",\"descricao\":\"descricao\"}"), BODY_INVALID_TIPO},
    /* jansson refuses \u0000 at parse time (no JSON_ALLOW_NUL) */
    {LIT(BODY_TIPO("\"c\\u0000\"")), BODY_MALFORMED},
    {LIT(BODY_TIPO("\"\\u0000\"")), BODY_MALFORMED},
};

#define BODY_DESC(d) "{\"valor\":1000,\"tipo\":\"c\",\"descricao\":" d "}"

static const body_case_t descricao_cases[] = {
    {LIT(BODY_DESC("\"\"")), BODY_INVALID_DESCRICAO},
    {LIT(BODY_DESC("\"123456789 e mais um pouco\"")), BODY_INVALID_DESCRICAO},
    {LIT(BODY_DESC("\"01234567890\"")), BODY_INVALID_DESCRICAO},          /* 11 ASCII */
    {LIT(BODY_DESC("\"" X11(UTF8_C) "\"")), BODY_INVALID_DESCRICAO},      /* 11 x 2 bytes */
    {LIT(BODY_DESC("\"" X11(UTF8_EURO) "\"")), BODY_INVALID_DESCRICAO},   /* 11 x 3 bytes */
    {LIT(BODY_DESC("\"" X11(UTF8_EMOJI) "\"")), BODY_INVALID_DESCRICAO},  /* 11 x 4 = 44 bytes */
    {LIT(BODY_DESC("\"" X10(UTF8_C) "a\"")), BODY_INVALID_DESCRICAO},     /* 11 chars, 21 bytes */
    {LIT(BODY_DESC("\"" X10("\\u00e7") "a\"")), BODY_INVALID_DESCRICAO},  /* 11 chars via escapes */
    {LIT(BODY_DESC("\"0123456789" UTF8_C "\"")), BODY_INVALID_DESCRICAO}, /* 11 chars, 12 bytes */
    {LIT(BODY_DESC("null")), BODY_INVALID_DESCRICAO},
    {LIT(BODY_DESC("123")), BODY_INVALID_DESCRICAO},
    {LIT(BODY_DESC("1.5")), BODY_INVALID_DESCRICAO},
    {LIT(BODY_DESC("true")), BODY_INVALID_DESCRICAO},
    {LIT(BODY_DESC("[]")), BODY_INVALID_DESCRICAO},
    {LIT(BODY_DESC("[\"abc\"]")), BODY_INVALID_DESCRICAO},
    {LIT(BODY_DESC("{}")), BODY_INVALID_DESCRICAO},
    {LIT("{\"valor\":1000,\"tipo\":\"c\"}"), BODY_INVALID_DESCRICAO}, /* missing */
    {LIT("{\"valor\":1000,\"tipo\":\"c\",\"Descricao\":\"abc\"}"), BODY_INVALID_DESCRICAO},
    /* jansson refuses \u0000 at parse time (no JSON_ALLOW_NUL) */
    {LIT(BODY_DESC("\"ab\\u0000cd\"")), BODY_MALFORMED},
};

#define VALID_OBJ "{\"valor\":1000,\"tipo\":\"c\",\"descricao\":\"descricao\"}"

static const body_case_t malformed_cases[] = {
    {LIT(""), BODY_MALFORMED},
    {LIT(" "), BODY_MALFORMED},
    {LIT("\r\n\t "), BODY_MALFORMED},
    {LIT("{"), BODY_MALFORMED},
    {LIT("}"), BODY_MALFORMED},
    {LIT("{}}"), BODY_MALFORMED},
    {LIT("{}{}"), BODY_MALFORMED},
    {LIT(VALID_OBJ " x"), BODY_MALFORMED},
    {LIT(VALID_OBJ "}"), BODY_MALFORMED},
    {LIT(VALID_OBJ VALID_OBJ), BODY_MALFORMED},
    {LIT(VALID_OBJ ","), BODY_MALFORMED},
    {LIT("[1,2]"), BODY_MALFORMED},
    {LIT("[]"), BODY_MALFORMED},
    {LIT("[" VALID_OBJ "]"), BODY_MALFORMED},
    {LIT("\"str\""), BODY_MALFORMED},
    {LIT("123"), BODY_MALFORMED},
    {LIT("1.5"), BODY_MALFORMED},
    {LIT("null"), BODY_MALFORMED},
    {LIT("true"), BODY_MALFORMED},
    /* duplicate keys, known or unknown */
    {LIT("{\"valor\":1,\"valor\":2,\"tipo\":\"c\",\"descricao\":\"descricao\"}"), BODY_MALFORMED},
    {LIT("{\"valor\":1,\"tipo\":\"c\",\"tipo\":\"d\",\"descricao\":\"descricao\"}"), BODY_MALFORMED},
    {LIT("{\"valor\":1,\"tipo\":\"c\",\"descricao\":\"a\",\"descricao\":\"b\"}"), BODY_MALFORMED},
    {LIT("{\"valor\":1,\"tipo\":\"c\",\"descricao\":\"a\",\"x\":1,\"x\":1}"), BODY_MALFORMED},
    /* invalid UTF-8 in a string */
    {LIT(BODY_DESC("\"\xff\"")), BODY_MALFORMED},
    {LIT(BODY_DESC("\"abc\xff\"")), BODY_MALFORMED},
    {LIT(BODY_DESC("\"\xc3\"")), BODY_MALFORMED},             /* truncated 2-byte sequence */
    {LIT(BODY_DESC("\"\xe2\x82\"")), BODY_MALFORMED},         /* truncated 3-byte sequence */
    {LIT(BODY_DESC("\"\xc0\xaf\"")), BODY_MALFORMED},         /* overlong '/' */
    {LIT(BODY_DESC("\"\xed\xa0\x80\"")), BODY_MALFORMED},     /* UTF-8-encoded surrogate */
    {LIT(BODY_DESC("\"\xf4\x90\x80\x80\"")), BODY_MALFORMED}, /* > U+10FFFF */
    {LIT(BODY_DESC("\"\x80\"")), BODY_MALFORMED},             /* lone continuation byte */
    {LIT(BODY_DESC("\"\\ud800\"")), BODY_MALFORMED},          /* lone surrogate escape */
    {LIT(BODY_DESC("\"\\ude00\"")), BODY_MALFORMED},          /* lone low surrogate escape */
    {LIT("{\"valor\":1,\"tipo\":\"c\",\"descricao\":\"a\",\"\xff\":1}"), BODY_MALFORMED},
    /* raw NUL bytes inside the (length-delimited) buffer */
    {LIT(VALID_OBJ "\0"), BODY_MALFORMED},
    {LIT("\0" VALID_OBJ), BODY_MALFORMED},
    {LIT(BODY_DESC("\"ab\0cd\"")), BODY_MALFORMED},
    {LIT("{\"valor\":1000,\0\"tipo\":\"c\",\"descricao\":\"descricao\"}"), BODY_MALFORMED},
    /* raw control characters inside a string */
    {LIT(BODY_DESC("\"a\nb\"")), BODY_MALFORMED},
    {LIT(BODY_DESC("\"a\tb\"")), BODY_MALFORMED},
    /* not JSON */
    {LIT("{'valor':1000,'tipo':'c','descricao':'descricao'}"), BODY_MALFORMED},
    {LIT("{\"valor\":1000,\"tipo\":'c',\"descricao\":\"descricao\"}"), BODY_MALFORMED},
    {LIT("{/* c */\"valor\":1000,\"tipo\":\"c\",\"descricao\":\"descricao\"}"), BODY_MALFORMED},
    {LIT("// c\n" VALID_OBJ), BODY_MALFORMED},
    {LIT(VALID_OBJ " /* c */"), BODY_MALFORMED},
    {LIT("{valor:1000,tipo:\"c\",descricao:\"descricao\"}"), BODY_MALFORMED},
    {LIT("{\"valor\":1000,\"tipo\":\"c\",\"descricao\":\"descricao\",}"), BODY_MALFORMED},
    {LIT("{\"valor\":1000 \"tipo\":\"c\",\"descricao\":\"descricao\"}"), BODY_MALFORMED},
    {LIT(BODY_VALOR("NaN")), BODY_MALFORMED},
    {LIT(BODY_VALOR("Infinity")), BODY_MALFORMED},
    {LIT(BODY_VALOR("01")), BODY_MALFORMED},
    {LIT(BODY_VALOR("+1")), BODY_MALFORMED},
    {LIT(BODY_VALOR("0x10")), BODY_MALFORMED},
    {LIT(BODY_VALOR("1.")), BODY_MALFORMED},
    {LIT(BODY_DESC("\"\\x41\"")), BODY_MALFORMED},  /* invalid escape */
    {LIT(BODY_DESC("\"\\u00e\"")), BODY_MALFORMED}, /* short \u escape */
    {LIT(BODY_DESC("\"abc")), BODY_MALFORMED},      /* unterminated string */
};

static void run_body_case(const body_case_t *c)
{
    transacao_t t;
    body_error_t e = parse_exact(c->body, c->len, &t);
    ck_assert_msg(e == c->expected, "body %s (%zu bytes): got %s, expected %s", show(c->body, c->len), c->len,
                  body_name(e), body_name(c->expected));
}

START_TEST(test_body_valor)
{
    run_body_case(&valor_cases[_i]);
}
END_TEST

START_TEST(test_body_tipo)
{
    run_body_case(&tipo_cases[_i]);
}
END_TEST

START_TEST(test_body_descricao)
{
    run_body_case(&descricao_cases[_i]);
}
END_TEST

START_TEST(test_body_malformed)
{
    run_body_case(&malformed_cases[_i]);
}
END_TEST

/* The five invalid payloads of the official load test all get a refusal. */
START_TEST(test_body_official_invalid)
{
    static const body_case_t official[] = {
        {LIT("{\"valor\":1.2,\"tipo\":\"d\",\"descricao\":\"devolve\"}"), BODY_INVALID_VALOR},
        {LIT("{\"valor\":1,\"tipo\":\"x\",\"descricao\":\"devolve\"}"), BODY_INVALID_TIPO},
        {LIT("{\"valor\":1,\"tipo\":\"c\",\"descricao\":\"123456789 e mais um pouco\"}"),
         BODY_INVALID_DESCRICAO},
        {LIT("{\"valor\":1,\"tipo\":\"c\",\"descricao\":\"\"}"), BODY_INVALID_DESCRICAO},
        {LIT("{\"valor\":1,\"tipo\":\"c\",\"descricao\":null}"), BODY_INVALID_DESCRICAO},
    };
    for (size_t i = 0; i < ARRAY_LEN(official); i++)
        run_body_case(&official[i]);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* utf8_char_count and body_error_message                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *s;
    size_t len;
    size_t expected;
} utf8_case_t;

static const utf8_case_t utf8_cases[] = {
    {LIT(""), 0},
    {LIT("a"), 1},
    {LIT("descricao"), 9},
    {LIT("0123456789"), 10},
    {LIT(UTF8_C), 1},
    {LIT(UTF8_EURO), 1},
    {LIT(UTF8_EMOJI), 1},
    {LIT("a" UTF8_C UTF8_EURO UTF8_EMOJI), 4},
    {LIT("descri" UTF8_C "\xc3\xa3o"), 9},
    {LIT(X10(UTF8_C)), 10},
    {LIT(X10(UTF8_EURO)), 10},
    {LIT(X10(UTF8_EMOJI)), 10},
    {LIT(X11(UTF8_EMOJI)), 11},
    {LIT("\xf4\x8f\xbf\xbf"), 1}, /* U+10FFFF */
    {"abc", 2, 2},                /* only `len` bytes count */
    {"abc", 0, 0},
};

START_TEST(test_utf8_char_count)
{
    const utf8_case_t *c = &utf8_cases[_i];
    char *s = dup_exact(c->s, c->len);
    size_t n = utf8_char_count(s, c->len);
    free(s);
    ck_assert_msg(n == c->expected, "utf8_char_count(%s, %zu) = %zu, expected %zu", show(c->s, c->len),
                  c->len, n, c->expected);
}
END_TEST

START_TEST(test_body_error_message)
{
    static const body_error_t all[] = {BODY_OK, BODY_MALFORMED, BODY_INVALID_VALOR, BODY_INVALID_TIPO,
                                       BODY_INVALID_DESCRICAO};
    for (size_t i = 0; i < ARRAY_LEN(all); i++) {
        const char *m = body_error_message(all[i]);
        ck_assert_msg(m != NULL, "body_error_message(%s) is NULL", body_name(all[i]));
        ck_assert_msg(m[0] != '\0', "body_error_message(%s) is empty", body_name(all[i]));
        /* The server pastes the message into a JSON string unescaped. */
        ck_assert_msg(strpbrk(m, "\"\\") == NULL, "body_error_message(%s) needs JSON escaping: %s",
                      body_name(all[i]), m);
        /* the errors are told apart */
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(m, body_error_message(all[j])) != 0,
                          "body_error_message(%s) equals body_error_message(%s): \"%s\"", body_name(all[i]),
                          body_name(all[j]), m);
    }
    /* a value outside the enum still gets a non-empty message */
    const char *m = body_error_message((body_error_t)99);
    ck_assert_msg(m != NULL && m[0] != '\0', "body_error_message(99) is NULL or empty");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* suites                                                                   */
/* ------------------------------------------------------------------------ */

static Suite *route_suite(void)
{
    Suite *s = suite_create("route_match");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, test_route_table, 0, (int)ARRAY_LEN(route_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("lengths");
    tcase_add_test(tc, test_route_len_excludes_query);
    tcase_add_test(tc, test_route_len_truncates);
    tcase_add_test(tc, test_route_embedded_nul);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *body_suite(void)
{
    Suite *s = suite_create("transacao_parse");
    TCase *tc = tcase_create("valid");
    tcase_add_loop_test(tc, test_body_valid, 0, (int)ARRAY_LEN(valid_cases));
    tcase_add_test(tc, test_body_valor_max_macro);
    tcase_add_test(tc, test_body_len_delimited);
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid_valor");
    tcase_add_loop_test(tc, test_body_valor, 0, (int)ARRAY_LEN(valor_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid_tipo");
    tcase_add_loop_test(tc, test_body_tipo, 0, (int)ARRAY_LEN(tipo_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid_descricao");
    tcase_add_loop_test(tc, test_body_descricao, 0, (int)ARRAY_LEN(descricao_cases));
    tcase_add_test(tc, test_body_official_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_body_malformed, 0, (int)ARRAY_LEN(malformed_cases));
    tcase_add_test(tc, test_body_truncated_prefixes);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- Idempotency-Key ---------------------------------------------------- */

static const struct {
    const char *value;
    int ok;
    const char *key; /* what is kept, when ok */
} idem_cases[] = {
    {"8e03978e-40d5-43e8-bc93-6894a57f9324", 1, "8e03978e-40d5-43e8-bc93-6894a57f9324"},
    {"\"8e03978e-40d5\"", 1, "8e03978e-40d5"}, /* structured-field string: quotes stripped */
    {"k", 1, "k"},
    {"a~!#$%&'()*+,-./:;<=>?@[]^_`{|}", 1, "a~!#$%&'()*+,-./:;<=>?@[]^_`{|}"},
    {"", 0, NULL},
    {"\"\"", 0, NULL},
    {"\"", 0, NULL},
    {"a b", 0, NULL},
    {"a\tb", 0, NULL},
    {"a\"b", 0, NULL},
    {"a\\b", 0, NULL},
    {"\"a", 0, NULL},
    {"caf\xc3\xa9", 0, NULL},
    {"a\x7f", 0, NULL},
};

START_TEST(test_idempotency_key)
{
    const char *v = idem_cases[_i].value, *key = NULL;
    size_t len = 0;
    int rc = idempotency_key_parse(v, strlen(v), &key, &len);
    ck_assert_msg((rc == 0) == idem_cases[_i].ok, "case %d (%s): rc %d", _i, v, rc);
    if (idem_cases[_i].ok) {
        ck_assert_uint_eq(len, strlen(idem_cases[_i].key));
        ck_assert_int_eq(memcmp(key, idem_cases[_i].key, len), 0);
    }
}
END_TEST

START_TEST(test_idempotency_key_length)
{
    char v[REQUEST_IDEM_KEY_MAX + 3];
    const char *key;
    size_t len;
    memset(v, 'k', sizeof(v));
    ck_assert_int_eq(idempotency_key_parse(v, REQUEST_IDEM_KEY_MAX, &key, &len), 0);
    ck_assert_uint_eq(len, REQUEST_IDEM_KEY_MAX);
    ck_assert_int_eq(idempotency_key_parse(v, REQUEST_IDEM_KEY_MAX + 1, &key, &len), -1);
    v[0] = v[REQUEST_IDEM_KEY_MAX + 1] = '"'; /* the quotes do not count */
    ck_assert_int_eq(idempotency_key_parse(v, REQUEST_IDEM_KEY_MAX + 2, &key, &len), 0);
    ck_assert_uint_eq(len, REQUEST_IDEM_KEY_MAX);
}
END_TEST

/* fmt.h against printf, at the edges and across magnitudes. */
static const int64_t fmt_cases[] = {
    0,
    1,
    -1,
    9,
    10,
    -10,
    99,
    100,
    12345,
    -9098,
    100000,
    999999999,
    1000000000,
    INT32_MAX,
    INT32_MIN,
    INT64_C(9007199254740991),
    INT64_MAX,
    INT64_MIN,
    INT64_MIN + 1,
};

START_TEST(test_fmt_i64)
{
    int64_t v = fmt_cases[_i];
    char want[32], got[FMT_INT64_MAX_LEN + 1];
    snprintf(want, sizeof(want), "%" PRId64, v);
    char *end = fmt_i64(got, v);
    ck_assert_uint_le((size_t)(end - got), FMT_INT64_MAX_LEN);
    *end = '\0';
    ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(test_fmt_u64_and_ms)
{
    char got[48];
    *fmt_u64(got, UINT64_MAX) = '\0';
    ck_assert_str_eq(got, "18446744073709551615");
    static const struct {
        uint64_t us;
        const char *ms;
    } ms[] = {{0, "0.000"}, {7, "0.007"}, {70, "0.070"}, {999, "0.999"}, {1000, "1.000"}, {12034, "12.034"}};
    for (size_t i = 0; i < ARRAY_LEN(ms); i++) {
        *fmt_ms(got, ms[i].us) = '\0';
        ck_assert_str_eq(got, ms[i].ms);
    }
    char *p = fmt_lit(got, "{\"saldo\":");
    *fmt_i64(p, -25) = '\0';
    ck_assert_str_eq(got, "{\"saldo\":-25");
}
END_TEST

static Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("utf8_char_count");
    tcase_add_loop_test(tc, test_utf8_char_count, 0, (int)ARRAY_LEN(utf8_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("idempotency_key");
    tcase_add_loop_test(tc, test_idempotency_key, 0, (int)ARRAY_LEN(idem_cases));
    tcase_add_test(tc, test_idempotency_key_length);
    suite_add_tcase(s, tc);

    tc = tcase_create("fmt");
    tcase_add_loop_test(tc, test_fmt_i64, 0, (int)ARRAY_LEN(fmt_cases));
    tcase_add_test(tc, test_fmt_u64_and_ms);
    suite_add_tcase(s, tc);

    tc = tcase_create("body_error_message");
    tcase_add_test(tc, test_body_error_message);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    RUN_SUITES(route_suite(), body_suite(), util_suite());
}

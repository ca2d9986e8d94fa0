/*
 * request.c - routing and body validation (see request.h).
 */
#include "request.h"

#include <jansson.h>
#include <string.h>

#define PREFIX "/clientes/"
#define SUFFIX_TRANSACOES "/transacoes"
#define SUFFIX_EXTRATO "/extrato"
#define ID_MAX_DIGITS 10

static int bytes_equal(const char *a, size_t a_len, const char *lit)
{
    size_t lit_len = strlen(lit);
    return a_len == lit_len && memcmp(a, lit, lit_len) == 0;
}

/* Reads a decimal id in 1..INT32_MAX from exactly `len` bytes; -1 if not one. */
static int64_t parse_id(const char *s, size_t len)
{
    if (len == 0 || len > ID_MAX_DIGITS)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return (v >= 1 && v <= INT32_MAX) ? v : -1;
}

route_t route_match(const char *method, size_t method_len, const char *path, size_t path_len)
{
    route_t r = {.kind = ROUTE_NOT_FOUND, .client_id = 0, .allow = NULL};
    const size_t prefix_len = strlen(PREFIX);
    if (path_len <= prefix_len || memcmp(path, PREFIX, prefix_len) != 0)
        return r;

    const char *id = path + prefix_len;
    const char *slash = memchr(id, '/', path_len - prefix_len);
    if (slash == NULL)
        return r;
    int64_t client_id = parse_id(id, (size_t)(slash - id));
    if (client_id < 0)
        return r;

    size_t suffix_len = path_len - (size_t)(slash - path);
    const char *expected_method;
    if (bytes_equal(slash, suffix_len, SUFFIX_TRANSACOES)) {
        r.kind = ROUTE_TRANSACAO;
        expected_method = "POST";
    } else if (bytes_equal(slash, suffix_len, SUFFIX_EXTRATO)) {
        r.kind = ROUTE_EXTRATO;
        expected_method = "GET";
    } else {
        return r;
    }

    if (!bytes_equal(method, method_len, expected_method)) {
        r.kind = ROUTE_METHOD_NOT_ALLOWED;
        r.allow = expected_method;
        return r;
    }
    r.client_id = (int32_t)client_id;
    return r;
}

size_t utf8_char_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        /* Count every byte that is not a continuation byte (10xxxxxx). */
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    }
    return n;
}

static body_error_t parse_valor(json_t *v, int64_t *out)
{
    /* jansson types 1.0, 1.2 and 1e3 as reals and refuses integers beyond
     * 64 bits at parse time, so an integer here is exact. */
    if (!json_is_integer(v))
        return BODY_INVALID_VALOR;
    json_int_t n = json_integer_value(v);
    if (n < 1 || n > REQUEST_VALOR_MAX)
        return BODY_INVALID_VALOR;
    *out = (int64_t)n;
    return BODY_OK;
}

static body_error_t parse_tipo(json_t *v, tipo_t *out)
{
    if (!json_is_string(v) || json_string_length(v) != 1)
        return BODY_INVALID_TIPO;
    char c = json_string_value(v)[0];
    if (c != TIPO_CREDITO && c != TIPO_DEBITO)
        return BODY_INVALID_TIPO;
    *out = (tipo_t)c;
    return BODY_OK;
}

static body_error_t parse_descricao(json_t *v, transacao_t *out)
{
    if (!json_is_string(v))
        return BODY_INVALID_DESCRICAO;
    /* jansson has already checked that the string is valid UTF-8, and it
     * refuses "\u0000" unless JSON_ALLOW_NUL is given, so the bytes are a
     * clean C string PostgreSQL's text type can hold. */
    size_t len = json_string_length(v);
    if (len == 0 || len > REQUEST_DESCRICAO_MAX_BYTES)
        return BODY_INVALID_DESCRICAO;
    const char *s = json_string_value(v);
    size_t chars = utf8_char_count(s, len);
    if (chars < 1 || chars > REQUEST_DESCRICAO_MAX_CHARS)
        return BODY_INVALID_DESCRICAO;
    memcpy(out->descricao, s, len);
    out->descricao[len] = '\0';
    out->descricao_len = len;
    return BODY_OK;
}

body_error_t transacao_parse(const char *body, size_t len, transacao_t *out)
{
    json_error_t jerr;
    /* Without JSON_DECODE_ANY only an object or array is accepted at the top
     * level; without JSON_DISABLE_EOF_CHECK trailing garbage is an error. */
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return BODY_MALFORMED;

    body_error_t err = BODY_MALFORMED;
    if (json_is_object(root)) {
        err = parse_valor(json_object_get(root, "valor"), &out->valor);
        if (err == BODY_OK)
            err = parse_tipo(json_object_get(root, "tipo"), &out->tipo);
        if (err == BODY_OK)
            err = parse_descricao(json_object_get(root, "descricao"), out);
    }
    json_decref(root);
    return err;
}

int idempotency_key_parse(const char *value, size_t len, const char **key, size_t *key_len)
{
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
        value++;
        len -= 2;
    }
    if (len == 0 || len > REQUEST_IDEM_KEY_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return -1;
    }
    *key = value;
    *key_len = len;
    return 0;
}

const char *body_error_message(body_error_t err)
{
    switch (err) {
    case BODY_OK:
        return "ok";
    case BODY_MALFORMED:
        return "body must be one JSON object";
    case BODY_INVALID_VALOR:
        return "valor must be a positive integer";
    case BODY_INVALID_TIPO:
        return "tipo must be c or d";
    case BODY_INVALID_DESCRICAO:
        return "descricao must be a string of 1 to 10 characters";
    }
    return "invalid body";
}

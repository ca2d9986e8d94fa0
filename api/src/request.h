/*
 * request.h - pure parsing and validation of the two endpoints' input.
 *
 * Nothing here touches h2o, libpq or the network: it turns a method, a path
 * and a body into either a fully validated command or a precise refusal, so
 * that it can be unit-tested and fuzzed on its own.
 */
#ifndef RINHA_REQUEST_H
#define RINHA_REQUEST_H

#include <stddef.h>
#include <stdint.h>

/* The largest accepted `valor`, in cents: 2^53 - 1, the largest integer that
 * every JSON client (JavaScript included) represents exactly. Bigger values
 * are refused with 422 at the edge; the database also guards its bigint
 * balance against overflow. */
#define REQUEST_VALOR_MAX INT64_C(9007199254740991)

/* `descricao` is 1..10 characters; a UTF-8 character is at most 4 bytes. */
#define REQUEST_DESCRICAO_MAX_CHARS 10
#define REQUEST_DESCRICAO_MAX_BYTES ((size_t)REQUEST_DESCRICAO_MAX_CHARS * 4)

typedef enum {
    ROUTE_TRANSACAO,          /* POST /clientes/{id}/transacoes */
    ROUTE_EXTRATO,            /* GET  /clientes/{id}/extrato    */
    ROUTE_NOT_FOUND,          /* unknown path or malformed/out-of-range id: 404 */
    ROUTE_METHOD_NOT_ALLOWED, /* known path, wrong method: 405 */
} route_kind_t;

typedef struct {
    route_kind_t kind;
    int32_t client_id; /* 1..INT32_MAX when kind is ROUTE_TRANSACAO or ROUTE_EXTRATO */
    const char *allow; /* the allowed method when kind is ROUTE_METHOD_NOT_ALLOWED */
} route_t;

/*
 * Matches a request line. `path` is the request target without its query
 * string (the caller cuts at '?'). Only exact paths match: no trailing slash,
 * no percent-decoding, the id in plain decimal digits (at most 10) with a
 * value in 1..INT32_MAX. Never fails: the result says what to answer.
 */
route_t route_match(const char *method, size_t method_len, const char *path, size_t path_len);

typedef enum {
    TIPO_CREDITO = 'c',
    TIPO_DEBITO = 'd',
} tipo_t;

typedef struct {
    int64_t valor; /* 1..REQUEST_VALOR_MAX */
    tipo_t tipo;
    size_t descricao_len;                            /* bytes, without the NUL */
    char descricao[REQUEST_DESCRICAO_MAX_BYTES + 1]; /* valid UTF-8, NUL-terminated, no NUL inside */
} transacao_t;

typedef enum {
    BODY_OK = 0,
    BODY_MALFORMED,         /* not a single JSON object (syntax, trailing garbage, duplicate keys) */
    BODY_INVALID_VALOR,     /* missing, not an integer, < 1, or > REQUEST_VALOR_MAX */
    BODY_INVALID_TIPO,      /* missing or not exactly "c" / "d" */
    BODY_INVALID_DESCRICAO, /* missing, not a string, or not 1..10 characters */
} body_error_t;

/*
 * Parses and validates a transaction body with jansson. On BODY_OK `out` is
 * filled; on any other result `out` is left in an unspecified state. Unknown
 * extra keys are ignored. Every refusal maps to 422.
 */
body_error_t transacao_parse(const char *body, size_t len, transacao_t *out);

/* A short, constant, human-readable reason for a body error (never NULL). */
const char *body_error_message(body_error_t err);

/* Longest accepted Idempotency-Key, in characters. */
#define REQUEST_IDEM_KEY_MAX 255

/*
 * Validates an Idempotency-Key header value (the IETF httpapi draft makes it
 * a structured-field string, so surrounding double quotes are accepted and
 * stripped; payment APIs send it bare). The key itself must be 1 to
 * REQUEST_IDEM_KEY_MAX visible ASCII characters other than '"' and '\' (a
 * UUID or any usual token fits). On success returns 0 and points `key` into
 * `value`; -1 if invalid.
 */
int idempotency_key_parse(const char *value, size_t len, const char **key, size_t *key_len);

/* Number of UTF-8 code points in a valid UTF-8 string of `len` bytes. */
size_t utf8_char_count(const char *s, size_t len);

#endif

/*
 * fuzz_request.c - libFuzzer harness over everything a request goes through
 * before the database: the router and the body parser/validator.
 *
 * Input layout: the first byte picks how many of the following bytes form
 * the method, the next the path length; the rest is the body. Besides "no
 * crash, no sanitizer report", it checks the invariants the server relies
 * on: an accepted body is always within the contract.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

static void check_route(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    size_t mlen = data[0] % 8, plen = data[1];
    data += 2;
    size -= 2;
    if (mlen + plen > size)
        return;
    route_t r = route_match((const char *)data, mlen, (const char *)data + mlen, plen);
    if ((r.kind == ROUTE_TRANSACAO || r.kind == ROUTE_EXTRATO) && r.client_id < 1)
        abort();
    if (r.kind == ROUTE_METHOD_NOT_ALLOWED && r.allow == NULL)
        abort();
}

static void check_body(const uint8_t *data, size_t size)
{
    transacao_t tx;
    if (transacao_parse((const char *)data, size, &tx) != BODY_OK)
        return;
    if (tx.valor < 1 || tx.valor > REQUEST_VALOR_MAX)
        abort();
    if (tx.tipo != TIPO_CREDITO && tx.tipo != TIPO_DEBITO)
        abort();
    size_t chars = utf8_char_count(tx.descricao, tx.descricao_len);
    if (chars < 1 || chars > REQUEST_DESCRICAO_MAX_CHARS || strlen(tx.descricao) != tx.descricao_len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_route(data, size);
    check_body(data, size);
    return 0;
}

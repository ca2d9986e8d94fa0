/*
 * fmt.h - decimal integers written straight into a buffer, for the hot path.
 *
 * Why not snprintf: a request formats up to a dozen integers (its answer,
 * its Server-Timing, the batch's parameters), and printf's format
 * interpreter was about 7% of a replica's CPU under load (perf record -p,
 * wrk at 128 connections: __vfprintf_internal, _IO_default_xsputn,
 * strchrnul, _itoa_word). Neither libc nor the Debian libraries we use
 * export a plain integer formatter; TechEmpower's h2o app carries one for
 * the same reason.
 *
 * Every function writes at `dst` without a terminating NUL and returns the
 * end of what it wrote, so calls chain: p = fmt_i64(fmt_lit(p, "x="), v).
 */
#ifndef RINHA_FMT_H
#define RINHA_FMT_H

#include <stdint.h>
#include <string.h>

/* Room for any int64_t in decimal, sign included (no NUL). */
#define FMT_INT64_MAX_LEN ((size_t)20)

static inline char *fmt_u64(char *dst, uint64_t v)
{
    char tmp[FMT_INT64_MAX_LEN];
    char *t = tmp + sizeof(tmp);
    do {
        *--t = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    size_t n = (size_t)(tmp + sizeof(tmp) - t);
    memcpy(dst, t, n);
    return dst + n;
}

static inline char *fmt_i64(char *dst, int64_t v)
{
    if (v >= 0)
        return fmt_u64(dst, (uint64_t)v);
    *dst++ = '-';
    /* Negate in unsigned arithmetic: -INT64_MIN does not fit an int64_t. */
    return fmt_u64(dst, 0 - (uint64_t)v);
}

/* Microseconds as milliseconds with three decimals ("12.034"). */
static inline char *fmt_ms(char *dst, uint64_t us)
{
    dst = fmt_u64(dst, us / 1000);
    unsigned frac = (unsigned)(us % 1000);
    dst[0] = '.';
    dst[1] = (char)('0' + frac / 100);
    dst[2] = (char)('0' + frac / 10 % 10);
    dst[3] = (char)('0' + frac % 10);
    return dst + 4;
}

/* A string literal, without its NUL. */
#define fmt_lit(dst, lit) ((char *)memcpy((dst), (lit), sizeof(lit) - 1) + sizeof(lit) - 1)

#endif

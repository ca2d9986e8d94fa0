/*
 * clock.h - a monotonic clock in microseconds, for the timings a request
 * reports (Server-Timing, metrics). h2o_now() is the loop's cached
 * millisecond clock: too coarse for sub-millisecond round trips.
 */
#ifndef RINHA_CLOCK_H
#define RINHA_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_us(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer (vDSO, ~20 ns). */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif

/*
 * unit.h - the main() every C unit test shares: runs its Check suites and
 * exits non-zero if any test failed.
 */
#ifndef RINHA_UNIT_H
#define RINHA_UNIT_H

#include <check.h>
#include <stdlib.h>

/* RUN_SUITES(suite, ...): the suites, built by their constructors. */
#define RUN_SUITES(...)                                                                                      \
    do {                                                                                                     \
        Suite *suites_[] = {__VA_ARGS__};                                                                    \
        return run_suites(suites_, sizeof(suites_) / sizeof(suites_[0]));                                    \
    } while (0)

static inline int run_suites(Suite *const *suites, size_t n)
{
    SRunner *sr = srunner_create(suites[0]);
    for (size_t i = 1; i < n; i++)
        srunner_add_suite(sr, suites[i]);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif

/* A minimal test harness for the C tests: CHECK records a failure and goes on, so one run
 * reports every broken expectation; check_finish prints "N passed, N failed" and gives the
 * process exit status. */
#ifndef RILLFLOW_TEST_CHECK_H
#define RILLFLOW_TEST_CHECK_H

#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include "rillflow.h"

static atomic_int check_passed;
static atomic_int check_failed;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (cond) {                                                                          \
            atomic_fetch_add(&check_passed, 1);                                              \
        } else {                                                                             \
            atomic_fetch_add(&check_failed, 1);                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
        }                                                                                    \
    } while (0)

/* Checks a call's status; on mismatch also prints the names and rf_last_error(). */
#define CHECK_STATUS(call, expected)                                                         \
    do {                                                                                     \
        rf_status check_got_ = (call);                                                       \
        rf_status check_want_ = (expected);                                                  \
        if (check_got_ == check_want_) {                                                     \
            atomic_fetch_add(&check_passed, 1);                                              \
        } else {                                                                             \
            atomic_fetch_add(&check_failed, 1);                                              \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n",        \
                    __FILE__, __LINE__, #call, rf_status_name(check_got_),                   \
                    rf_status_name(check_want_), rf_last_error());                           \
        }                                                                                    \
    } while (0)

#define CHECK_CONTAINS(haystack, needle)                                                     \
    do {                                                                                     \
        const char *check_h_ = (haystack);                                                   \
        if (check_h_ != NULL && strstr(check_h_, (needle)) != NULL) {                        \
            atomic_fetch_add(&check_passed, 1);                                              \
        } else {                                                                             \
            atomic_fetch_add(&check_failed, 1);                                              \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,  \
                    check_h_ ? check_h_ : "(null)", (needle));                               \
        }                                                                                    \
    } while (0)

static inline int check_finish(void) {
    int passed = atomic_load(&check_passed), failed = atomic_load(&check_failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

#endif

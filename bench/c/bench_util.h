/* What the benchmark programs share: a monotonic clock and failing loudly on an error. */
#ifndef RILLFLOW_BENCH_UTIL_H
#define RILLFLOW_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "rillflow.h"

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void must(rf_status status, const char *what) {
    if (status != RF_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, rf_status_name(status), rf_last_error());
        exit(1);
    }
}

#endif

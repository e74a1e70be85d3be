/* example.h: what every C example shares, so each example's page shows only its own subject.
 *
 * Include it first, before anything else: it sets _POSIX_C_SOURCE, which must come before any
 * system header to take effect. Everything here is static (inline), so each example stays one
 * .c file built on its own; nothing here is part of the Rillflow API.
 */
#ifndef RILLFLOW_EXAMPLE_H
#define RILLFLOW_EXAMPLE_H

#define _POSIX_C_SOURCE 200809L /* nanosleep() and strtok_r() under -std=c11 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rillflow.h"

/* --fast: the test suite runs every example without delays, so it checks the output quickly. */
static int example_fast;

/* Call first in main(): reads --fast from the command line. */
static inline void example_init(int argc, char **argv) {
    example_fast = argc > 1 && strcmp(argv[1], "--fast") == 0;
}

/* An example has nothing sensible to do after a failed call: say which call failed and why
 * (the status's name and rf_last_error(), this thread's last error message), and exit(1). */
static inline void check(rf_status status, const char *what) {
    if (status != RF_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, rf_status_name(status), rf_last_error());
        exit(1);
    }
}

/* Sleeps ms milliseconds, standing in for real work (a web call, a model writing), so that
 * watching a run live shows events arriving over time. Does nothing with --fast. */
static inline void pause_ms(long ms) {
    if (example_fast) return;
    struct timespec gap = {ms / 1000, (ms % 1000) * 1000 * 1000};
    nanosleep(&gap, NULL);
}

/* What a step calling an LLM does: streams count token deltas as TOKEN events (index = the
 * delta's position, 0, 1, 2, ...), pausing gap_ms after each, like a model writing. It also
 * collects the whole text, which the step usually goes on with: each delta is appended to
 * text, which must hold a string (e.g. "") and stays NUL-terminated within text_size bytes
 * (anything longer is cut). Before each delta it checks whether the run was cancelled, as a
 * long step should, so a cancelled run stops the stream early.
 * Returns RF_OK, or the first failure (RF_E_CANCELLED, or what rf_step_ctx_emit_token() returned). */
static inline rf_status stream_deltas(rf_step_ctx *ctx, const char *const *deltas, uint64_t count,
                                      char *text, size_t text_size, long gap_ms) {
    for (uint64_t index = 0; index < count; index++) {
        rf_status status = rf_step_ctx_check_cancelled(ctx);
        if (status != RF_OK) return status;
        status = rf_step_ctx_emit_token(ctx, deltas[index], (uint32_t)strlen(deltas[index]), index);
        if (status != RF_OK) return status;
        if (text_size > 0) {
            size_t used = strlen(text);
            if (used < text_size - 1) strncat(text, deltas[index], text_size - used - 1);
        }
        pause_ms(gap_ms);
    }
    return RF_OK;
}

#endif /* RILLFLOW_EXAMPLE_H */

/* Helpers shared by the stream tests: engines with small logs, and one-line emits. */
#ifndef RILLFLOW_TEST_STREAM_HELPERS_H
#define RILLFLOW_TEST_STREAM_HELPERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

static inline rf_engine *make_engine(uint32_t log_capacity, uint64_t history_bytes, uint32_t emit_timeout_ms) {
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.log_capacity = log_capacity;
    options.max_event_bytes = log_capacity ? 4096 : 0;
    options.history_bytes = history_bytes;
    options.emit_timeout_ms = emit_timeout_ms;
    rf_engine *engine = NULL;
    if (rf_engine_create(&options, &engine) != RF_OK) {
        fprintf(stderr, "engine: %s\n", rf_last_error());
        exit(2);
    }
    return engine;
}

static inline rf_run *make_run(rf_engine *engine, const char *name) {
    rf_run *run = NULL;
    if (rf_run_create_manual(engine, name, NULL, &run) != RF_OK) {
        fprintf(stderr, "run: %s\n", rf_last_error());
        exit(2);
    }
    return run;
}

static inline rf_status emit_kind(rf_run *run, rf_event_kind kind, const char *step, const char *topic,
                                  const char *data, uint64_t token_index) {
    rf_emit e = {.struct_size = sizeof e, .kind = kind, .step_name = step, .topic = topic,
                 .data = data, .data_len = data ? (uint32_t)strlen(data) : 0, .attempt = step ? 1 : 0,
                 .token_index = token_index};
    return rf_run_emit(run, &e, NULL);
}

static inline rf_subscription *subscribe(rf_run *run, rf_stream_mode mode, uint32_t flags, uint64_t start_seq) {
    rf_subscription_options options;
    rf_subscription_options_init(&options);
    options.mode = mode;
    options.flags = flags;
    options.start_seq = start_seq;
    rf_subscription *subscription = NULL;
    if (rf_subscription_create(run, &options, &subscription) != RF_OK) {
        fprintf(stderr, "subscribe: %s\n", rf_last_error());
        exit(2);
    }
    return subscription;
}

/* Reads everything until the end of the stream; returns the number of events, fills kinds. */
static inline int read_all(rf_subscription *subscription, rf_event_kind *kinds, uint64_t *seqs, int capacity) {
    int count = 0;
    rf_event event = {.struct_size = sizeof event};
    rf_status status;
    while ((status = rf_subscription_read(subscription, &event, 5000)) == RF_OK) {
        if (count < capacity) {
            if (kinds) kinds[count] = event.kind;
            if (seqs) seqs[count] = event.seq;
        }
        count++;
    }
    CHECK_STATUS(status, RF_E_END_OF_STREAM);
    return count;
}

#endif

/* Helpers shared by the workflow tests: building workflows in one line, reading a run's
 * events into a list, and a gate one thread opens for another. */
#ifndef RILLFLOW_TEST_WORKFLOW_HELPERS_H
#define RILLFLOW_TEST_WORKFLOW_HELPERS_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "check.h"

static inline void must(rf_status status, const char *what) {
    if (status != RF_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, rf_status_name(status), rf_last_error());
        exit(2);
    }
}

static inline rf_workflow *new_workflow(rf_engine *engine, const char *name) {
    rf_workflow *workflow = NULL;
    must(rf_workflow_create(engine, name, &workflow), "rf_workflow_create");
    return workflow;
}

static inline void add_step(rf_workflow *workflow, const char *name, const char *accepts, const char *sends,
                            rf_step_fn fn, void *user_data, const rf_step_options *options) {
    must(rf_workflow_add_step(workflow, name, accepts, sends, fn, user_data, NULL, options), name);
}

/* A pending run of a built workflow, with a subscription to every event attached first. */
static inline rf_run *start_run(rf_workflow *workflow, const rf_run_options *options, const char *input,
                                rf_subscription **out_subscription) {
    rf_run *run = NULL;
    must(rf_run_create(workflow, options, &run), "rf_run_create");
    if (out_subscription) must(rf_subscription_create(run, NULL, out_subscription), "rf_subscription_create");
    must(rf_run_start(run, input, input ? (uint32_t)strlen(input) : 0), "rf_run_start");
    return run;
}

/* One event as a test keeps it. */
typedef struct seen_event {
    rf_event_kind kind;
    uint64_t seq, run_id, parent_run_id;
    uint32_t attempt;
    char step[64];
    char topic[64];
    char data[512];
} seen_event;

/* Reads until the end of the stream (10 s at most per event); returns how many were read. */
static inline int read_events(rf_subscription *subscription, seen_event *events, int capacity) {
    int count = 0;
    rf_event event = {.struct_size = sizeof event};
    rf_status status;
    while ((status = rf_subscription_read(subscription, &event, 10000)) == RF_OK) {
        if (count < capacity) {
            seen_event *seen = &events[count];
            seen->kind = event.kind;
            seen->seq = event.seq;
            seen->run_id = event.run_id;
            seen->parent_run_id = event.parent_run_id;
            seen->attempt = event.attempt;
            snprintf(seen->step, sizeof seen->step, "%s", event.step_name);
            snprintf(seen->topic, sizeof seen->topic, "%s", event.topic);
            snprintf(seen->data, sizeof seen->data, "%s", event.data);
        }
        count++;
    }
    CHECK_STATUS(status, RF_E_END_OF_STREAM);
    return count;
}

/* The first event of `kind` at or after index `from`, or NULL. */
static inline const seen_event *find_event(const seen_event *events, int count, rf_event_kind kind, int from) {
    for (int i = from; i < count; i++) {
        if (events[i].kind == kind) return &events[i];
    }
    return NULL;
}

static inline int count_events(const seen_event *events, int count, rf_event_kind kind) {
    int n = 0;
    for (int i = 0; i < count; i++) n += events[i].kind == kind;
    return n;
}

/* A one-shot gate: wait() blocks until open() (or 10 s, which fails the test). */
typedef struct gate {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int open;
} gate;

#define GATE_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

static inline void gate_open(gate *g) {
    pthread_mutex_lock(&g->mutex);
    g->open = 1;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mutex);
}

static inline int gate_wait(gate *g) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&g->mutex);
    int rc = 0;
    while (!g->open && rc == 0) rc = pthread_cond_timedwait(&g->cond, &g->mutex, &deadline);
    int opened = g->open;
    pthread_mutex_unlock(&g->mutex);
    CHECK(opened);
    return opened;
}

static inline rf_status send_text(rf_step_ctx *ctx, const char *type, const char *text) {
    return rf_step_ctx_send(ctx, type, text, (uint32_t)strlen(text));
}

static inline rf_status stop_with(rf_step_ctx *ctx, const char *json) {
    return rf_step_ctx_stop(ctx, json, (uint32_t)strlen(json));
}

#endif

/* A native event producer for the Python benchmarks: emits token deltas into a manual run from
 * a thread of its own, as an engine step or an LLM client would, so the Python side measures
 * only what it does itself (consuming). Loaded with ctypes by bench/python/bench_python.py.
 *
 *   producer_start(run, count, payload_len, interval_ns) starts the thread: `count` token deltas
 *   of `payload_len` bytes (at least 21; each begins with the CLOCK_MONOTONIC time it was emitted,
 *   in ns, as decimal text), one after each sleep of interval_ns (0 = as fast as it can), then
 *   RUN_COMPLETED.
 *   producer_join(producer) waits for it and returns how many emits failed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench_util.h"

typedef struct producer {
    pthread_t thread;
    rf_run *run;
    uint64_t count, interval_ns;
    uint32_t payload_len;
    uint64_t failures;
} producer;

static void *produce(void *arg) {
    producer *p = arg;
    char payload[4096];
    memset(payload, 'x', sizeof payload);
    rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_TOKEN, .step_name = "write", .data = payload,
                 .data_len = p->payload_len, .attempt = 1};
    struct timespec gap = {(time_t)(p->interval_ns / 1000000000u), (long)(p->interval_ns % 1000000000u)};
    for (uint64_t i = 0; i < p->count; i++) {
        if (p->interval_ns) nanosleep(&gap, NULL);  /* paced like c.latency's producer */
        snprintf(payload, 21, "%020lld", (long long)now_ns());
        payload[20] = 'x';
        e.token_index = i;
        if (rf_run_emit(p->run, &e, NULL) != RF_OK) p->failures++;
    }
    if (rf_run_end(p->run, RF_EVENT_RUN_COMPLETED, "{\"result\":null}", 15) != RF_OK) p->failures++;
    return NULL;
}

void *producer_start(void *run, uint64_t count, uint32_t payload_len, uint64_t interval_ns) {
    producer *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->run = run;
    p->count = count;
    p->payload_len = payload_len < 21 ? 21 : payload_len > 4096 ? 4096 : payload_len;
    p->interval_ns = interval_ns;
    if (pthread_create(&p->thread, NULL, produce, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

uint64_t producer_join(void *handle) {
    producer *p = handle;
    pthread_join(p->thread, NULL);
    uint64_t failures = p->failures;
    free(p);
    return failures;
}

/* The reference for py.latency: the same pacing, but each "event" is only 8 bytes (its send
 * time) written to a pipe, so a Python reader measures the bare cost of waking an idle asyncio
 * loop on a file descriptor, with no Rillflow on the path.
 *   pipe_writer_start(fd, count, interval_ns) starts the thread; pipe_writer_join() waits. */
typedef struct pipe_writer {
    pthread_t thread;
    int fd;
    uint64_t count, interval_ns;
} pipe_writer;

static void *write_pipe(void *arg) {
    pipe_writer *w = arg;
    struct timespec gap = {(time_t)(w->interval_ns / 1000000000u), (long)(w->interval_ns % 1000000000u)};
    for (uint64_t i = 0; i < w->count; i++) {
        nanosleep(&gap, NULL);
        int64_t sent = now_ns();
        if (write(w->fd, &sent, sizeof sent) != (ssize_t)sizeof sent) break;
    }
    return NULL;
}

void *pipe_writer_start(int fd, uint64_t count, uint64_t interval_ns) {
    pipe_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->fd = fd;
    w->count = count;
    w->interval_ns = interval_ns;
    if (pthread_create(&w->thread, NULL, write_pipe, w) != 0) {
        free(w);
        return NULL;
    }
    return w;
}

void pipe_writer_join(void *handle) {
    pipe_writer *w = handle;
    pthread_join(w->thread, NULL);
    free(w);
}

/* Soak: many workflow runs started, streamed and cancelled concurrently, round after round, for
 * a given time. After each run it checks that every non-lossy subscriber saw every event once and
 * in order, ending with exactly one terminal event; at the end, that memory, file descriptors and
 * threads are back at their level after the first round (the engine's own threads included).
 *
 *   soak [seconds]      default 120; prints its figures and exits non-zero on any failure */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "rillflow.h"

enum { RUNS_PER_ROUND = 8, READERS_PER_RUN = 3 };

static atomic_long failures, events_seen, runs_done, runs_cancelled;

#define FAIL(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); atomic_fetch_add(&failures, 1); } while (0)

static void must(rf_status status, const char *what) {
    if (status != RF_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, rf_status_name(status), rf_last_error());
        exit(2);
    }
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint32_t next_random(uint32_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

/* ---- the workflow: split -> work (x N, some failing once) -> join ---- */

static rf_status split(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    rf_step_info info = {.struct_size = sizeof info};
    must(rf_step_ctx_get_info(ctx, &info), "info");
    for (int i = 0; i < 12; i++) {
        char item[8];
        int n = snprintf(item, sizeof item, "%d", i);
        rf_status status = rf_step_ctx_send(ctx, "item", item, (uint32_t)n);
        if (status != RF_OK) return status;
    }
    return RF_OK;
}

static rf_status work(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    rf_step_info info = {.struct_size = sizeof info};
    if (rf_step_ctx_get_info(ctx, &info) != RF_OK) return RF_E_CANCELLED;
    for (uint64_t i = 0; i < 4; i++) {
        if (rf_step_ctx_check_cancelled(ctx) != RF_OK) return RF_E_CANCELLED;
        rf_step_ctx_emit_token(ctx, "tok ", 4, i);
    }
    rf_step_ctx_set_state(ctx, "last", "1", 1);
    if (info.attempt == 1 && info.input_len == 1 && ((const char *)info.input)[0] == '7') {
        rf_step_ctx_set_error(ctx, "the seventh item fails once");
        return RF_E_SYSTEM;
    }
    return rf_step_ctx_send(ctx, "done", info.input, info.input_len);
}

static rf_status join(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    return rf_step_ctx_stop(ctx, "\"joined\"", 8);
}

/* ---- readers ---- */

typedef struct reader {
    pthread_t thread;
    rf_subscription *subscription;
    int lossy;
    int mode;
} reader;

static int is_terminal(rf_event_kind kind) {
    return kind == RF_EVENT_RUN_COMPLETED || kind == RF_EVENT_RUN_FAILED || kind == RF_EVENT_RUN_TIMED_OUT ||
           kind == RF_EVENT_RUN_CANCELLED;
}

static void *read_run(void *arg) {
    reader *r = arg;
    rf_event batch[64];
    batch[0].struct_size = sizeof(rf_event);
    uint64_t expected = 1, last = 0;
    int terminals = 0;
    uint32_t count;
    rf_status status;
    while ((status = rf_subscription_read_batch(r->subscription, batch, 64, 10000, &count)) == RF_OK) {
        atomic_fetch_add(&events_seen, count);
        for (uint32_t i = 0; i < count; i++) {
            const rf_event *e = &batch[i];
            if (e->kind == RF_EVENT_LAGGED) {
                if (!r->lossy) FAIL("a non-lossy reader got a lagged event");
                continue;
            }
            if (terminals) FAIL("an event after the terminal one (seq %llu)", (unsigned long long)e->seq);
            if (!r->lossy && r->mode == RF_STREAM_TOKENS && e->seq != expected)
                FAIL("seq %llu where %llu was due", (unsigned long long)e->seq, (unsigned long long)expected);
            if (e->seq <= last) FAIL("seq %llu after %llu", (unsigned long long)e->seq, (unsigned long long)last);
            last = e->seq;
            expected = e->seq + 1;
            if (is_terminal(e->kind)) terminals++;
        }
    }
    if (status != RF_E_END_OF_STREAM) FAIL("a read ended with %s: %s", rf_status_name(status), rf_last_error());
    if (terminals != 1) FAIL("%d terminal events", terminals);
    return NULL;
}

/* ---- one round: runs, readers and cancels at once ---- */

typedef struct canceller {
    pthread_t thread;
    rf_run *run;
    int64_t delay_ns;
} canceller;

static void *cancel_later(void *arg) {
    canceller *c = arg;
    struct timespec wait = {0, (long)c->delay_ns};
    nanosleep(&wait, NULL);
    rf_status status = rf_run_cancel(c->run, "soak");
    if (status != RF_OK && status != RF_E_STATE) FAIL("cancel: %s", rf_status_name(status));
    if (status == RF_OK) atomic_fetch_add(&runs_cancelled, 1);
    return NULL;
}

static void round_of_runs(rf_workflow *workflow, uint32_t *random) {
    rf_run *runs[RUNS_PER_ROUND];
    reader readers[RUNS_PER_ROUND][READERS_PER_RUN];
    canceller cancellers[RUNS_PER_ROUND];
    int cancelling[RUNS_PER_ROUND];
    for (int i = 0; i < RUNS_PER_ROUND; i++) {
        must(rf_run_create(workflow, NULL, &runs[i]), "run");
        for (int k = 0; k < READERS_PER_RUN; k++) {
            reader *r = &readers[i][k];
            rf_subscription_options options;
            rf_subscription_options_init(&options);
            options.mode = k == 2 ? RF_STREAM_VALUES : RF_STREAM_TOKENS;
            options.flags = k == 1 ? RF_SUBSCRIBE_LOSSY : 0;
            options.start_seq = 1;
            r->lossy = k == 1;
            r->mode = (int)options.mode;
            must(rf_subscription_create(runs[i], &options, &r->subscription), "subscribe");
            pthread_create(&r->thread, NULL, read_run, r);
        }
        must(rf_run_start(runs[i], NULL, 0), "start");
        cancelling[i] = next_random(random) % 3 == 0;
        if (cancelling[i]) {
            cancellers[i] = (canceller){.run = runs[i], .delay_ns = next_random(random) % 2000000};
            pthread_create(&cancellers[i].thread, NULL, cancel_later, &cancellers[i]);
        }
    }
    for (int i = 0; i < RUNS_PER_ROUND; i++) {
        if (cancelling[i]) pthread_join(cancellers[i].thread, NULL);
        rf_run_status status = 0;
        if (rf_run_wait(runs[i], 10000, &status) != RF_OK) FAIL("run %d did not end", i);
        for (int k = 0; k < READERS_PER_RUN; k++) {
            pthread_join(readers[i][k].thread, NULL);
            must(rf_subscription_release(readers[i][k].subscription), "release subscription");
        }
        must(rf_run_release(runs[i]), "release run");
        atomic_fetch_add(&runs_done, 1);
    }
}

/* ---- process levels ---- */

static long count_entries(const char *path) {
    DIR *dir = opendir(path);
    if (!dir) return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

static double rss_mib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 120;
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.worker_threads = 2;
    options.log_capacity = 1 << 16;  /* small: lossy readers lag, producers wait for the others */
    options.max_event_bytes = 4096;
    options.emit_timeout_ms = 10000;
    rf_engine *engine;
    must(rf_engine_create(&options, &engine), "engine");
    rf_workflow *workflow;
    must(rf_workflow_create(engine, "soak", &workflow), "workflow");
    rf_step_options work_options, join_options;
    rf_step_options_init(&work_options, sizeof work_options);
    work_options.concurrency = 3;
    work_options.retry_attempts = 2;
    rf_step_options_init(&join_options, sizeof join_options);
    join_options.collect = 12;
    must(rf_workflow_add_step(workflow, "split", "start", "item", split, NULL, NULL, NULL), "split");
    must(rf_workflow_add_step(workflow, "work", "item", "done", work, NULL, NULL, &work_options), "work");
    must(rf_workflow_add_step(workflow, "join", "done", "stop", join, NULL, NULL, &join_options), "join");
    must(rf_workflow_build(workflow), "build");

    uint32_t random = 0x9e3779b9u;
    round_of_runs(workflow, &random);  /* warm-up: the engine's threads start, caches fill */
    long fds0 = count_entries("/proc/self/fd"), threads0 = count_entries("/proc/self/task");
    double rss0 = rss_mib(), rss_peak = rss0;
    int64_t end = now_ns() + (int64_t)(seconds * 1e9);
    long rounds = 0;
    while (now_ns() < end && atomic_load(&failures) == 0) {
        round_of_runs(workflow, &random);
        rounds++;
        double rss = rss_mib();
        if (rss > rss_peak) rss_peak = rss;
    }
    long fds1 = count_entries("/proc/self/fd"), threads1 = count_entries("/proc/self/task");
    double rss1 = rss_mib();
    printf("soak.seconds %.0f\nsoak.rounds %ld\nsoak.runs %ld\nsoak.runs_cancelled %ld\nsoak.events_read %ld\n", seconds, rounds,
           atomic_load(&runs_done), atomic_load(&runs_cancelled), atomic_load(&events_seen));
    printf("soak.rss_mib start %.1f end %.1f peak %.1f\nsoak.fds start %ld end %ld\nsoak.threads start %ld end %ld\n",
           rss0, rss1, rss_peak, fds0, fds1, threads0, threads1);
    if (fds1 != fds0) FAIL("file descriptors: %ld at the start, %ld at the end", fds0, fds1);
    if (threads1 != threads0) FAIL("threads: %ld at the start, %ld at the end", threads0, threads1);
    if (rss1 > rss0 + 16) FAIL("memory grew by %.1f MiB", rss1 - rss0);
    rf_workflow_release(workflow);
    rf_engine_release(engine);
    printf("soak.failures %ld\n", atomic_load(&failures));
    return atomic_load(&failures) == 0 ? 0 : 1;
}

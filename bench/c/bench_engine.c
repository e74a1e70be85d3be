/* Workflow engine benchmarks through the public C API, each printed as "figure value unit":
 *   c.chain.us_per_step           a chain of trivial callback steps: one step that sends itself
 *                                 the next event until the chain is N steps long
 *   c.chain_events.us_per_step    the reference for it: the two events every step writes
 *                                 (step started, step completed), emitted by hand into a run
 *   c.fanout1000.ms               one step sends 1,000 events, 1,000 trivial branches run,
 *                                 a fan-in step collects all 1,000 and ends the run
 *   c.hostrun_chain.us_per_step   the chain of c.chain with a host-run step, drained and
 *                                 completed by a C loop on the main thread
 * Usage: bench_engine [scale] (1.0 = default sizes). */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the chain: "hop" accepts start and hop, sends hop until the count is reached ---- */

struct chain {
    atomic_long left;
};

static rf_status hop(void *user_data, rf_step_ctx *ctx) {
    struct chain *chain = user_data;
    if (atomic_fetch_sub_explicit(&chain->left, 1, memory_order_relaxed) > 1) return rf_step_ctx_send(ctx, "hop", NULL, 0);
    return rf_step_ctx_stop(ctx, "1", 1);
}

static rf_workflow *chain_workflow(rf_engine *engine, struct chain *chain, int host_run) {
    rf_workflow *workflow = NULL;
    must(rf_workflow_create(engine, "chain", &workflow), "workflow");
    rf_step_options options;
    rf_step_options_init(&options, sizeof options);
    options.flags = host_run ? RF_STEP_HOST_RUN : 0;
    must(rf_workflow_add_step(workflow, "hop", "start,hop", "hop,stop", host_run ? NULL : hop, chain, NULL, &options), "step");
    must(rf_workflow_build(workflow), "build");
    return workflow;
}

static rf_run *start(rf_workflow *workflow, long steps) {
    rf_run_options options;
    rf_run_options_init_v2(&options, sizeof options);
    options.step_budget = (uint32_t)steps + 10;
    rf_run *run = NULL;
    must(rf_run_create(workflow, &options, &run), "run");
    must(rf_run_start(run, NULL, 0), "start");
    return run;
}

static void finish(rf_run *run) {
    rf_run_status status = 0;
    must(rf_run_wait(run, -1, &status), "wait");
    if (status != RF_RUN_COMPLETED) {
        const void *data;
        uint32_t length;
        rf_run_get_result(run, &data, &length);
        fprintf(stderr, "run ended with status %u: %s\n", status, rf_last_error());
        exit(1);
    }
    rf_run_release(run);
}

static double chain_us_per_step(rf_engine *engine, long steps) {
    struct chain chain;
    atomic_init(&chain.left, steps);
    rf_workflow *workflow = chain_workflow(engine, &chain, 0);
    int64_t began = now_ns();
    finish(start(workflow, steps));
    double elapsed = (double)(now_ns() - began);
    rf_workflow_release(workflow);
    return elapsed / 1000.0 / (double)steps;
}

static double chain_events_us_per_step(rf_engine *engine, long steps) {
    rf_run *run = NULL;
    must(rf_run_create_manual(engine, "chain", NULL, &run), "run");
    must(rf_run_start(run, NULL, 0), "start");
    rf_emit started = {.struct_size = sizeof started, .kind = RF_EVENT_STEP_STARTED, .step_name = "hop",
                       .data = "{\"input_bytes\":0}", .data_len = 17, .attempt = 1};
    rf_emit completed = {.struct_size = sizeof completed, .kind = RF_EVENT_STEP_COMPLETED, .step_name = "hop",
                         .data = "{\"duration_ns\":1234}", .data_len = 20, .attempt = 1};
    int64_t began = now_ns();
    for (long i = 0; i < steps; i++) {
        must(rf_run_emit(run, &started, NULL), "emit");
        must(rf_run_emit(run, &completed, NULL), "emit");
    }
    double elapsed = (double)(now_ns() - began);
    rf_run_release(run);
    return elapsed / 1000.0 / (double)steps;
}

static double hostrun_chain_us_per_step(rf_engine *engine, long steps) {
    rf_workflow *workflow = chain_workflow(engine, NULL, 1);
    int64_t began = now_ns();
    rf_run *run = start(workflow, steps);
    for (long left = steps; left > 0; left--) {
        rf_step_ctx *ctx = NULL;
        must(rf_engine_take_task(engine, -1, &ctx), "take");
        must(left > 1 ? rf_step_ctx_send(ctx, "hop", NULL, 0) : rf_step_ctx_stop(ctx, "1", 1), "send");
        must(rf_step_ctx_complete(ctx, RF_OK, NULL), "complete");
    }
    finish(run);
    double elapsed = (double)(now_ns() - began);
    rf_workflow_release(workflow);
    return elapsed / 1000.0 / (double)steps;
}

/* ---- fan-out of 1,000 branches and a join ---- */

static rf_status split(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    for (int i = 0; i < 1000; i++) {
        rf_status status = rf_step_ctx_send(ctx, "branch", NULL, 0);
        if (status != RF_OK) return status;
    }
    return RF_OK;
}

static rf_status branch(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    return rf_step_ctx_send(ctx, "joined", NULL, 0);
}

static rf_status join(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    return rf_step_ctx_stop(ctx, "1000", 4);
}

static double fanout_ms(rf_engine *engine, int repeats) {
    rf_workflow *workflow = NULL;
    must(rf_workflow_create(engine, "fanout", &workflow), "workflow");
    rf_step_options gather;
    rf_step_options_init(&gather, sizeof gather);
    gather.collect = 1000;
    must(rf_workflow_add_step(workflow, "split", "start", "branch", split, NULL, NULL, NULL), "split");
    must(rf_workflow_add_step(workflow, "branch", "branch", "joined", branch, NULL, NULL, NULL), "branch");
    must(rf_workflow_add_step(workflow, "join", "joined", "stop", join, NULL, NULL, &gather), "join");
    must(rf_workflow_build(workflow), "build");
    double samples[64];
    for (int i = 0; i < repeats; i++) {
        int64_t began = now_ns();
        finish(start(workflow, 2000));
        samples[i] = (double)(now_ns() - began) / 1e6;
    }
    rf_workflow_release(workflow);
    qsort(samples, (size_t)repeats, sizeof samples[0], compare_doubles);
    return samples[repeats / 2];
}

int main(int argc, char **argv) {
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    if (scale <= 0) scale = 1.0;
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.worker_threads = 2;
    rf_engine *engine = NULL;
    must(rf_engine_create(&options, &engine), "engine");
    long steps = (long)(200000 * scale);
    int repeats = scale >= 1 ? 21 : 7;

    chain_us_per_step(engine, steps / 10);  /* warm up: threads, page faults, caches */
    printf("c.chain.us_per_step %.4f us\n", chain_us_per_step(engine, steps));
    printf("c.chain_events.us_per_step %.4f us\n", chain_events_us_per_step(engine, steps));
    printf("c.fanout1000.ms %.4f ms\n", fanout_ms(engine, repeats));
    hostrun_chain_us_per_step(engine, steps / 10);
    printf("c.hostrun_chain.us_per_step %.4f us\n", hostrun_chain_us_per_step(engine, steps));
    rf_engine_release(engine);
    return 0;
}

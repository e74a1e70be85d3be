/* Inside a step: every rf_step_ctx function and its errors, contexts after their step ended,
 * pending completion from other threads, failures and retries, cancel, release while steps
 * run, human input, and sub-workflows. */
#include <stdatomic.h>
#include "workflow_helpers.h"

static rf_engine *engine;

/* Builds a one-step workflow named `name` whose step accepts "start" and sends `sends`. */
static rf_workflow *one_step(const char *name, const char *sends, rf_step_fn fn, void *user_data,
                             const rf_step_options *options) {
    rf_workflow *workflow = new_workflow(engine, name);
    add_step(workflow, "only", "start", sends, fn, user_data, options);
    must(rf_workflow_build(workflow), "build");
    return workflow;
}

/* Runs a workflow to its end; returns the events (and the run, still owned, if asked). */
static int run_to_end(rf_workflow *workflow, const char *input, seen_event *events, int capacity, rf_run **out_run) {
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, NULL, input, &subscription);
    int count = read_events(subscription, events, capacity);
    rf_subscription_release(subscription);
    if (out_run) *out_run = run; else rf_run_release(run);
    return count;
}

/* ---- every function on a NULL context, and on a context whose step has returned ---- */

static void check_refused(rf_step_ctx *ctx, rf_status expected) {
    rf_step_info info = {.struct_size = sizeof info};
    const void *data;
    uint32_t length;
    char buffer[8];
    rf_token_usage usage = {.struct_size = sizeof usage};
    const void *items[1] = {"x"};
    uint32_t lengths[1] = {1};
    CHECK_STATUS(rf_step_ctx_get_info(ctx, &info), expected);
    CHECK_STATUS(rf_step_ctx_input(ctx, 0, &data, &length), expected);
    CHECK_STATUS(rf_step_ctx_emit_token(ctx, "t", 1, 0), expected);
    CHECK_STATUS(rf_step_ctx_emit_custom(ctx, "topic", "{}", 2), expected);
    CHECK_STATUS(rf_step_ctx_emit_progress(ctx, 1, 2, NULL), expected);
    CHECK_STATUS(rf_step_ctx_send(ctx, "stop", "1", 1), expected);
    CHECK_STATUS(rf_step_ctx_send_each(ctx, "stop", items, lengths, 1), expected);
    CHECK_STATUS(rf_step_ctx_set_output(ctx, "1", 1), expected);
    CHECK_STATUS(rf_step_ctx_stop(ctx, "1", 1), expected);
    CHECK_STATUS(rf_step_ctx_set_state(ctx, "k", "1", 1), expected);
    CHECK_STATUS(rf_step_ctx_get_state(ctx, "k", buffer, sizeof buffer, &length), expected);
    CHECK_STATUS(rf_step_ctx_report_usage(ctx, &usage), expected);
    CHECK_STATUS(rf_step_ctx_check_cancelled(ctx), expected);
    CHECK_STATUS(rf_step_ctx_request_input(ctx, "{}", 2, "stop"), expected);
    CHECK_STATUS(rf_step_ctx_set_error(ctx, "e"), expected);
    CHECK_STATUS(rf_step_ctx_complete(ctx, RF_OK, NULL), expected);
}

static rf_step_ctx *kept_ctx;

static rf_status keep_ctx(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    kept_ctx = ctx;
    return stop_with(ctx, "1");
}

static void test_context_validity(void) {
    check_refused(NULL, RF_E_INVALID_HANDLE);
    CHECK_CONTAINS(rf_last_error(), "ctx is not a live rf_step_ctx handle");
    rf_workflow *workflow = one_step("validity", "stop", keep_ctx, NULL, NULL);
    seen_event events[8];
    run_to_end(workflow, NULL, events, 8, NULL);
    CHECK(kept_ctx != NULL);
    check_refused(kept_ctx, RF_E_INVALID_HANDLE);  /* its step returned */
    /* Other handle types are not contexts. */
    check_refused((rf_step_ctx *)workflow, RF_E_INVALID_HANDLE);
    rf_workflow_release(workflow);
}

/* ---- info, inputs, stream events, state, usage, and argument errors ---- */

static rf_status everything(void *user_data, rf_step_ctx *ctx) {
    rf_step_info info = {.struct_size = sizeof info};
    CHECK_STATUS(rf_step_ctx_get_info(ctx, NULL), RF_E_INVALID_ARGUMENT);
    rf_step_info small = {.struct_size = 8};
    CHECK_STATUS(rf_step_ctx_get_info(ctx, &small), RF_E_STRUCT_SIZE);
    CHECK_STATUS(rf_step_ctx_get_info(ctx, &info), RF_OK);
    CHECK(info.attempt == 1 && info.input_count == 1 && info.user_data == user_data && info.run_id > 0);
    CHECK(strcmp(info.workflow_name, "everything") == 0 && strcmp(info.step_name, "only") == 0);
    CHECK(strcmp(info.event_type, "start") == 0);
    CHECK(info.input_len == 5 && memcmp(info.input, "hello", 6) == 0);  /* with its NUL */

    const void *input;
    uint32_t length;
    CHECK_STATUS(rf_step_ctx_input(ctx, 0, &input, &length), RF_OK);
    CHECK(length == 5 && memcmp(input, "hello", 5) == 0);
    CHECK_STATUS(rf_step_ctx_input(ctx, 1, &input, &length), RF_E_NOT_FOUND);
    CHECK_STATUS(rf_step_ctx_input(ctx, 0, NULL, &length), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_step_ctx_input(ctx, 0, &input, NULL), RF_E_INVALID_ARGUMENT);

    CHECK_STATUS(rf_step_ctx_emit_token(ctx, "Hi", 2, 0), RF_OK);
    CHECK_STATUS(rf_step_ctx_emit_token(ctx, NULL, 2, 1), RF_E_INVALID_ARGUMENT);
    char big[5000];
    memset(big, 'x', sizeof big);
    CHECK_STATUS(rf_step_ctx_emit_token(ctx, big, sizeof big, 1), RF_E_TOO_LARGE);  /* max_event_bytes 4096 */
    CHECK_STATUS(rf_step_ctx_emit_custom(ctx, "status", "{\"ok\":true}", 11), RF_OK);
    CHECK_STATUS(rf_step_ctx_emit_custom(ctx, "", "{}", 2), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_step_ctx_emit_custom(ctx, NULL, "{}", 2), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_step_ctx_emit_custom(ctx, "\xff\xfe", "{}", 2), RF_E_INVALID_ARGUMENT);  /* topics are UTF-8 */
    CHECK_STATUS(rf_step_ctx_emit_progress(ctx, 1, 4, "loading"), RF_OK);
    CHECK_STATUS(rf_step_ctx_emit_progress(ctx, 2, 4, NULL), RF_OK);
    CHECK_STATUS(rf_step_ctx_emit_progress(ctx, 5, 4, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "completed (5) is more than total (4)");

    CHECK_STATUS(rf_step_ctx_set_state(ctx, "k", "[1,2]", 5), RF_OK);
    CHECK_STATUS(rf_step_ctx_set_state(ctx, "", "1", 1), RF_E_INVALID_ARGUMENT);
    char buffer[8];
    uint32_t size = 0;
    CHECK_STATUS(rf_step_ctx_get_state(ctx, "k", NULL, 0, &size), RF_E_TOO_LARGE);  /* measuring */
    CHECK(size == 5);
    CHECK_STATUS(rf_step_ctx_get_state(ctx, "k", buffer, 3, &size), RF_E_TOO_LARGE);
    CHECK(size == 5);
    CHECK_STATUS(rf_step_ctx_get_state(ctx, "k", buffer, sizeof buffer, &size), RF_OK);
    CHECK(size == 5 && strcmp(buffer, "[1,2]") == 0);
    CHECK_STATUS(rf_step_ctx_get_state(ctx, "k", NULL, 4, &size), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_step_ctx_get_state(ctx, "k", buffer, sizeof buffer, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_step_ctx_get_state(ctx, "missing", buffer, sizeof buffer, &size), RF_E_NOT_FOUND);
    /* A change whose event fails leaves the state as it was (and writes no event). */
    CHECK_STATUS(rf_step_ctx_set_state(ctx, "k", big, sizeof big), RF_E_TOO_LARGE);
    CHECK_STATUS(rf_step_ctx_get_state(ctx, "k", buffer, sizeof buffer, &size), RF_OK);
    CHECK(size == 5 && strcmp(buffer, "[1,2]") == 0);
    /* An empty value (null in its event) measures as 0 bytes, with no buffer. */
    CHECK_STATUS(rf_step_ctx_set_state(ctx, "empty", "", 0), RF_OK);
    size = 99;
    CHECK_STATUS(rf_step_ctx_get_state(ctx, "empty", NULL, 0, &size), RF_OK);
    CHECK(size == 0);

    rf_token_usage usage = {.struct_size = sizeof usage, .input_tokens = 10, .output_tokens = 20, .total_tokens = 30,
                            .reasoning_tokens = 4, .cached_input_tokens = 2};
    CHECK_STATUS(rf_step_ctx_report_usage(ctx, &usage), RF_OK);
    CHECK_STATUS(rf_step_ctx_report_usage(ctx, &usage), RF_OK);
    CHECK_STATUS(rf_step_ctx_report_usage(ctx, NULL), RF_E_INVALID_ARGUMENT);
    usage.struct_size = 0;
    CHECK_STATUS(rf_step_ctx_report_usage(ctx, &usage), RF_E_STRUCT_SIZE);

    CHECK_STATUS(rf_step_ctx_check_cancelled(ctx), RF_OK);
    CHECK_STATUS(rf_step_ctx_send(ctx, "elsewhere", "1", 1), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "did not declare that it sends 'elsewhere'");
    CHECK_STATUS(rf_step_ctx_send(ctx, NULL, "1", 1), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_step_ctx_send(ctx, "stop", NULL, 1), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_step_ctx_request_input(ctx, "{}", 2, "nope"), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_step_ctx_start_child(ctx, NULL, NULL, 0, "stop"), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_step_ctx_set_error(ctx, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_step_ctx_complete(ctx, RF_STEP_PENDING, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(stop_with(ctx, "{\"done\":true}"), RF_OK);
    CHECK_STATUS(stop_with(ctx, "{\"done\":2}"), RF_E_STATE);
    return RF_OK;
}

static void test_everything_in_a_step(void) {
    int marker = 0;
    rf_workflow *workflow = one_step("everything", "stop", everything, &marker, NULL);
    seen_event events[32];
    rf_run *run;
    int count = run_to_end(workflow, "hello", events, 32, &run);
    rf_event_kind expected[] = {RF_EVENT_RUN_STARTED, RF_EVENT_STEP_STARTED, RF_EVENT_TOKEN, RF_EVENT_CUSTOM,
                                RF_EVENT_PROGRESS, RF_EVENT_PROGRESS, RF_EVENT_STATE_CHANGED, RF_EVENT_STATE_CHANGED,
                                RF_EVENT_STEP_COMPLETED, RF_EVENT_RUN_COMPLETED};
    CHECK(count == 10);
    for (int i = 0; i < count && i < 10; i++) CHECK(events[i].kind == expected[i]);
    CHECK(strcmp(events[3].topic, "status") == 0 && strcmp(events[3].data, "{\"ok\":true}") == 0);
    CHECK(strcmp(events[4].data, "{\"completed\":1,\"total\":4,\"status\":\"loading\"}") == 0);
    CHECK(strcmp(events[5].data, "{\"completed\":2,\"total\":4,\"status\":\"running\"}") == 0);
    CHECK(strcmp(events[6].data, "{\"key\":\"k\",\"value\":[1,2]}") == 0);
    CHECK(strcmp(events[7].data, "{\"key\":\"empty\",\"value\":null}") == 0);
    CHECK(strcmp(events[9].data, "{\"result\":{\"done\":true},\"usage\":{\"input_tokens\":20,\"output_tokens\":40,"
                                 "\"total_tokens\":60,\"reasoning_tokens\":8,\"cached_input_tokens\":4}}") == 0);
    rf_token_usage usage = {.struct_size = sizeof usage};
    CHECK_STATUS(rf_run_get_usage(run, &usage), RF_OK);
    CHECK(usage.input_tokens == 20 && usage.total_tokens == 60 && usage.cached_input_tokens == 4);
    CHECK_STATUS(rf_run_get_usage(run, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_get_usage(NULL, &usage), RF_E_INVALID_HANDLE);
    rf_run_release(run);
    rf_workflow_release(workflow);
}

/* ---- failures: a status with and without a message, odd return values ---- */

static rf_status fail_with(void *user_data, rf_step_ctx *ctx) {
    intptr_t mode = (intptr_t)user_data;
    if (mode == 1) {
        CHECK_STATUS(rf_step_ctx_set_error(ctx, "first message"), RF_OK);
        CHECK_STATUS(rf_step_ctx_set_error(ctx, "upstream returned 503"), RF_OK);
        return RF_E_SYSTEM;
    }
    if (mode == 2) return RF_E_TIMEOUT;
    return 7;
}

static void test_failures(void) {
    const char *expected[] = {NULL, "\"error\":\"upstream returned 503\"", "\"error\":\"the step returned RF_E_TIMEOUT\"",
                              "which is neither RF_OK, RF_STEP_PENDING nor an error status"};
    for (intptr_t mode = 1; mode <= 3; mode++) {
        rf_workflow *workflow = one_step("failing", "stop", fail_with, (void *)mode, NULL);
        seen_event events[8];
        rf_run *run;
        int count = run_to_end(workflow, NULL, events, 8, &run);
        CHECK(count == 4);
        CHECK(events[2].kind == RF_EVENT_STEP_FAILED && events[3].kind == RF_EVENT_RUN_FAILED);
        CHECK_CONTAINS(events[2].data, expected[mode]);
        CHECK_CONTAINS(events[3].data, "{\"step\":\"only\",\"error\":");
        CHECK_CONTAINS(events[3].data, "\"attempts\":1,\"elapsed_ns\":");
        const void *result;
        uint32_t length;
        CHECK_STATUS(rf_run_get_result(run, &result, &length), RF_E_STATE);
        CHECK_CONTAINS(rf_last_error(), "step 'only' failed");
        rf_run_release(run);
        rf_workflow_release(workflow);
    }
}

/* ---- retries: two failures then success; and failure after every try ---- */

static rf_status flaky(void *user_data, rf_step_ctx *ctx) {
    uint32_t succeed_on = (uint32_t)(uintptr_t)user_data;
    rf_step_info info = {.struct_size = sizeof info};
    must(rf_step_ctx_get_info(ctx, &info), "info");
    must(rf_step_ctx_emit_token(ctx, "x", 1, 0), "token");
    if (info.attempt < succeed_on) {
        rf_step_ctx_set_error(ctx, "flaky upstream");
        return RF_E_SYSTEM;
    }
    return stop_with(ctx, "\"ok\"");
}

static void test_retries(void) {
    rf_step_options options;
    rf_step_options_init(&options, sizeof options);
    options.retry_attempts = 3;
    options.retry_initial_backoff_ms = 2;
    options.retry_multiplier = 3;
    rf_workflow *workflow = one_step("retry", "stop", flaky, (void *)(uintptr_t)3, &options);
    seen_event events[32];
    int count = run_to_end(workflow, NULL, events, 32, NULL);
    CHECK(count_events(events, count, RF_EVENT_STEP_RETRYING) == 2);
    const seen_event *first = find_event(events, count, RF_EVENT_STEP_RETRYING, 0);
    CHECK(first && first->attempt == 1 && strcmp(first->data, "{\"error\":\"flaky upstream\",\"backoff_ns\":2000000}") == 0);
    const seen_event *second = find_event(events, count, RF_EVENT_STEP_RETRYING, (int)(first - events) + 1);
    CHECK(second && second->attempt == 2 && strcmp(second->data, "{\"error\":\"flaky upstream\",\"backoff_ns\":6000000}") == 0);
    const seen_event *completed = find_event(events, count, RF_EVENT_STEP_COMPLETED, 0);
    CHECK(completed && completed->attempt == 3);
    CHECK(events[count - 1].kind == RF_EVENT_RUN_COMPLETED);
    rf_workflow_release(workflow);

    options.retry_attempts = 2;
    workflow = one_step("doomed", "stop", flaky, (void *)(uintptr_t)99, &options);
    count = run_to_end(workflow, NULL, events, 32, NULL);
    CHECK(count_events(events, count, RF_EVENT_STEP_RETRYING) == 1);
    CHECK(count_events(events, count, RF_EVENT_STEP_STARTED) == 2);
    const seen_event *failed = find_event(events, count, RF_EVENT_STEP_FAILED, 0);
    CHECK(failed && failed->attempt == 2 && strcmp(failed->data, "{\"error\":\"flaky upstream\",\"attempts\":2}") == 0);
    CHECK(events[count - 1].kind == RF_EVENT_RUN_FAILED);
    CHECK_CONTAINS(events[count - 1].data, "{\"step\":\"only\",\"error\":\"flaky upstream\",\"attempts\":2,");
    rf_workflow_release(workflow);
}

/* ---- a try that outlives its timeout fails, and is retried ---- */

static rf_status slow_first_try(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    rf_step_info info = {.struct_size = sizeof info};
    must(rf_step_ctx_get_info(ctx, &info), "info");
    if (info.attempt == 1) {
        struct timespec tick = {0, 1000000};
        rf_status status;
        while ((status = rf_step_ctx_check_cancelled(ctx)) == RF_OK) nanosleep(&tick, NULL);
        /* Timed out: the try is over, but this callback still holds its context until it
         * returns: its calls change nothing, its info stays readable. */
        CHECK_STATUS(status, RF_E_CANCELLED);
        CHECK_STATUS(rf_step_ctx_emit_token(ctx, "late", 4, 0), RF_E_CANCELLED);
        rf_step_info again = {.struct_size = sizeof again};
        CHECK_STATUS(rf_step_ctx_get_info(ctx, &again), RF_OK);
        CHECK(again.attempt == 1 && strcmp(again.step_name, "only") == 0);
        return RF_OK;
    }
    return stop_with(ctx, "\"second try\"");
}

static void test_step_timeout(void) {
    rf_step_options options;
    rf_step_options_init(&options, sizeof options);
    options.timeout_ms = 200;  /* it bounds the second try too: wide enough for a busy machine */
    options.retry_attempts = 2;
    rf_workflow *workflow = one_step("timeout", "stop", slow_first_try, NULL, &options);
    seen_event events[16];
    int count = run_to_end(workflow, NULL, events, 16, NULL);
    const seen_event *retrying = find_event(events, count, RF_EVENT_STEP_RETRYING, 0);
    CHECK(retrying && retrying->attempt == 1);
    CHECK_CONTAINS(retrying ? retrying->data : "", "step 'only' timed out after 200 ms");
    CHECK(events[count - 1].kind == RF_EVENT_RUN_COMPLETED);
    CHECK_CONTAINS(events[count - 1].data, "\"second try\"");
    rf_workflow_release(workflow);
}

/* ---- pending steps completed from other threads ---- */

/* These run on an engine of one worker thread, so a run started after a callback can only
 * reach its step once that callback has returned: that is how the "late" completer knows. */
static rf_engine *single_worker;

static rf_status stop_at_once(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    return stop_with(ctx, "0");
}

typedef struct pending_job {
    rf_step_ctx *ctx;
    rf_status result;
    int early;  /* complete before the callback returns RF_STEP_PENDING */
    rf_workflow *behind_the_callback;  /* one step on the single worker */
    pthread_t thread;
} pending_job;

static void *complete_later(void *arg) {
    pending_job *job = arg;
    if (!job->early) {
        seen_event events[4];
        CHECK(run_to_end(job->behind_the_callback, NULL, events, 4, NULL) == 4);  /* callback returned */
    }
    if (job->result == RF_OK) CHECK_STATUS(stop_with(job->ctx, "\"from another thread\""), RF_OK);
    CHECK_STATUS(rf_step_ctx_complete(job->ctx, job->result, job->result == RF_OK ? NULL : "remote failure"), RF_OK);
    /* Completed early, the step waits for its callback to return; otherwise it has ended and
     * its context is gone. Either way a second completion is refused. */
    CHECK_STATUS(rf_step_ctx_complete(job->ctx, RF_OK, NULL), job->early ? RF_E_STATE : RF_E_INVALID_HANDLE);
    return NULL;
}

static rf_status go_pending(void *user_data, rf_step_ctx *ctx) {
    pending_job *job = user_data;
    job->ctx = ctx;
    pthread_create(&job->thread, NULL, complete_later, job);
    if (job->early) pthread_join(job->thread, NULL);  /* completed while this callback still runs */
    return RF_STEP_PENDING;
}

static rf_status pending_forever(void *user_data, rf_step_ctx *ctx) {
    *(rf_step_ctx **)user_data = ctx;
    return RF_STEP_PENDING;
}

/* A pending step whose try times out before anyone completes it: the run fails, and the
 * context (with its input) stays until the step is completed, which is then ignored. */
static void test_pending_past_its_timeout(rf_workflow *behind) {
    rf_step_ctx *ctx = NULL;
    rf_step_options options;
    rf_step_options_init(&options, sizeof options);
    options.timeout_ms = 20;
    rf_workflow *workflow = new_workflow(single_worker, "pending-timeout");
    add_step(workflow, "only", "start", "stop", pending_forever, &ctx, &options);
    must(rf_workflow_build(workflow), "build");
    seen_event events[8];
    int count = run_to_end(workflow, "kept", events, 8, NULL);
    CHECK(count == 4 && events[3].kind == RF_EVENT_RUN_FAILED);
    CHECK_CONTAINS(events[3].data, "timed out after 20 ms");
    CHECK(run_to_end(behind, NULL, events, 8, NULL) == 4);  /* the single worker: the callback has returned */
    const void *input = NULL;
    uint32_t length = 0;
    CHECK_STATUS(rf_step_ctx_input(ctx, 0, &input, &length), RF_OK);
    CHECK(length == 4 && memcmp(input, "kept", 5) == 0);
    CHECK_STATUS(rf_step_ctx_check_cancelled(ctx), RF_E_CANCELLED);
    CHECK_STATUS(rf_step_ctx_set_state(ctx, "k", "1", 1), RF_E_CANCELLED);
    CHECK_STATUS(rf_step_ctx_complete(ctx, RF_E_SYSTEM, "too late"), RF_OK);
    CHECK_STATUS(rf_step_ctx_complete(ctx, RF_OK, NULL), RF_E_INVALID_HANDLE);
    rf_workflow_release(workflow);
}

static void test_pending(void) {
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.worker_threads = 1;
    must(rf_engine_create(&options, &single_worker), "single-worker engine");
    rf_workflow *behind = new_workflow(single_worker, "behind");
    add_step(behind, "only", "start", "stop", stop_at_once, NULL, NULL);
    must(rf_workflow_build(behind), "build");
    for (int early = 0; early <= 1; early++) {
        for (int fail = 0; fail <= 1; fail++) {
            pending_job job = {.result = fail ? RF_E_SYSTEM : RF_OK, .early = early, .behind_the_callback = behind};
            rf_workflow *workflow = new_workflow(single_worker, "pending");
            add_step(workflow, "only", "start", "stop", go_pending, &job, NULL);
            must(rf_workflow_build(workflow), "build");
            seen_event events[8];
            int count = run_to_end(workflow, NULL, events, 8, NULL);
            if (!early) pthread_join(job.thread, NULL);
            CHECK(count == 4);
            if (fail) {
                CHECK(events[3].kind == RF_EVENT_RUN_FAILED);
                CHECK_CONTAINS(events[3].data, "\"error\":\"remote failure\"");
            } else {
                CHECK(events[2].kind == RF_EVENT_STEP_COMPLETED && events[3].kind == RF_EVENT_RUN_COMPLETED);
                CHECK_CONTAINS(events[3].data, "\"from another thread\"");
            }
            rf_workflow_release(workflow);
        }
    }
    test_pending_past_its_timeout(behind);
    rf_workflow_release(behind);
    rf_engine_release(single_worker);
}

/* ---- cancel, and release, while a step runs ---- */

typedef struct blocking_step {
    gate started, proceed, finished;
    rf_status seen_after;
} blocking_step;

static rf_status block(void *user_data, rf_step_ctx *ctx) {
    blocking_step *step = user_data;
    gate_open(&step->started);
    gate_wait(&step->proceed);
    step->seen_after = rf_step_ctx_check_cancelled(ctx);
    /* Sends after the run ended are accepted by the context and change nothing. */
    CHECK_STATUS(stop_with(ctx, "\"ignored\""), RF_OK);
    gate_open(&step->finished);
    return RF_OK;
}

static void test_cancel_and_release_while_running(void) {
    for (int release = 0; release <= 1; release++) {
        blocking_step step = {GATE_INIT, GATE_INIT, GATE_INIT, RF_OK};
        rf_workflow *workflow = one_step("blocking", "stop", block, &step, NULL);
        rf_subscription *subscription;
        rf_run *run = start_run(workflow, NULL, NULL, &subscription);
        gate_wait(&step.started);
        if (release) {
            CHECK_STATUS(rf_run_release(run), RF_OK);
        } else {
            CHECK_STATUS(rf_run_cancel(run, "user pressed stop"), RF_OK);
            CHECK_STATUS(rf_run_cancel(run, NULL), RF_E_STATE);
            rf_run_status status = 0;
            CHECK_STATUS(rf_run_wait(run, 0, &status), RF_OK);
            CHECK(status == RF_RUN_CANCELLED);
        }
        gate_open(&step.proceed);
        gate_wait(&step.finished);
        CHECK_STATUS(step.seen_after, RF_E_CANCELLED);
        seen_event events[8];
        int count = read_events(subscription, events, 8);
        CHECK(count == 3);
        CHECK(events[2].kind == RF_EVENT_RUN_CANCELLED);
        CHECK(strcmp(events[2].data, release ? "{\"reason\":\"released\"}" : "{\"reason\":\"user pressed stop\"}") == 0);
        if (!release) {
            const void *result;
            uint32_t length;
            CHECK_STATUS(rf_run_get_result(run, &result, &length), RF_E_STATE);
            CHECK_CONTAINS(rf_last_error(), "user pressed stop");
            rf_run_release(run);
        }
        rf_subscription_release(subscription);
        rf_workflow_release(workflow);
    }

    /* Cancel after completion, and of a pending run (which then never starts). */
    rf_workflow *workflow = one_step("quick", "stop", keep_ctx, NULL, NULL);
    rf_run *run = start_run(workflow, NULL, NULL, NULL);
    CHECK_STATUS(rf_run_wait(run, -1, NULL), RF_OK);
    CHECK_STATUS(rf_run_cancel(run, NULL), RF_E_STATE);
    CHECK_CONTAINS(rf_last_error(), "already ended");
    char long_reason[300];
    memset(long_reason, 'r', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = 0;
    CHECK_STATUS(rf_run_cancel(run, long_reason), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_cancel(NULL, NULL), RF_E_INVALID_HANDLE);
    rf_run_release(run);
    CHECK_STATUS(rf_run_create(workflow, NULL, &run), RF_OK);
    CHECK_STATUS(rf_run_cancel(run, NULL), RF_OK);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_E_STATE);
    rf_run_status status = 0;
    CHECK_STATUS(rf_run_get_status(run, &status), RF_OK);
    CHECK(status == RF_RUN_CANCELLED);
    rf_run_release(run);
    rf_workflow_release(workflow);
}

/* ---- human input: suspend, streams that end there or stay, resume ---- */

static rf_status ask(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    CHECK_STATUS(rf_step_ctx_request_input(ctx, "{\"question\":\"Ship it?\"}", 23, "answer"), RF_OK);
    CHECK_STATUS(rf_step_ctx_request_input(ctx, "{}", 2, "answer"), RF_E_STATE);
    return RF_OK;
}

static rf_status decide(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const void *answer;
    uint32_t length;
    must(rf_step_ctx_input(ctx, 0, &answer, &length), "input");
    char result[64];
    int n = snprintf(result, sizeof result, "{\"answer\":%.*s}", (int)length, (const char *)answer);
    return rf_step_ctx_stop(ctx, result, (uint32_t)n);
}

static void test_human_input(void) {
    rf_workflow *workflow = new_workflow(engine, "approval");
    add_step(workflow, "ask", "start", "answer", ask, NULL, NULL);
    add_step(workflow, "decide", "answer", "stop", decide, NULL, NULL);
    must(rf_workflow_build(workflow), "build");
    rf_run *run;
    must(rf_run_create(workflow, NULL, &run), "create");
    rf_subscription *until_question, *whole_run;
    rf_subscription_options options;
    rf_subscription_options_init(&options);
    options.flags = RF_SUBSCRIBE_END_AT_SUSPENSION;
    must(rf_subscription_create(run, &options, &until_question), "subscribe");
    must(rf_subscription_create(run, NULL, &whole_run), "subscribe");
    options.flags = 0x10;
    rf_subscription *refused = NULL;
    CHECK_STATUS(rf_subscription_create(run, &options, &refused), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_resume(run, "1", 1), RF_E_STATE);  /* pending, not suspended */
    must(rf_run_start(run, NULL, 0), "start");

    seen_event events[16];
    int count = read_events(until_question, events, 16);
    CHECK(count == 4 && events[3].kind == RF_EVENT_INPUT_REQUIRED);
    CHECK(strcmp(events[3].data, "{\"prompt\":{\"question\":\"Ship it?\"}}") == 0 && strcmp(events[3].step, "ask") == 0);
    rf_run_status status = 0;
    CHECK_STATUS(rf_run_wait(run, -1, &status), RF_OK);
    CHECK(status == RF_RUN_SUSPENDED);
    CHECK_STATUS(rf_run_resume(run, NULL, 3), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_resume(NULL, "1", 1), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_run_resume(run, "\"yes\"", 5), RF_OK);
    CHECK_STATUS(rf_run_resume(run, "\"again\"", 7), RF_E_STATE);  /* no longer waiting */
    count = read_events(whole_run, events, 16);
    CHECK(count == 8);
    CHECK(events[4].kind == RF_EVENT_RUN_RESUMED && strcmp(events[4].data, "{\"input_bytes\":5}") == 0);
    CHECK(events[7].kind == RF_EVENT_RUN_COMPLETED);
    CHECK_CONTAINS(events[7].data, "{\"result\":{\"answer\":\"yes\"}");
    CHECK_STATUS(rf_run_wait(run, -1, &status), RF_OK);
    CHECK(status == RF_RUN_COMPLETED);
    CHECK_STATUS(rf_run_resume(run, "1", 1), RF_E_STATE);
    rf_subscription_release(until_question);
    rf_subscription_release(whole_run);
    rf_run_release(run);

    /* A manual run has nothing to resume; waiting on it works like on any run. */
    must(rf_run_create_manual(engine, "manual", NULL, &run), "manual");
    must(rf_run_start(run, NULL, 0), "start");
    CHECK_STATUS(rf_run_resume(run, "1", 1), RF_E_STATE);
    CHECK_STATUS(rf_run_wait(run, 0, &status), RF_E_AGAIN);
    CHECK(status == RF_RUN_RUNNING);
    CHECK_STATUS(rf_run_wait(run, 5, &status), RF_E_TIMEOUT);
    CHECK_STATUS(rf_run_wait(run, -2, &status), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, "{\"r\":1}", 7), RF_OK);
    CHECK_STATUS(rf_run_wait(run, 0, NULL), RF_OK);
    const char *result;
    uint32_t length;
    CHECK_STATUS(rf_run_get_result(run, (const void **)&result, &length), RF_OK);
    CHECK(length == 7 && strcmp(result, "{\"r\":1}") == 0);
    rf_run_release(run);
    rf_workflow_release(workflow);
}

/* ---- sub-workflows: the child's events in the parent's stream, its result as an event ---- */

static rf_status child_step(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    must(rf_step_ctx_emit_token(ctx, "sub", 3, 0), "token");
    return stop_with(ctx, "\"child result\"");
}

static rf_status start_child(void *user_data, rf_step_ctx *ctx) {
    rf_workflow *child = user_data;
    CHECK_STATUS(rf_step_ctx_start_child(ctx, NULL, "in", 2, "child_done"), RF_E_INVALID_HANDLE);
    rf_status status = rf_step_ctx_start_child(ctx, child, "in", 2, "child_done");
    if (status != RF_OK) rf_step_ctx_set_error(ctx, rf_last_error());  /* the run fails saying why */
    return status;
}

static rf_status forward_to_stop(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const void *input;
    uint32_t length;
    must(rf_step_ctx_input(ctx, 0, &input, &length), "input");
    return rf_step_ctx_stop(ctx, input, length);
}

static void test_sub_workflow(void) {
    rf_workflow *child = new_workflow(engine, "child");
    add_step(child, "work", "start", "stop", child_step, NULL, NULL);
    rf_workflow *parent = new_workflow(engine, "parent");
    add_step(parent, "delegate", "start", "child_done", start_child, child, NULL);
    add_step(parent, "report", "child_done", "stop", forward_to_stop, NULL, NULL);
    must(rf_workflow_build(parent), "build parent");

    /* The child is not built yet: starting it fails the step, and the run says why. */
    seen_event events[32];
    rf_run *run;
    int count = run_to_end(parent, NULL, events, 32, &run);
    CHECK(events[count - 1].kind == RF_EVENT_RUN_FAILED);
    CHECK_CONTAINS(events[count - 1].data, "not built");
    rf_run_release(run);

    must(rf_workflow_build(child), "build child");
    count = run_to_end(parent, NULL, events, 32, &run);
    uint64_t parent_id = 0;
    rf_run_get_id(run, &parent_id);
    const seen_event *child_token = find_event(events, count, RF_EVENT_TOKEN, 0);
    CHECK(child_token && child_token->run_id != parent_id && child_token->parent_run_id == parent_id);
    const seen_event *child_end = find_event(events, count, RF_EVENT_RUN_COMPLETED, 0);
    CHECK(child_end && child_end->run_id != parent_id);  /* the child's end, inside the parent's stream */
    CHECK(events[count - 1].kind == RF_EVENT_RUN_COMPLETED && events[count - 1].run_id == parent_id);
    const char *result;
    uint32_t length;
    CHECK_STATUS(rf_run_get_result(run, (const void **)&result, &length), RF_OK);
    CHECK(strcmp(result, "\"child result\"") == 0);
    rf_run_release(run);
    rf_workflow_release(parent);
    rf_workflow_release(child);
}

int main(void) {
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.worker_threads = 3;
    options.log_capacity = 1 << 16;
    options.max_event_bytes = 4096;
    must(rf_engine_create(&options, &engine), "engine");
    test_context_validity();
    test_everything_in_a_step();
    test_failures();
    test_retries();
    test_step_timeout();
    test_pending();
    test_cancel_and_release_while_running();
    test_human_input();
    test_sub_workflow();
    rf_engine_release(engine);
    return check_finish();
}

/* Host-run steps: the engine's task queue, taken from blocking, without waiting, or when its
 * file descriptor is readable; completion, failure, a try timing out while the host holds it,
 * steps mixed with callback steps, and the engine's release waking a waiting host. */
#include <poll.h>
#include "workflow_helpers.h"

static int readable(int fd) {
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    return poll(&entry, 1, 0) == 1;
}

static rf_engine *new_engine(void) {
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.worker_threads = 2;
    rf_engine *engine = NULL;
    must(rf_engine_create(&options, &engine), "engine");
    return engine;
}

static rf_step_options host_run(void) {
    rf_step_options options;
    rf_step_options_init(&options, sizeof options);
    options.flags = RF_STEP_HOST_RUN;
    return options;
}

/* A built workflow of one host-run step "call" (start -> stop) with `options`. */
static rf_workflow *one_host_step(rf_engine *engine, const char *name, const rf_step_options *options) {
    rf_workflow *workflow = new_workflow(engine, name);
    CHECK_STATUS(rf_workflow_add_step(workflow, "call", "start", "stop", NULL, NULL, NULL, options), RF_OK);
    must(rf_workflow_build(workflow), "build");
    return workflow;
}

/* A callback step between two host-run ones: upper-cases its input. */
static rf_status shout(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const char *input;
    uint32_t length;
    must(rf_step_ctx_input(ctx, 0, (const void **)&input, &length), "input");
    char upper[64];
    for (uint32_t i = 0; i < length && i < sizeof upper; i++) upper[i] = (char)(input[i] >= 'a' && input[i] <= 'z' ? input[i] - 32 : input[i]);
    return rf_step_ctx_send(ctx, "shouted", upper, length);
}

static int draft_code, finish_code;  /* the host-run steps' user_data: which code to run */

static void test_errors(void) {
    rf_engine *engine = new_engine();
    rf_step_ctx *ctx = NULL;
    int fd = -1;
    CHECK_STATUS(rf_engine_take_task(NULL, 0, &ctx), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_engine_take_task(engine, 0, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_engine_take_task(engine, -2, &ctx), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_engine_take_task(engine, 0, &ctx), RF_E_AGAIN);
    CHECK_STATUS(rf_engine_take_task(engine, 20, &ctx), RF_E_TIMEOUT);
    CHECK(ctx == NULL);
    CHECK_STATUS(rf_engine_task_fd(NULL, &fd), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_engine_task_fd(engine, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_engine_task_fd(engine, &fd), RF_OK);
    CHECK(fd >= 0 && !readable(fd));
    int again = -1;
    CHECK_STATUS(rf_engine_task_fd(engine, &again), RF_OK);
    CHECK(again == fd);
    rf_engine_release(engine);
}

/* The host drains the queue from its own loop, waiting on the fd like an event loop would. */
static void test_host_runs_steps(void) {
    rf_engine *engine = new_engine();
    rf_workflow *workflow = new_workflow(engine, "hosted");
    rf_step_options options = host_run();
    CHECK_STATUS(rf_workflow_add_step(workflow, "draft", "start", "drafted", NULL, &draft_code, NULL, &options), RF_OK);
    add_step(workflow, "shout", "drafted", "shouted", shout, NULL, NULL);
    CHECK_STATUS(rf_workflow_add_step(workflow, "finish", "shouted", "stop", NULL, &finish_code, NULL, &options), RF_OK);
    must(rf_workflow_build(workflow), "build");
    int fd = -1;
    must(rf_engine_task_fd(engine, &fd), "fd");
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, NULL, "hello", &subscription);

    int handled = 0;
    while (handled < 2) {
        struct pollfd entry = {.fd = fd, .events = POLLIN};
        CHECK(poll(&entry, 1, 10000) == 1);
        rf_step_ctx *ctx = NULL;
        rf_status status;
        while ((status = rf_engine_take_task(engine, 0, &ctx)) == RF_OK) {
            rf_step_info info = {.struct_size = sizeof info};
            must(rf_step_ctx_get_info(ctx, &info), "info");
            const void *input;
            uint32_t length;
            must(rf_step_ctx_input(ctx, 0, &input, &length), "input");
            if (info.user_data == &draft_code) {
                CHECK(strcmp(info.step_name, "draft") == 0 && strcmp(info.event_type, "start") == 0);
                must(rf_step_ctx_emit_token(ctx, "hi", 2, 0), "token");
                must(rf_step_ctx_send(ctx, "drafted", input, length), "send");
            } else {
                CHECK(info.user_data == &finish_code && strcmp(info.step_name, "finish") == 0);
                CHECK(length == 5 && memcmp(input, "HELLO", 5) == 0);
                char result[16];
                int n = snprintf(result, sizeof result, "\"%.*s\"", (int)length, (const char *)input);
                must(rf_step_ctx_stop(ctx, result, (uint32_t)n), "stop");
            }
            CHECK_STATUS(rf_step_ctx_complete(ctx, RF_OK, NULL), RF_OK);
            CHECK_STATUS(rf_step_ctx_get_info(ctx, &info), RF_E_INVALID_HANDLE);  /* ended */
            handled++;
        }
        CHECK_STATUS(status, RF_E_AGAIN);
    }
    CHECK(!readable(fd));
    seen_event events[32];
    int count = read_events(subscription, events, 32);
    rf_event_kind expected[] = {RF_EVENT_RUN_STARTED, RF_EVENT_STEP_STARTED, RF_EVENT_TOKEN, RF_EVENT_STEP_COMPLETED,
                                RF_EVENT_STEP_STARTED, RF_EVENT_STEP_COMPLETED, RF_EVENT_STEP_STARTED,
                                RF_EVENT_STEP_COMPLETED, RF_EVENT_RUN_COMPLETED};
    CHECK(count == 9);
    for (int i = 0; i < count && i < 9; i++) CHECK(events[i].kind == expected[i]);
    const char *result;
    uint32_t length;
    CHECK_STATUS(rf_run_get_result(run, (const void **)&result, &length), RF_OK);
    CHECK(strcmp(result, "\"HELLO\"") == 0);
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
    rf_engine_release(engine);
}

/* A host-run step completed with an error is retried like any step, then fails the run. */
static void test_host_failure(void) {
    rf_engine *engine = new_engine();
    rf_step_options options = host_run();
    options.retry_attempts = 2;
    rf_workflow *workflow = one_host_step(engine, "hosted-failure", &options);
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, NULL, NULL, &subscription);
    for (int attempt = 1; attempt <= 2; attempt++) {
        rf_step_ctx *ctx = NULL;
        CHECK_STATUS(rf_engine_take_task(engine, 10000, &ctx), RF_OK);
        CHECK_STATUS(rf_step_ctx_complete(ctx, RF_OK + 3, NULL), RF_E_INVALID_ARGUMENT);
        CHECK_STATUS(rf_step_ctx_complete(ctx, RF_E_SYSTEM, attempt == 1 ? "rate limited" : NULL), RF_OK);
    }
    seen_event events[16];
    int count = read_events(subscription, events, 16);
    const seen_event *retrying = find_event(events, count, RF_EVENT_STEP_RETRYING, 0);
    CHECK(retrying && strncmp(retrying->data, "{\"error\":\"rate limited\"", 23) == 0);
    CHECK(events[count - 1].kind == RF_EVENT_RUN_FAILED);
    CHECK_CONTAINS(events[count - 1].data, "\"error\":\"the step completed with RF_E_SYSTEM\",\"attempts\":2");
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
    rf_engine_release(engine);
}

/* A host-run try that times out while the host works on it: the run fails, but the context,
 * its info and its input stay valid (ASan would see freed memory) until the host completes it;
 * meanwhile its calls change nothing. */
static void test_timeout_while_the_host_holds_it(void) {
    rf_engine *engine = new_engine();
    rf_step_options options = host_run();
    options.timeout_ms = 20;
    rf_workflow *workflow = one_host_step(engine, "hosted-timeout", &options);
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, NULL, "the input", &subscription);
    rf_step_ctx *ctx = NULL;
    CHECK_STATUS(rf_engine_take_task(engine, 10000, &ctx), RF_OK);
    rf_step_info info = {.struct_size = sizeof info};
    CHECK_STATUS(rf_step_ctx_get_info(ctx, &info), RF_OK);

    seen_event events[8];
    int count = read_events(subscription, events, 8);  /* to the end: the try timed out */
    CHECK(events[count - 1].kind == RF_EVENT_RUN_FAILED);
    CHECK_CONTAINS(events[count - 1].data, "timed out after 20 ms");

    CHECK(info.input_len == 9 && memcmp(info.input, "the input", 10) == 0);
    CHECK(strcmp(info.step_name, "call") == 0);
    rf_step_info again = {.struct_size = sizeof again};
    CHECK_STATUS(rf_step_ctx_get_info(ctx, &again), RF_OK);
    CHECK(again.input == info.input);
    CHECK_STATUS(rf_step_ctx_check_cancelled(ctx), RF_E_CANCELLED);
    CHECK_STATUS(rf_step_ctx_emit_token(ctx, "late", 4, 0), RF_E_CANCELLED);
    CHECK_CONTAINS(rf_last_error(), "timed out");
    CHECK_STATUS(rf_step_ctx_stop(ctx, "1", 1), RF_E_CANCELLED);
    CHECK_STATUS(rf_step_ctx_complete(ctx, RF_OK, NULL), RF_OK);  /* ignored: the host lets go */
    CHECK_STATUS(rf_step_ctx_complete(ctx, RF_OK, NULL), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_step_ctx_get_info(ctx, &again), RF_E_INVALID_HANDLE);
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
    rf_engine_release(engine);
}

/* Reads the run to its end, which must be RUN_FAILED saying `why`, then releases all three. */
static void expect_failed_run(rf_workflow *workflow, rf_run *run, rf_subscription *subscription, const char *why) {
    seen_event events[8];
    int count = read_events(subscription, events, 8);
    CHECK(count > 0 && events[count - 1].kind == RF_EVENT_RUN_FAILED);
    if (count > 0) CHECK_CONTAINS(events[count - 1].data, why);
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
}

/* Releasing the engine wakes a host waiting for tasks, and host-run steps then fail. */
static void *take_blocking(void *arg) {
    rf_engine *engine = arg;
    rf_step_ctx *ctx = NULL;
    /* Waiting when the release comes: RF_E_CLOSED; not yet calling: the handle is gone. It
     * must return either way, never hang. */
    rf_status status = rf_engine_take_task(engine, -1, &ctx);
    CHECK(status == RF_E_CLOSED || status == RF_E_INVALID_HANDLE);
    return NULL;
}

static void test_engine_release(void) {
    rf_engine *engine = new_engine();
    int fd = -1;
    must(rf_engine_task_fd(engine, &fd), "fd");
    pthread_t host;
    pthread_create(&host, NULL, take_blocking, engine);
    /* The workflow outlives the engine's handle. */
    rf_step_options options = host_run();
    rf_workflow *workflow = one_host_step(engine, "orphaned", &options);
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
    pthread_join(host, NULL);  /* woken with RF_E_CLOSED */

    rf_step_ctx *ctx = NULL;
    CHECK_STATUS(rf_engine_take_task(engine, 0, &ctx), RF_E_INVALID_HANDLE);
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, NULL, NULL, &subscription);
    expect_failed_run(workflow, run, subscription, "its engine was released");
}

/* A host-run step added after the release of an engine whose threads never started (no
 * host-run step, no task fd before): its invocations fail too, instead of waiting for ever in
 * a queue nobody can reach. */
static void test_host_step_added_after_release(void) {
    rf_engine *engine = new_engine();
    rf_workflow *workflow = new_workflow(engine, "late");
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
    rf_step_options options = host_run();
    CHECK_STATUS(rf_workflow_add_step(workflow, "call", "start", "stop", NULL, NULL, NULL, &options), RF_OK);
    must(rf_workflow_build(workflow), "build");
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, NULL, NULL, &subscription);
    expect_failed_run(workflow, run, subscription, "its engine was released");
}

/* Queued tasks of a released engine fail their steps. */
static void test_release_with_queued_tasks(void) {
    rf_engine *engine = new_engine();
    rf_step_options options = host_run();
    rf_workflow *workflow = one_host_step(engine, "queued", &options);
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, NULL, NULL, &subscription);
    int fd = -1;
    must(rf_engine_task_fd(engine, &fd), "fd");
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    CHECK(poll(&entry, 1, 10000) == 1);  /* queued, not taken */
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
    expect_failed_run(workflow, run, subscription, "the engine was released before a host took this step");
}

int main(void) {
    test_errors();
    test_host_runs_steps();
    test_host_failure();
    test_timeout_while_the_host_holds_it();
    test_engine_release();
    test_host_step_added_after_release();
    test_release_with_queued_tasks();
    return check_finish();
}

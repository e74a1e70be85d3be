/* Workflows through the C API: building (and every validation error), routing (chains,
 * branches, loops, fan-out, fan-in, foreach), run options, budgets, timeouts, destructors. */
#include <stdatomic.h>
#include "workflow_helpers.h"

static rf_status noop(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    (void)ctx;
    return RF_OK;
}

static rf_status stop_done(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    return stop_with(ctx, "\"done\"");
}

static rf_status forward_input(void *user_data, rf_step_ctx *ctx) {
    const char *type = user_data;
    const void *input;
    uint32_t length;
    must(rf_step_ctx_input(ctx, 0, &input, &length), "input");
    return rf_step_ctx_send(ctx, type, input, length);
}

static void test_create_and_add_errors(rf_engine *engine) {
    rf_workflow *workflow = NULL;
    CHECK_STATUS(rf_workflow_create(NULL, "w", &workflow), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_workflow_create(engine, NULL, &workflow), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_workflow_create(engine, "", &workflow), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_workflow_create(engine, "caf\xe9", &workflow), RF_E_INVALID_ARGUMENT);  /* Latin-1, not UTF-8 */
    CHECK_CONTAINS(rf_last_error(), "name is not valid UTF-8");
    CHECK_STATUS(rf_workflow_create(engine, "w", NULL), RF_E_INVALID_ARGUMENT);
    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    CHECK_STATUS(rf_workflow_create(engine, long_name, &workflow), RF_E_INVALID_ARGUMENT);
    CHECK(workflow == NULL);
    CHECK_STATUS(rf_workflow_create(engine, "errors", &workflow), RF_OK);

    CHECK_STATUS(rf_workflow_add_step(NULL, "a", "start", "stop", noop, NULL, NULL, NULL), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_workflow_add_step(workflow, NULL, "start", "stop", noop, NULL, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_workflow_add_step(workflow, "", "start", "stop", noop, NULL, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", NULL, "stop", noop, NULL, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "accepts is NULL");
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "", "stop", noop, NULL, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "accepts no event type");
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start,,x", "stop", noop, NULL, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "empty event type name");
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "stop", NULL, noop, NULL, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "accepts the stop event");
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop", NULL, NULL, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "fn is NULL");

    rf_step_options options;
    CHECK_STATUS(rf_step_options_init(NULL, sizeof(rf_step_options)), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_step_options_init(&options, sizeof options), RF_OK);
    CHECK(options.struct_size == sizeof options && options.concurrency == 0 && options.foreach_done == NULL);
    options.flags = RF_STEP_HOST_RUN;
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop", noop, NULL, NULL, &options), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "fn must be NULL");
    options.flags = 0x80;
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop", noop, NULL, NULL, &options), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "unknown bits");
    rf_step_options_init(&options, sizeof options);
    options.foreach_done = "outs";
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop", noop, NULL, NULL, &options), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "does not declare that it sends it");
    options.collect = 3;
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop,outs", noop, NULL, NULL, &options), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "cannot both run per item");
    rf_step_options_init(&options, sizeof options);
    options.retry_attempts = 1001;
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop", noop, NULL, NULL, &options), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "step 'a': retry attempts is 1001");
    options.retry_attempts = 3;
    options.retry_multiplier = 0.5;
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop", noop, NULL, NULL, &options), RF_E_INVALID_ARGUMENT);
    options.retry_multiplier = 2;
    options.retry_jitter = 1.5;
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop", noop, NULL, NULL, &options), RF_E_INVALID_ARGUMENT);
    options.retry_jitter = 0;
    options.struct_size = 0;
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop", noop, NULL, NULL, &options), RF_E_STRUCT_SIZE);

    /* Spaces around names are ignored; a duplicate name is refused. */
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", " start ", " stop ", stop_done, NULL, NULL, NULL), RF_OK);
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop", noop, NULL, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "duplicate step name 'a'");

    /* Built once; then frozen. */
    CHECK_STATUS(rf_workflow_build(NULL), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_workflow_build(workflow), RF_OK);
    CHECK_STATUS(rf_workflow_build(workflow), RF_E_STATE);
    CHECK_STATUS(rf_workflow_add_step(workflow, "b", "start", "stop", noop, NULL, NULL, NULL), RF_E_STATE);
    CHECK_CONTAINS(rf_last_error(), "is built");
    CHECK_STATUS(rf_workflow_release(workflow), RF_OK);
    CHECK_STATUS(rf_workflow_release(workflow), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_workflow_build(workflow), RF_E_INVALID_HANDLE);
}

/* Builds a workflow from (name, accepts, sends) triples and returns the build status. */
static rf_status try_build(rf_engine *engine, const char *const *steps, int count) {
    rf_workflow *workflow = new_workflow(engine, "validation");
    for (int i = 0; i < count; i++) add_step(workflow, steps[3 * i], steps[3 * i + 1], steps[3 * i + 2], noop, NULL, NULL);
    rf_status status = rf_workflow_build(workflow);
    rf_workflow_release(workflow);
    return status;
}

static void test_build_errors(rf_engine *engine) {
    CHECK_STATUS(try_build(engine, NULL, 0), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "has no steps");
    const char *unaccepted[] = {"a", "start", "b,stop"};
    CHECK_STATUS(try_build(engine, unaccepted, 1), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "event type 'b' sent by step 'a' is accepted by no step");
    const char *unknown[] = {"a", "start", "stop", "b", "ghost", "stop"};
    CHECK_STATUS(try_build(engine, unknown, 2), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "unknown event type 'ghost'");
    const char *unreachable[] = {"a", "start", "stop", "b", "x", "x"};
    CHECK_STATUS(try_build(engine, unreachable, 2), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "step 'b' can never run");
    const char *no_start[] = {"a", "x", "x,stop"};
    CHECK_STATUS(try_build(engine, no_start, 1), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "no step accepts the start event");
    const char *no_stop[] = {"a", "start", ""};
    CHECK_STATUS(try_build(engine, no_stop, 1), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "no step sends the stop event");

    /* A workflow that failed to build can be completed and built. */
    rf_workflow *workflow = new_workflow(engine, "fixed");
    add_step(workflow, "a", "start", "b", forward_input, "b", NULL);
    CHECK_STATUS(rf_workflow_build(workflow), RF_E_INVALID_ARGUMENT);
    rf_run *run = NULL;
    CHECK_STATUS(rf_run_create(workflow, NULL, &run), RF_E_STATE);
    CHECK_CONTAINS(rf_last_error(), "not built");
    add_step(workflow, "b", "b", "stop", stop_done, NULL, NULL);
    CHECK_STATUS(rf_workflow_build(workflow), RF_OK);
    CHECK_STATUS(rf_run_create(NULL, NULL, &run), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_run_create(workflow, NULL, NULL), RF_E_INVALID_ARGUMENT);
    rf_run_options options;
    rf_run_options_init_v2(&options, sizeof options);
    options.reserved1 = 1;
    CHECK_STATUS(rf_run_create(workflow, &options, &run), RF_E_INVALID_ARGUMENT);
    options.reserved1 = 0;
    options.struct_size = 8;
    CHECK_STATUS(rf_run_create(workflow, &options, &run), RF_E_STRUCT_SIZE);
    /* An older caller's smaller struct (the first published size) gets defaults. */
    options.struct_size = RF_RUN_OPTIONS_SIZE_V1;
    CHECK_STATUS(rf_run_create(workflow, &options, &run), RF_OK);
    CHECK_STATUS(rf_run_start(run, "x", 1), RF_OK);
    rf_run_status status = 0;
    CHECK_STATUS(rf_run_wait(run, 10000, &status), RF_OK);
    CHECK(status == RF_RUN_COMPLETED);
    rf_run_release(run);
    rf_workflow_release(workflow);

    /* Step budgets and timeouts are for workflow runs only. */
    rf_run_options_init_v2(&options, sizeof options);
    options.step_budget = 5;
    CHECK_STATUS(rf_run_create_manual(engine, "m", &options, &run), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "for workflow runs");
}

/* research -> write -> finish, with a custom event, tokens and state. */
static rf_status chain_write(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const char *tokens[] = {"Hel", "lo", "!"};
    for (uint64_t i = 0; i < 3; i++) must(rf_step_ctx_emit_token(ctx, tokens[i], (uint32_t)strlen(tokens[i]), i), "token");
    must(rf_step_ctx_set_state(ctx, "greeting", "\"Hello!\"", 8), "set_state");
    return send_text(ctx, "written", "Hello!");
}

static rf_status chain_finish(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    char value[32];
    uint32_t length = 0;
    must(rf_step_ctx_get_state(ctx, "greeting", value, sizeof value, &length), "get_state");
    const void *input;
    uint32_t input_length;
    must(rf_step_ctx_input(ctx, 0, &input, &input_length), "input");
    char result[96];
    int n = snprintf(result, sizeof result, "{\"state\":%s,\"input\":\"%.*s\"}", value, (int)input_length, (const char *)input);
    return rf_step_ctx_stop(ctx, result, (uint32_t)n);
}

static void test_chain(rf_engine *engine) {
    rf_workflow *workflow = new_workflow(engine, "chain");
    add_step(workflow, "research", "start", "researched", forward_input, "researched", NULL);
    add_step(workflow, "write", "researched", "written", chain_write, NULL, NULL);
    add_step(workflow, "finish", "written", "stop", chain_finish, NULL, NULL);
    must(rf_workflow_build(workflow), "build");
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, NULL, "question", &subscription);
    seen_event events[32];
    int count = read_events(subscription, events, 32);
    rf_event_kind expected[] = {RF_EVENT_RUN_STARTED, RF_EVENT_STEP_STARTED, RF_EVENT_STEP_COMPLETED,
                                RF_EVENT_STEP_STARTED, RF_EVENT_TOKEN, RF_EVENT_TOKEN, RF_EVENT_TOKEN,
                                RF_EVENT_STATE_CHANGED, RF_EVENT_STEP_COMPLETED, RF_EVENT_STEP_STARTED,
                                RF_EVENT_STEP_COMPLETED, RF_EVENT_RUN_COMPLETED};
    CHECK(count == 12);
    for (int i = 0; i < count && i < 12; i++) {
        CHECK(events[i].kind == expected[i]);
        CHECK(events[i].seq == (uint64_t)i + 1);
    }
    CHECK(strcmp(events[1].step, "research") == 0 && events[1].attempt == 1);
    CHECK(strcmp(events[1].data, "{\"input_bytes\":8}") == 0);
    CHECK(strcmp(events[4].data, "Hel") == 0 && strcmp(events[4].step, "write") == 0);
    CHECK(strcmp(events[7].data, "{\"key\":\"greeting\",\"value\":\"Hello!\"}") == 0);
    CHECK_CONTAINS(events[2].data, "{\"duration_ns\":");
    CHECK_CONTAINS(events[11].data, "{\"result\":{\"state\":\"Hello!\",\"input\":\"Hello!\"},\"usage\":{\"input_tokens\":0");

    rf_run_status status = 0;
    CHECK_STATUS(rf_run_wait(run, 0, &status), RF_OK);
    CHECK(status == RF_RUN_COMPLETED);
    const char *result;
    uint32_t length;
    CHECK_STATUS(rf_run_get_result(run, (const void **)&result, &length), RF_OK);
    CHECK(strcmp(result, "{\"state\":\"Hello!\",\"input\":\"Hello!\"}") == 0 && length == strlen(result));
    CHECK_STATUS(rf_run_get_result(run, NULL, &length), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_get_result(run, (const void **)&result, NULL), RF_E_INVALID_ARGUMENT);
    /* A workflow run's events come from its steps; it ends by itself. */
    rf_emit emit = {.struct_size = sizeof emit, .kind = RF_EVENT_CUSTOM};
    CHECK_STATUS(rf_run_emit(run, &emit, NULL), RF_E_STATE);
    uint32_t emitted = 7;
    CHECK_STATUS(rf_run_emit_batch(run, &emit, 1, NULL, &emitted), RF_E_STATE);
    CHECK_CONTAINS(rf_last_error(), "rf_step_ctx");
    CHECK(emitted == 0);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0), RF_E_STATE);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_E_STATE);
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
}

/* Fan-out: "split" sends 100 items; "work" runs at most 4 at once; "join" collects all 100. */
static atomic_int running_now, running_peak;

static rf_status split(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    for (int i = 0; i < 100; i++) {
        char item[8];
        int n = snprintf(item, sizeof item, "%d", i);
        must(rf_step_ctx_send(ctx, "item", item, (uint32_t)n), "send item");
    }
    return RF_OK;
}

static rf_status work(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    int now = atomic_fetch_add(&running_now, 1) + 1;
    int peak = atomic_load(&running_peak);
    while (now > peak && !atomic_compare_exchange_weak(&running_peak, &peak, now)) {}
    for (volatile int spin = 0; spin < 20000; spin++) {}  /* long enough for others to overlap */
    const void *input;
    uint32_t length;
    must(rf_step_ctx_input(ctx, 0, &input, &length), "input");
    atomic_fetch_sub(&running_now, 1);
    return rf_step_ctx_send(ctx, "done", input, length);
}

static rf_status join(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    rf_step_info info = {.struct_size = sizeof info};
    must(rf_step_ctx_get_info(ctx, &info), "info");
    int seen[100] = {0}, distinct = 0;
    for (uint32_t i = 0; i < info.input_count; i++) {
        const void *input;
        uint32_t length;
        must(rf_step_ctx_input(ctx, i, &input, &length), "input");
        int value = 0;  /* inputs are not NUL-terminated: parse within their length */
        for (uint32_t at = 0; at < length; at++) value = value * 10 + (((const char *)input)[at] - '0');
        if (value >= 0 && value < 100 && !seen[value]) seen[value] = 1, distinct++;
    }
    char result[32];
    int n = snprintf(result, sizeof result, "{\"inputs\":%u,\"distinct\":%d}", info.input_count, distinct);
    return rf_step_ctx_stop(ctx, result, (uint32_t)n);
}

static void test_fan_out_and_in(rf_engine *engine) {
    rf_workflow *workflow = new_workflow(engine, "fan");
    rf_step_options limit;
    rf_step_options_init(&limit, sizeof limit);
    limit.concurrency = 4;
    rf_step_options gather;
    rf_step_options_init(&gather, sizeof gather);
    gather.collect = 100;
    add_step(workflow, "split", "start", "item", split, NULL, NULL);
    add_step(workflow, "work", "item", "done", work, NULL, &limit);
    add_step(workflow, "join", "done", "stop", join, NULL, &gather);
    must(rf_workflow_build(workflow), "build");
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, NULL, NULL, &subscription);
    static seen_event events[400];
    int count = read_events(subscription, events, 400);
    CHECK(count == 1 + 2 + 200 + 2 + 1);
    CHECK(count_events(events, count, RF_EVENT_STEP_STARTED) == 102);
    CHECK(events[count - 1].kind == RF_EVENT_RUN_COMPLETED);
    CHECK_CONTAINS(events[count - 1].data, "{\"result\":{\"inputs\":100,\"distinct\":100}");
    CHECK(atomic_load(&running_peak) >= 1 && atomic_load(&running_peak) <= 4);
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
}

/* Foreach: 10 items, 3 at a time, outputs passed on in item order. */
static rf_status list_items(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const void *items[10];
    uint32_t lengths[10];
    static const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    for (int i = 0; i < 10; i++) items[i] = names[i], lengths[i] = 1;
    CHECK_STATUS(rf_step_ctx_send_each(ctx, "items", items, lengths, 0), RF_E_INVALID_ARGUMENT);  /* an empty list */
    CHECK_CONTAINS(rf_last_error(), "count is 0");
    CHECK_STATUS(rf_step_ctx_send_each(ctx, "items", NULL, lengths, 10), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_step_ctx_send_each(ctx, "stop", items, lengths, 10), RF_E_INVALID_ARGUMENT);
    return rf_step_ctx_send_each(ctx, "items", items, lengths, 10);
}

static rf_status per_item(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const void *input;
    uint32_t length;
    must(rf_step_ctx_input(ctx, 0, &input, &length), "input");
    char output[16];
    int n = snprintf(output, sizeof output, "\"%.*s!\"", (int)length, (const char *)input);
    return rf_step_ctx_set_output(ctx, output, (uint32_t)n);
}

static rf_status gather_outputs(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    rf_step_info info = {.struct_size = sizeof info};
    must(rf_step_ctx_get_info(ctx, &info), "info");
    char result[128] = "[";
    for (uint32_t i = 0; i < info.input_count; i++) {
        const void *input;
        uint32_t length;
        must(rf_step_ctx_input(ctx, i, &input, &length), "input");
        strncat(result, (const char *)input, length);
        if (i + 1 < info.input_count) strcat(result, ",");
    }
    strcat(result, "]");
    return stop_with(ctx, result);
}

static void test_foreach(rf_engine *engine) {
    rf_workflow *workflow = new_workflow(engine, "foreach");
    rf_step_options options;
    rf_step_options_init(&options, sizeof options);
    options.foreach_done = "outputs";
    options.concurrency = 3;
    add_step(workflow, "list", "start", "items", list_items, NULL, NULL);
    add_step(workflow, "each", "items", "outputs", per_item, NULL, &options);
    add_step(workflow, "gather", "outputs", "stop", gather_outputs, NULL, NULL);
    must(rf_workflow_build(workflow), "build");
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, NULL, NULL, &subscription);
    static seen_event events[128];
    int count = read_events(subscription, events, 128);
    CHECK(count_events(events, count, RF_EVENT_PROGRESS) == 10);
    int expected_completed = 1;
    for (int i = 0; i < count; i++) {
        if (events[i].kind != RF_EVENT_PROGRESS) continue;
        char prefix[48];
        snprintf(prefix, sizeof prefix, "{\"completed\":%d,\"total\":10,\"index\":", expected_completed++);
        CHECK_CONTAINS(events[i].data, prefix);
        CHECK_CONTAINS(events[i].data, "\"status\":\"success\",\"output\":\"");
    }
    const char *result;
    uint32_t length;
    CHECK_STATUS(rf_run_get_result(run, (const void **)&result, &length), RF_OK);
    CHECK(strcmp(result, "[\"a!\",\"b!\",\"c!\",\"d!\",\"e!\",\"f!\",\"g!\",\"h!\",\"i!\",\"j!\"]") == 0);
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
}

/* A loop with a branch out of it: "count" runs again until the state says 5. */
static rf_status count_up(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    char value[16] = "0";
    uint32_t length = 0;
    rf_status status = rf_step_ctx_get_state(ctx, "n", value, sizeof value, &length);
    if (status != RF_OK && status != RF_E_NOT_FOUND) return status;
    int n = atoi(value) + 1;
    int written = snprintf(value, sizeof value, "%d", n);
    must(rf_step_ctx_set_state(ctx, "n", value, (uint32_t)written), "set_state");
    return n < 5 ? send_text(ctx, "again", "") : send_text(ctx, "enough", value);
}

static void test_loop_and_branch(rf_engine *engine) {
    rf_workflow *workflow = new_workflow(engine, "loop");
    add_step(workflow, "count", "start,again", "again,enough", count_up, NULL, NULL);
    add_step(workflow, "report", "enough", "stop", forward_input, "stop", NULL);
    must(rf_workflow_build(workflow), "build");
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, NULL, NULL, &subscription);
    seen_event events[64];
    int count = read_events(subscription, events, 64);
    CHECK(count_events(events, count, RF_EVENT_STATE_CHANGED) == 5);
    CHECK(count_events(events, count, RF_EVENT_STEP_STARTED) == 6);
    CHECK_CONTAINS(events[count - 1].data, "{\"result\":5,");
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
}

static rf_status forever(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    return send_text(ctx, "again", "");
}

static void test_step_budget(rf_engine *engine) {
    rf_workflow *workflow = new_workflow(engine, "runaway");
    add_step(workflow, "spin", "start,again", "again,stop", forever, NULL, NULL);
    must(rf_workflow_build(workflow), "build");
    rf_run_options options;
    rf_run_options_init_v2(&options, sizeof options);
    options.step_budget = 50;
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, &options, NULL, &subscription);
    static seen_event events[256];
    int count = read_events(subscription, events, 256);
    CHECK(count_events(events, count, RF_EVENT_STEP_STARTED) == 50);
    CHECK(events[count - 1].kind == RF_EVENT_RUN_FAILED);
    CHECK_CONTAINS(events[count - 1].data, "budget");
    rf_run_status status = 0;
    CHECK_STATUS(rf_run_wait(run, -1, &status), RF_OK);
    CHECK(status == RF_RUN_FAILED);
    const void *result;
    uint32_t length;
    CHECK_STATUS(rf_run_get_result(run, &result, &length), RF_E_STATE);
    CHECK_CONTAINS(rf_last_error(), "budget");
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
}

/* Run options: metadata and trace context on RUN_STARTED; a run timeout naming the active step. */
static rf_status wait_for_cancel(void *user_data, rf_step_ctx *ctx) {
    gate *finished = user_data;
    struct timespec tick = {0, 1000000};
    while (rf_step_ctx_check_cancelled(ctx) == RF_OK) nanosleep(&tick, NULL);
    CHECK_STATUS(rf_step_ctx_check_cancelled(ctx), RF_E_CANCELLED);
    /* The run has ended: what the step does now changes nothing, and says so. */
    CHECK_STATUS(stop_with(ctx, "\"late\""), RF_OK);
    gate_open(finished);
    return RF_OK;
}

/* Static: on a busy machine the step may start only after the run has timed out (or never). */
static gate slow_step_finished = GATE_INIT;

static void test_run_options_and_timeout(rf_engine *engine) {
    rf_workflow *workflow = new_workflow(engine, "slow");
    add_step(workflow, "slow", "start", "stop", wait_for_cancel, &slow_step_finished, NULL);
    must(rf_workflow_build(workflow), "build");
    rf_run_options options;
    rf_run_options_init_v2(&options, sizeof options);
    options.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    options.parent_span_id = "00f067aa0ba902b7";
    options.metadata = "{\"user\":\"ada\"}";
    options.timeout_ms = 50;
    rf_subscription *subscription;
    rf_run *run = start_run(workflow, &options, NULL, &subscription);
    rf_run_status status = 0;
    CHECK_STATUS(rf_run_wait(run, -1, &status), RF_OK);
    CHECK(status == RF_RUN_TIMED_OUT);
    seen_event events[16];
    int count = read_events(subscription, events, 16);
    /* STEP_STARTED, unless the timeout came before a worker took the step: it is active either way. */
    int started = count == 3 && events[1].kind == RF_EVENT_STEP_STARTED;
    CHECK(started || count == 2);
    CHECK(strcmp(events[0].data, "{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"parent_span_id\":\"00f067aa0ba902b7\","
                                 "\"input_bytes\":0,\"metadata\":{\"user\":\"ada\"}}") == 0);
    CHECK(events[count - 1].kind == RF_EVENT_RUN_TIMED_OUT);
    CHECK(strcmp(events[count - 1].data, "{\"timeout_ns\":50000000,\"active_steps\":[\"slow\"]}") == 0);
    const void *result;
    uint32_t length;
    CHECK_STATUS(rf_run_get_result(run, &result, &length), RF_E_STATE);
    CHECK_CONTAINS(rf_last_error(), "timed out after 50 ms; active steps: slow");
    if (started) gate_wait(&slow_step_finished);
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
}

/* user_data destructors: once, after the workflow and its runs are released; never on a failed add. */
static atomic_int destroyed;
static gate destroyed_gate = GATE_INIT;
static void count_destroy(void *user_data) {
    CHECK(user_data == (void *)&destroyed);
    atomic_fetch_add(&destroyed, 1);
    gate_open(&destroyed_gate);
}

static void test_destructors(rf_engine *engine) {
    rf_workflow *workflow = new_workflow(engine, "owned");
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop", NULL, &destroyed, count_destroy, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_workflow_add_step(workflow, "a", "start", "stop", stop_done, &destroyed, count_destroy, NULL), RF_OK);
    must(rf_workflow_build(workflow), "build");
    rf_run *run = start_run(workflow, NULL, NULL, NULL);
    CHECK_STATUS(rf_run_wait(run, -1, NULL), RF_OK);
    CHECK_STATUS(rf_workflow_release(workflow), RF_OK);
    CHECK(atomic_load(&destroyed) == 0);  /* the run still holds the step */
    CHECK_STATUS(rf_run_release(run), RF_OK);
    /* The last user may be a worker thread finishing the step's bookkeeping: wait for it. */
    gate_wait(&destroyed_gate);
    CHECK(atomic_load(&destroyed) == 1);
}

int main(void) {
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.worker_threads = 4;
    rf_engine *engine = NULL;
    must(rf_engine_create(&options, &engine), "engine");
    test_create_and_add_errors(engine);
    test_build_errors(engine);
    test_chain(engine);
    test_fan_out_and_in(engine);
    test_foreach(engine);
    test_loop_and_branch(engine);
    test_step_budget(engine);
    test_run_options_and_timeout(engine);
    test_destructors(engine);
    rf_engine_release(engine);
    return check_finish();
}

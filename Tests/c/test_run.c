/* Manual runs: creation, the run lifecycle, emit and end, and every error they return. */
#include "stream_helpers.h"

static void test_create_errors(rf_engine *engine) {
    rf_run *run = NULL;
    CHECK_STATUS(rf_run_create_manual(NULL, "w", NULL, &run), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_run_create_manual(engine, NULL, NULL, &run), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "workflow_name is NULL");
    CHECK_STATUS(rf_run_create_manual(engine, "w", NULL, NULL), RF_E_INVALID_ARGUMENT);

    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    CHECK_STATUS(rf_run_create_manual(engine, long_name, NULL, &run), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "longer than 255");
    /* Refused rather than repaired: each bad byte would become three, past the 255 checked. */
    memset(long_name, 0xff, 255);
    long_name[255] = 0;
    CHECK_STATUS(rf_run_create_manual(engine, long_name, NULL, &run), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "workflow_name is not valid UTF-8");

    rf_run_options options;
    CHECK_STATUS(rf_run_options_init_v2(NULL, sizeof(rf_run_options)), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_options_init_v2(&options, sizeof options), RF_OK);
    options.trace_id = "not-hex";
    CHECK_STATUS(rf_run_create_manual(engine, "w", &options, &run), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "trace_id must be 1 to 32 hexadecimal digits");
    options.trace_id = "0123456789abcdef0123456789abcdef0"; /* 33 digits */
    CHECK_STATUS(rf_run_create_manual(engine, "w", &options, &run), RF_E_INVALID_ARGUMENT);
    options.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    options.parent_span_id = "";
    CHECK_STATUS(rf_run_create_manual(engine, "w", &options, &run), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "parent_span_id");
    options.parent_span_id = "00f067aa0ba902b7";
    options.reserved0 = 1;
    CHECK_STATUS(rf_run_create_manual(engine, "w", &options, &run), RF_E_INVALID_ARGUMENT);
    options.reserved0 = 0;
    options.struct_size = 8;
    CHECK_STATUS(rf_run_create_manual(engine, "w", &options, &run), RF_E_STRUCT_SIZE);
    options.struct_size = sizeof options;
    CHECK_STATUS(rf_run_create_manual(engine, "w", &options, &run), RF_OK);

    /* The trace context travels on RUN_STARTED. */
    rf_subscription *subscription = subscribe(run, RF_STREAM_TOKENS, 0, 0);
    CHECK_STATUS(rf_run_start(run, "abc", 3), RF_OK);
    rf_event event = {.struct_size = sizeof event};
    CHECK_STATUS(rf_subscription_read(subscription, &event, 1000), RF_OK);
    CHECK(event.kind == RF_EVENT_RUN_STARTED);
    CHECK(strcmp(event.data, "{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"parent_span_id\":\"00f067aa0ba902b7\",\"input_bytes\":3}") == 0);
    rf_subscription_release(subscription);
    CHECK_STATUS(rf_run_release(run), RF_OK);
}

static void test_lifecycle(rf_engine *engine) {
    rf_run *run = make_run(engine, "lifecycle");
    rf_run_status status = 0;
    uint64_t id = 0, other_id = 0;
    CHECK_STATUS(rf_run_get_status(run, &status), RF_OK);
    CHECK(status == RF_RUN_PENDING);
    CHECK_STATUS(rf_run_get_status(run, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_get_id(run, &id), RF_OK);
    CHECK(id > 0);
    CHECK_STATUS(rf_run_get_id(run, NULL), RF_E_INVALID_ARGUMENT);

    /* Nothing can be emitted before the start; a start with NULL input and a length fails. */
    CHECK_STATUS(emit_kind(run, RF_EVENT_CUSTOM, NULL, "t", "{}", 0), RF_E_STATE);
    CHECK_CONTAINS(rf_last_error(), "rf_run_start");
    CHECK_STATUS(rf_run_start(run, NULL, 4), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0), RF_E_STATE);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_OK);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_E_STATE);
    CHECK_CONTAINS(rf_last_error(), "a run starts once");
    CHECK_STATUS(rf_run_get_status(run, &status), RF_OK);
    CHECK(status == RF_RUN_RUNNING);

    uint64_t seq = 0;
    rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_TOKEN, .step_name = "write", .data = "Hi", .data_len = 2};
    CHECK_STATUS(rf_run_emit(run, &e, &seq), RF_OK);
    CHECK(seq == 2); /* RUN_STARTED was 1 */
    CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_OK);

    /* Kinds the engine owns, unknown kinds, bad data and names are refused. */
    rf_event_kind refused[] = {RF_EVENT_RUN_STARTED, RF_EVENT_RUN_COMPLETED, RF_EVENT_RUN_FAILED,
                               RF_EVENT_RUN_TIMED_OUT, RF_EVENT_RUN_CANCELLED, RF_EVENT_LAGGED};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        e.kind = refused[i];
        CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_E_INVALID_ARGUMENT);
    }
    e.kind = 0;
    CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_E_INVALID_ARGUMENT);
    e.kind = 99;
    CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "is not an RF_EVENT_* value");
    e.kind = RF_EVENT_TOKEN;
    e.data = NULL;
    CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_E_INVALID_ARGUMENT);
    e.data = "Hi";
    char long_name[300];
    memset(long_name, 's', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    e.step_name = long_name;
    CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_E_INVALID_ARGUMENT);
    e.step_name = "write";
    CHECK_STATUS(rf_run_emit(run, NULL, NULL), RF_E_INVALID_ARGUMENT);
    e.struct_size = 0;
    CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_E_STRUCT_SIZE);
    e.struct_size = sizeof e;

    /* The payload limit is the engine's max_event_bytes (4096 here). */
    static char big[4097];
    memset(big, 'a', sizeof big);
    e.data = big;
    e.data_len = 4096;
    CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_OK);
    e.data_len = 4097;
    CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_E_TOO_LARGE);
    CHECK_CONTAINS(rf_last_error(), "max_event_bytes");

    CHECK_STATUS(rf_run_end(run, RF_EVENT_PROGRESS, NULL, 0), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 5), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, "{\"result\":1}", 12), RF_OK);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_FAILED, NULL, 0), RF_E_STATE);
    CHECK_CONTAINS(rf_last_error(), "already ended");
    e.data_len = 2;
    CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_E_STATE);
    CHECK_STATUS(rf_run_get_status(run, &status), RF_OK);
    CHECK(status == RF_RUN_COMPLETED);

    CHECK_STATUS(rf_run_release(run), RF_OK);
    CHECK_STATUS(rf_run_release(run), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_run_get_status(run, &status), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_CANCELLED, NULL, 0), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_run_get_id(run, &other_id), RF_E_INVALID_HANDLE);
    /* An engine handle is not a run handle, and the other way round. */
    CHECK_STATUS(rf_run_start((rf_run *)engine, NULL, 0), RF_E_INVALID_HANDLE);
}

static void test_pending_run_can_only_be_cancelled(rf_engine *engine) {
    rf_run *run = make_run(engine, "pending");
    rf_subscription *subscription = subscribe(run, RF_STREAM_TOKENS, 0, 0);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_FAILED, NULL, 0), RF_E_STATE);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_CANCELLED, NULL, 0), RF_OK);
    rf_run_status status = 0;
    rf_run_get_status(run, &status);
    CHECK(status == RF_RUN_CANCELLED);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_E_STATE);
    rf_event_kind kinds[4];
    CHECK(read_all(subscription, kinds, NULL, 4) == 1);
    CHECK(kinds[0] == RF_EVENT_RUN_CANCELLED);
    rf_subscription_release(subscription);
    rf_run_release(run);
}

static void test_release_cancels_an_unfinished_run(rf_engine *engine) {
    rf_run *run = make_run(engine, "released");
    rf_subscription *subscription = subscribe(run, RF_STREAM_TOKENS, 0, 0);
    rf_run_start(run, NULL, 0);
    CHECK_STATUS(rf_run_release(run), RF_OK);
    /* The subscription outlives the run handle and sees the stream end cleanly. */
    rf_event event = {.struct_size = sizeof event};
    CHECK_STATUS(rf_subscription_read(subscription, &event, 1000), RF_OK);
    CHECK(event.kind == RF_EVENT_RUN_STARTED);
    CHECK_STATUS(rf_subscription_read(subscription, &event, 1000), RF_OK);
    CHECK(event.kind == RF_EVENT_RUN_CANCELLED);
    CHECK(strcmp(event.data, "{\"reason\":\"released\"}") == 0);
    CHECK_STATUS(rf_subscription_read(subscription, &event, 1000), RF_E_END_OF_STREAM);
    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_E_END_OF_STREAM);
    CHECK_STATUS(rf_subscription_release(subscription), RF_OK);
}

static void test_runs_outlive_their_engine_handle(void) {
    rf_engine *engine = make_engine(0, 0, 0);
    rf_run *run = make_run(engine, "orphan");
    rf_subscription *subscription = subscribe(run, RF_STREAM_TOKENS, 0, 0);
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_OK);
    CHECK_STATUS(emit_kind(run, RF_EVENT_TOKEN, "s", NULL, "still here", 0), RF_OK);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0), RF_OK);
    rf_event_kind kinds[4];
    CHECK(read_all(subscription, kinds, NULL, 4) == 3 && kinds[1] == RF_EVENT_TOKEN);
    rf_subscription_release(subscription);
    rf_run_release(run);
    /* A new run cannot be made from the released engine. */
    CHECK_STATUS(rf_run_create_manual(engine, "late", NULL, &run), RF_E_INVALID_HANDLE);
}

int main(void) {
    test_runs_outlive_their_engine_handle();
    rf_engine *engine = make_engine(64 << 10, 0, 0);
    test_create_errors(engine);
    test_lifecycle(engine);
    test_pending_run_can_only_be_cancelled(engine);
    test_release_cancels_an_unfinished_run(engine);
    rf_engine_release(engine);
    return check_finish();
}

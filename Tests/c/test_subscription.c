/* Subscriptions read from one thread: every read function, stream modes, start positions,
 * replay from the history, lossy subscribers, the JSON envelope, and their errors. */
#include <stdlib.h>
#include "stream_helpers.h"

/* A run with one of each kind a host emits, then a terminal event:
 * 1 run_started, 2-4 token x3, 5 custom "progress", 6 custom "other", 7 progress,
 * 8 state_changed, 9 step_completed, 10 input_required, 11 run_completed. */
static rf_run *populated_run(rf_engine *engine, rf_subscription **subscriptions, const rf_stream_mode *modes, int count) {
    rf_run *run = make_run(engine, "demo");
    for (int i = 0; i < count; i++) subscriptions[i] = subscribe(run, modes[i], 0, 0);
    rf_run_start(run, NULL, 0);
    emit_kind(run, RF_EVENT_TOKEN, "write", NULL, "Hel", 0);
    emit_kind(run, RF_EVENT_TOKEN, "write", NULL, "lo", 1);
    emit_kind(run, RF_EVENT_TOKEN, "write", NULL, "!", 2);
    emit_kind(run, RF_EVENT_CUSTOM, "write", "progress", "{\"msg\":\"half\"}", 0);
    emit_kind(run, RF_EVENT_CUSTOM, "write", "other", "{\"x\":1}", 0);
    emit_kind(run, RF_EVENT_PROGRESS, "write", NULL, "{\"completed\":1,\"total\":2}", 0);
    emit_kind(run, RF_EVENT_STATE_CHANGED, "write", NULL, "{\"key\":\"k\",\"value\":1}", 0);
    emit_kind(run, RF_EVENT_STEP_COMPLETED, "write", NULL, "{\"duration_ns\":5}", 0);
    emit_kind(run, RF_EVENT_INPUT_REQUIRED, "write", NULL, "{\"prompt\":\"ok?\"}", 0);
    rf_run_end(run, RF_EVENT_RUN_COMPLETED, "{\"result\":\"Hello!\"}", 19);
    return run;
}

static void test_event_fields(rf_engine *engine) {
    rf_subscription *subscription;
    rf_stream_mode mode = RF_STREAM_TOKENS;
    rf_run *run = populated_run(engine, &subscription, &mode, 1);
    uint64_t run_id = 0;
    rf_run_get_id(run, &run_id);

    rf_event event = {.struct_size = sizeof event};
    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_OK);
    CHECK(event.kind == RF_EVENT_RUN_STARTED && event.seq == 1);
    CHECK(event.run_id == run_id && event.root_run_id == run_id && event.parent_run_id == 0);
    CHECK(strcmp(event.workflow_name, "demo") == 0);
    CHECK(strcmp(event.step_name, "") == 0 && strcmp(event.topic, "") == 0);
    CHECK(event.timestamp_ns > 1700000000000000000LL);

    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_OK);
    CHECK(event.kind == RF_EVENT_TOKEN && event.seq == 2 && event.token_index == 0);
    CHECK(event.data_len == 3 && memcmp(event.data, "Hel", 3) == 0 && event.data[3] == 0);
    CHECK(strcmp(event.step_name, "write") == 0 && event.attempt == 1);

    /* The JSON envelope, measured first, then rendered. */
    size_t length = 0;
    CHECK_STATUS(rf_event_to_json(&event, NULL, 0, &length), RF_E_TOO_LARGE);
    char *json = malloc(length + 1);
    CHECK_STATUS(rf_event_to_json(&event, json, length, &length), RF_E_TOO_LARGE);
    CHECK_STATUS(rf_event_to_json(&event, json, length + 1, &length), RF_OK);
    CHECK(strlen(json) == length);
    CHECK(strncmp(json, "{\"seq\":2,\"kind\":\"token\",\"timestamp_ns\":", 39) == 0);
    CHECK_CONTAINS(json, "\"run_id\":");
    CHECK_CONTAINS(json, "\"parent_run_id\":null,");
    CHECK_CONTAINS(json, "\"workflow\":\"demo\",\"step\":\"write\",\"topic\":null,\"attempt\":1,\"token_index\":0,\"data\":\"Hel\"}");
    free(json);
    CHECK_STATUS(rf_event_to_json(NULL, NULL, 0, &length), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_event_to_json(&event, NULL, 10, &length), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_event_to_json(&event, NULL, 0, NULL), RF_E_INVALID_ARGUMENT);
    rf_event broken = event;
    broken.topic = NULL;
    CHECK_STATUS(rf_event_to_json(&broken, NULL, 0, &length), RF_E_INVALID_ARGUMENT);
    broken = event;
    broken.struct_size = 4;
    CHECK_STATUS(rf_event_to_json(&broken, NULL, 0, &length), RF_E_STRUCT_SIZE);

    /* Custom events carry their topic; the envelope embeds their JSON as is. */
    for (int i = 0; i < 3; i++) rf_subscription_read(subscription, &event, 0);
    CHECK(event.kind == RF_EVENT_CUSTOM && strcmp(event.topic, "progress") == 0);
    char buffer[1024];
    CHECK_STATUS(rf_event_to_json(&event, buffer, sizeof buffer, &length), RF_OK);
    CHECK_CONTAINS(buffer, "\"topic\":\"progress\",\"attempt\":1,\"token_index\":null,\"data\":{\"msg\":\"half\"}}");

    int rest = read_all(subscription, NULL, NULL, 0);
    CHECK(rest == 6);
    CHECK_STATUS(rf_subscription_read(subscription, &event, -1), RF_E_END_OF_STREAM);
    rf_subscription_release(subscription);
    rf_run_release(run);

    CHECK(strcmp(rf_event_kind_name(RF_EVENT_TOKEN), "token") == 0);
    CHECK(strcmp(rf_event_kind_name(RF_EVENT_RUN_TIMED_OUT), "run_timed_out") == 0);
    CHECK(strcmp(rf_event_kind_name(RF_EVENT_LAGGED), "lagged") == 0);
    CHECK(strcmp(rf_event_kind_name(0), "unknown") == 0);
    CHECK(strcmp(rf_event_kind_name(1000), "unknown") == 0);
}

static void test_stream_modes(rf_engine *engine) {
    rf_stream_mode modes[] = {RF_STREAM_TOKENS, RF_STREAM_MESSAGES, RF_STREAM_UPDATES, RF_STREAM_VALUES};
    rf_subscription *subscriptions[4];
    rf_run *run = populated_run(engine, subscriptions, modes, 4);
    rf_event_kind kinds[16];

    CHECK(read_all(subscriptions[0], kinds, NULL, 16) == 11);
    CHECK(read_all(subscriptions[1], kinds, NULL, 16) == 8); /* no token deltas */
    for (int i = 0; i < 8; i++) CHECK(kinds[i] != RF_EVENT_TOKEN);
    CHECK(read_all(subscriptions[2], kinds, NULL, 16) == 4);
    CHECK(kinds[0] == RF_EVENT_STATE_CHANGED && kinds[1] == RF_EVENT_STEP_COMPLETED);
    CHECK(kinds[2] == RF_EVENT_INPUT_REQUIRED && kinds[3] == RF_EVENT_RUN_COMPLETED);
    CHECK(read_all(subscriptions[3], kinds, NULL, 16) == 2);
    CHECK(kinds[0] == RF_EVENT_STATE_CHANGED && kinds[1] == RF_EVENT_RUN_COMPLETED);
    for (int i = 0; i < 4; i++) CHECK_STATUS(rf_subscription_release(subscriptions[i]), RF_OK);

    /* Custom: chosen kinds, custom events only on chosen topics; the terminal always passes. */
    rf_subscription_options options;
    rf_subscription_options_init(&options);
    options.mode = RF_STREAM_CUSTOM;
    options.kinds = RF_KIND_BIT(RF_EVENT_CUSTOM) | RF_KIND_BIT(RF_EVENT_PROGRESS);
    const char *topics[] = {"progress"};
    options.topics = topics;
    options.topic_count = 1;
    options.start_seq = 1;
    rf_subscription *custom = NULL;
    CHECK_STATUS(rf_subscription_create(run, &options, &custom), RF_OK);
    uint64_t seqs[8];
    CHECK(read_all(custom, kinds, seqs, 8) == 3);
    CHECK(kinds[0] == RF_EVENT_CUSTOM && seqs[0] == 5);
    CHECK(kinds[1] == RF_EVENT_PROGRESS && seqs[1] == 7);
    CHECK(kinds[2] == RF_EVENT_RUN_COMPLETED && seqs[2] == 11);
    rf_subscription_release(custom);
    rf_run_release(run);
}

static void test_subscription_option_errors(rf_engine *engine) {
    rf_run *run = make_run(engine, "errors");
    rf_subscription *subscription = NULL;
    rf_subscription_options options;
    CHECK_STATUS(rf_subscription_options_init(NULL), RF_E_INVALID_ARGUMENT);
    rf_subscription_options_init(&options);
    CHECK_STATUS(rf_subscription_create(NULL, &options, &subscription), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_subscription_create(run, &options, NULL), RF_E_INVALID_ARGUMENT);
    options.mode = 9;
    CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "mode 9");
    rf_subscription_options_init(&options);
    options.kinds = 1u << 31;
    CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_E_INVALID_ARGUMENT);
    rf_subscription_options_init(&options);
    options.flags = 4;
    CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_E_INVALID_ARGUMENT);
    rf_subscription_options_init(&options);
    options.topic_count = 2;
    CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_E_INVALID_ARGUMENT);
    const char *topics[] = {"a", NULL};
    options.topics = topics;
    CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "topics[1] is NULL");
    rf_subscription_options_init(&options);
    options.reserved0 = 3;
    CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_E_INVALID_ARGUMENT);
    options.reserved0 = 0;
    options.struct_size = 0;
    CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_E_STRUCT_SIZE);
    CHECK(subscription == NULL);

    CHECK_STATUS(rf_subscription_create(run, NULL, &subscription), RF_OK);
    rf_event event = {.struct_size = sizeof event};
    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_E_AGAIN);
    CHECK_STATUS(rf_subscription_read(subscription, &event, 20), RF_E_TIMEOUT);
    CHECK_STATUS(rf_subscription_read(subscription, &event, -2), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_subscription_read(subscription, NULL, 0), RF_E_INVALID_ARGUMENT);
    event.struct_size = 0;
    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_E_STRUCT_SIZE);
    uint32_t count = 99;
    rf_event batch[4] = {{.struct_size = sizeof(rf_event)}};
    CHECK_STATUS(rf_subscription_read_batch(subscription, batch, 0, 0, &count), RF_E_INVALID_ARGUMENT);
    CHECK(count == 0);
    CHECK_STATUS(rf_subscription_read_batch(subscription, NULL, 4, 0, &count), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_subscription_read_batch(subscription, batch, 4, 0, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_subscription_read_batch(subscription, batch, 4, 0, &count), RF_E_AGAIN);
    CHECK_STATUS(rf_subscription_fd(subscription, NULL), RF_E_INVALID_ARGUMENT);

    CHECK_STATUS(rf_subscription_release(subscription), RF_OK);
    CHECK_STATUS(rf_subscription_release(subscription), RF_E_INVALID_HANDLE);
    event.struct_size = sizeof event;
    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_subscription_read_batch(subscription, batch, 4, 0, &count), RF_E_INVALID_HANDLE);
    int32_t fd;
    CHECK_STATUS(rf_subscription_fd(subscription, &fd), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_subscription_read((rf_subscription *)run, &event, 0), RF_E_INVALID_HANDLE);

    rf_run_release(run);
    CHECK_STATUS(rf_subscription_create(run, NULL, &subscription), RF_E_INVALID_HANDLE);
}

/* A caller built against a newer header, whose rf_event is larger (here by 12 bytes, so the
 * elements are not even 8-byte aligned): every element gets the fields this library knows and
 * zeros in the rest, and the batch's views are all intact when the call returns. */
static void test_batch_reads_into_larger_structs(rf_engine *engine) {
    enum { EXTRA = 12, SIZE = sizeof(rf_event) + EXTRA, COUNT = 8 };
    rf_subscription *subscription;
    rf_stream_mode mode = RF_STREAM_TOKENS;
    rf_run *run = populated_run(engine, &subscription, &mode, 1);
    static unsigned char buffer[SIZE * COUNT];
    memset(buffer, 0xAA, sizeof buffer);
    uint32_t size = SIZE;
    memcpy(buffer, &size, sizeof size); /* events[0].struct_size */
    uint32_t count = 0;
    CHECK_STATUS(rf_subscription_read_batch(subscription, (rf_event *)buffer, COUNT, 0, &count), RF_OK);
    CHECK(count == COUNT);
    for (uint32_t i = 0; i < count; i++) {
        rf_event event;
        memcpy(&event, buffer + i * SIZE, sizeof event);
        CHECK(event.struct_size == SIZE && event.seq == i + 1 && strcmp(event.workflow_name, "demo") == 0);
        for (uint32_t k = 0; k < EXTRA; k++) CHECK(buffer[i * SIZE + sizeof(rf_event) + k] == 0);
    }
    rf_event second, third;
    memcpy(&second, buffer + SIZE, sizeof second);
    memcpy(&third, buffer + 2 * SIZE, sizeof third);
    CHECK(second.kind == RF_EVENT_TOKEN && strcmp(second.step_name, "write") == 0 && second.token_index == 0);
    CHECK(second.data_len == 3 && memcmp(second.data, "Hel", 3) == 0);
    CHECK(third.kind == RF_EVENT_TOKEN && third.token_index == 1 && third.data_len == 2 && memcmp(third.data, "lo", 2) == 0);
    rf_subscription_release(subscription);
    rf_run_release(run);
}

static void test_batch_reads(rf_engine *engine) {
    rf_subscription *subscription;
    rf_stream_mode mode = RF_STREAM_TOKENS;
    rf_run *run = populated_run(engine, &subscription, &mode, 1);
    rf_event batch[8];
    batch[0].struct_size = sizeof(rf_event);
    uint32_t count = 0;
    CHECK_STATUS(rf_subscription_read_batch(subscription, batch, 8, 0, &count), RF_OK);
    CHECK(count == 8);
    for (uint32_t i = 0; i < count; i++) CHECK(batch[i].seq == i + 1 && batch[i].struct_size == sizeof(rf_event));
    /* Views of one batch stay valid together until the next read. */
    CHECK(memcmp(batch[1].data, "Hel", 3) == 0 && memcmp(batch[2].data, "lo", 2) == 0);
    CHECK_STATUS(rf_subscription_read_batch(subscription, batch, 8, 0, &count), RF_OK);
    CHECK(count == 3 && batch[2].kind == RF_EVENT_RUN_COMPLETED);
    CHECK_STATUS(rf_subscription_read_batch(subscription, batch, 8, 0, &count), RF_E_END_OF_STREAM);
    CHECK(count == 0);
    rf_subscription_release(subscription);
    rf_run_release(run);
}

/* Packed reads: the buffer size they need, their errors, and entries that hold every field. */
static void test_packed_reads(rf_engine *engine) {
    rf_subscription *subscription;
    rf_stream_mode mode = RF_STREAM_TOKENS;
    rf_run *run = populated_run(engine, &subscription, &mode, 1);
    uint32_t count = 7, used = 7;
    CHECK_STATUS(rf_subscription_read_packed(subscription, NULL, 0, 0, &count, &used), RF_E_TOO_LARGE);
    CHECK(count == 0 && used == RF_PACKED_EVENT_MAX_SIZE(1048576));  /* this engine's max_event_bytes */
    CHECK_STATUS(rf_subscription_read_packed(subscription, NULL, 64, 0, &count, &used), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_subscription_read_packed(subscription, NULL, 0, 0, NULL, &used), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_subscription_read_packed(subscription, NULL, 0, 0, &count, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_subscription_read_packed(NULL, NULL, 0, 0, &count, &used), RF_E_INVALID_HANDLE);
    /* The minimum size holds one event of any size; more room takes more events per read. */
    uint32_t minimum = RF_PACKED_EVENT_MAX_SIZE(1048576), capacity = minimum + 4096;
    uint64_t *buffer = malloc(capacity);  /* 8-byte aligned entries */
    char small[64];
    CHECK_STATUS(rf_subscription_read_packed(subscription, small, sizeof small, 0, &count, &used), RF_E_TOO_LARGE);
    CHECK_STATUS(rf_subscription_read_packed(subscription, buffer, minimum, 0, &count, &used), RF_OK);
    CHECK(count == 1 && ((const rf_packed_event *)buffer)->kind == RF_EVENT_RUN_STARTED);
    CHECK_STATUS(rf_subscription_read_packed(subscription, buffer, capacity, 0, &count, &used), RF_OK);
    CHECK(count == 10);  /* everything else that is ready, to the terminal event */
    const unsigned char *at = (const unsigned char *)buffer;
    for (uint32_t i = 0; i < count; i++) {
        const rf_packed_event *entry = (const rf_packed_event *)at;
        CHECK(entry->seq == i + 2 && entry->size % 8 == 0 && entry->workflow_len == 4);
        const char *names = (const char *)(entry + 1);
        CHECK(memcmp(names, "demo", 4) == 0);
        if (i == 0) {  /* the first token: step "write", data "Hel" */
            CHECK(entry->kind == RF_EVENT_TOKEN && entry->step_len == 5 && entry->topic_len == 0);
            CHECK(memcmp(names + 4, "write", 5) == 0 && entry->data_len == 3 && memcmp(names + 9, "Hel", 3) == 0);
            CHECK(entry->attempt == 1 && entry->token_index == 0);
        }
        if (i == 3) {  /* a custom event: its topic */
            CHECK(entry->kind == RF_EVENT_CUSTOM && entry->topic_len == 8 && memcmp(names + 9, "progress", 8) == 0);
            CHECK(memcmp(names + 17, "{\"msg\":\"half\"}", entry->data_len) == 0);
        }
        at += entry->size;
    }
    CHECK((uint32_t)(at - (const unsigned char *)buffer) == used);
    CHECK_STATUS(rf_subscription_read_packed(subscription, buffer, capacity, 0, &count, &used), RF_E_END_OF_STREAM);
    CHECK(count == 0 && used == 0);
    free(buffer);
    rf_subscription_release(subscription);
    rf_run_release(run);
}

struct poll_state {
    rf_subscription *subscription;
    int seen;
    int stop_at;
    uint64_t last_seq;
    rf_status nested;
};

static int32_t on_event(void *user_data, const rf_event *event) {
    struct poll_state *state = user_data;
    state->seen++;
    state->last_seq = event->seq;
    rf_event inner = {.struct_size = sizeof inner};
    state->nested = rf_subscription_read(state->subscription, &inner, 0);
    return state->seen == state->stop_at;
}

static void test_poll(rf_engine *engine) {
    rf_subscription *subscription;
    rf_stream_mode mode = RF_STREAM_TOKENS;
    rf_run *run = populated_run(engine, &subscription, &mode, 1);
    struct poll_state state = {.subscription = subscription, .stop_at = 3};
    uint32_t count = 0;
    CHECK_STATUS(rf_subscription_poll(subscription, on_event, &state, 100, &count), RF_OK);
    CHECK(count == 3 && state.seen == 3 && state.last_seq == 3); /* stopped after the third */
    CHECK_STATUS(state.nested, RF_E_STATE); /* reading inside the handler is refused */
    CHECK_STATUS(rf_subscription_poll(subscription, on_event, &state, 2, &count), RF_OK);
    CHECK(count == 2 && state.last_seq == 5); /* went on where it stopped, limit respected */
    CHECK_STATUS(rf_subscription_poll(subscription, on_event, &state, 100, &count), RF_OK);
    CHECK(count == 6 && state.last_seq == 11);
    CHECK_STATUS(rf_subscription_poll(subscription, on_event, &state, 100, &count), RF_E_END_OF_STREAM);
    CHECK_STATUS(rf_subscription_poll(subscription, NULL, &state, 100, &count), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_subscription_poll(subscription, on_event, &state, 0, &count), RF_E_INVALID_ARGUMENT);
    rf_subscription_release(subscription);
    rf_run_release(run);

    /* Nothing ready is RF_OK with a count of 0. */
    run = make_run(engine, "idle");
    subscription = subscribe(run, RF_STREAM_TOKENS, 0, 0);
    count = 7;
    CHECK_STATUS(rf_subscription_poll(subscription, on_event, &state, 10, &count), RF_OK);
    CHECK(count == 0);
    rf_subscription_release(subscription);
    rf_run_release(run);
}

static void test_start_positions_and_replay(void) {
    /* A 64 KiB log and unlimited history: 3,000 events leave the log, then come back. */
    rf_engine *engine = make_engine(64 << 10, UINT64_MAX, 0);
    rf_run *run = make_run(engine, "replay");
    rf_run_start(run, NULL, 0);
    char data[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(data, sizeof data, "{\"i\":%d}", i);
        emit_kind(run, RF_EVENT_CUSTOM, "s", "t", data, 0);
    }
    rf_subscription *from_start = subscribe(run, RF_STREAM_TOKENS, 0, 1);
    rf_subscription *from_middle = subscribe(run, RF_STREAM_TOKENS, 0, 2990);
    rf_subscription *live = subscribe(run, RF_STREAM_TOKENS, 0, 0);
    rf_subscription *future = subscribe(run, RF_STREAM_TOKENS, 0, 3003);
    for (int i = 3000; i < 3005; i++) {
        snprintf(data, sizeof data, "{\"i\":%d}", i);
        emit_kind(run, RF_EVENT_CUSTOM, "s", "t", data, 0);
    }
    rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0);

    static uint64_t seqs[4000];
    int n = read_all(from_start, NULL, seqs, 4000);
    CHECK(n == 3007);
    int dense = 1;
    for (int i = 0; i < n; i++) dense &= seqs[i] == (uint64_t)i + 1;
    CHECK(dense);
    CHECK(read_all(from_middle, NULL, seqs, 4000) == 18 && seqs[0] == 2990);
    CHECK(read_all(live, NULL, seqs, 4000) == 6 && seqs[0] == 3002);
    CHECK(read_all(future, NULL, seqs, 4000) == 5 && seqs[0] == 3003);
    rf_subscription_release(from_start);
    rf_subscription_release(from_middle);
    rf_subscription_release(live);
    rf_subscription_release(future);

    /* Subscribing live after the end: the stream has already ended. */
    rf_subscription *late = subscribe(run, RF_STREAM_TOKENS, 0, 0);
    rf_event event = {.struct_size = sizeof event};
    CHECK_STATUS(rf_subscription_read(late, &event, 1000), RF_E_END_OF_STREAM);
    rf_subscription_release(late);
    rf_run_release(run);
    rf_engine_release(engine);

    /* With almost no history, early seqs are gone: a clear error, not a silent gap. */
    engine = make_engine(64 << 10, 1, 0);
    run = make_run(engine, "forgetful");
    rf_run_start(run, NULL, 0);
    for (int i = 0; i < 3000; i++) emit_kind(run, RF_EVENT_CUSTOM, "s", "t", "{}", 0);
    rf_subscription_options options;
    rf_subscription_options_init(&options);
    options.start_seq = 1;
    rf_subscription *subscription = NULL;
    CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_E_SEQ_UNAVAILABLE);
    CHECK_CONTAINS(rf_last_error(), "seq 1 is no longer retained; the oldest retained seq is");
    CHECK(subscription == NULL);
    rf_run_release(run);
    rf_engine_release(engine);
}

static void test_lossy_subscriber_gets_lagged_count(void) {
    rf_engine *engine = make_engine(64 << 10, 1, 0);
    rf_run *run = make_run(engine, "lossy");
    rf_subscription *lossy = subscribe(run, RF_STREAM_TOKENS, RF_SUBSCRIBE_LOSSY, 0);
    rf_run_start(run, NULL, 0);
    const int total = 5000;
    int emitted = 0;
    for (int i = 0; i < total; i++) emitted += emit_kind(run, RF_EVENT_TOKEN, "s", NULL, "0123456789abcdef", (uint64_t)i) == RF_OK;
    CHECK(emitted == total); /* a lossy subscriber never makes the producer wait */
    rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0);

    rf_event event = {.struct_size = sizeof event};
    uint64_t delivered = 0, skipped = 0, lagged_events = 0, last_seq = 0;
    int ordered = 1;
    rf_status status;
    while ((status = rf_subscription_read(lossy, &event, 1000)) == RF_OK) {
        if (event.kind == RF_EVENT_LAGGED) {
            unsigned long long n = 0, first = 0, last = 0;
            CHECK(sscanf(event.data, "{\"skipped\":%llu,\"first_seq\":%llu,\"last_seq\":%llu}", &n, &first, &last) == 3);
            CHECK(event.seq == 0 && last - first + 1 == n && first == last_seq + 1);
            skipped += n;
            lagged_events++;
        } else {
            ordered &= event.seq > last_seq;
            last_seq = event.seq;
            delivered++;
        }
    }
    CHECK_STATUS(status, RF_E_END_OF_STREAM);
    CHECK(lagged_events >= 1 && ordered);
    CHECK(delivered + skipped == (uint64_t)total + 2); /* run_started + tokens + terminal */
    rf_subscription_release(lossy);
    rf_run_release(run);
    rf_engine_release(engine);
}

int main(void) {
    rf_engine *engine = make_engine(0, 0, 0);
    test_event_fields(engine);
    test_stream_modes(engine);
    test_subscription_option_errors(engine);
    test_batch_reads(engine);
    test_batch_reads_into_larger_structs(engine);
    test_packed_reads(engine);
    test_poll(engine);
    rf_engine_release(engine);
    test_start_positions_and_replay();
    test_lossy_subscriber_gets_lagged_count();
    return check_finish();
}

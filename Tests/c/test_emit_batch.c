/* rf_run_emit_batch: order, seqs, pieces across the end of the log's buffer, every error
 * path, all-or-nothing checks, and how a batch stopped partway reports what it appended. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "stream_helpers.h"
#include "thread_helpers.h"

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The seq the next event of `run` gets: emits a probe and returns its seq (probe included). */
static uint64_t probe_seq(rf_run *run) {
    rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_CUSTOM, .topic = "probe"};
    uint64_t seq = 0;
    CHECK_STATUS(rf_run_emit(run, &e, &seq), RF_OK);
    return seq;
}

static void test_a_batch_arrives_whole_and_in_order(rf_engine *engine) {
    rf_run *run = make_run(engine, "batch");
    rf_subscription *subscription = subscribe(run, RF_STREAM_TOKENS, 0, 1);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_OK);
    enum { N = 100 };
    rf_emit events[N];
    char data[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(data[i], sizeof data[i], "d%d", i);
        events[i] = (rf_emit){.struct_size = sizeof(rf_emit), .kind = i % 10 == 9 ? RF_EVENT_PROGRESS : RF_EVENT_TOKEN,
                              .step_name = i % 2 ? "odd" : "even", .topic = i % 3 ? NULL : "third",
                              .data = data[i], .data_len = (uint32_t)strlen(data[i]), .attempt = 1,
                              .token_index = (uint64_t)i};
    }
    uint64_t seqs[N];
    uint32_t emitted = 12345;
    CHECK_STATUS(rf_run_emit_batch(run, events, N, seqs, &emitted), RF_OK);
    CHECK(emitted == N);
    for (int i = 0; i < N; i++) CHECK(seqs[i] == (uint64_t)i + 2); /* RUN_STARTED was 1 */
    /* out_seqs and out_emitted are optional. */
    CHECK_STATUS(rf_run_emit_batch(run, events, 1, NULL, NULL), RF_OK);

    rf_event event = {.struct_size = sizeof event};
    CHECK_STATUS(rf_subscription_read(subscription, &event, 5000), RF_OK);
    CHECK(event.kind == RF_EVENT_RUN_STARTED);
    int64_t piece_timestamp = 0;
    for (int i = 0; i < N; i++) {
        CHECK_STATUS(rf_subscription_read(subscription, &event, 5000), RF_OK);
        CHECK(event.seq == seqs[i]);
        CHECK(event.kind == events[i].kind);
        CHECK(event.token_index == (uint64_t)i && event.attempt == 1);
        CHECK(strcmp(event.step_name, events[i].step_name) == 0);
        CHECK(strcmp(event.topic, events[i].topic ? events[i].topic : "") == 0);
        CHECK(event.data_len == events[i].data_len && memcmp(event.data, data[i], event.data_len) == 0);
        /* Small events go 32 to a piece, and the events of a piece share one timestamp. */
        if (i % 32 == 0) piece_timestamp = event.timestamp_ns;
        CHECK(event.timestamp_ns == piece_timestamp && event.timestamp_ns > 0);
    }
    CHECK_STATUS(rf_subscription_read(subscription, &event, 5000), RF_OK);
    CHECK(event.seq == N + 2 && event.token_index == 0);
    rf_subscription_release(subscription);
    rf_run_release(run);
}

/* Every refusal leaves the stream as it was: the next event gets the seq it would have had. */
static void test_a_refused_batch_appends_nothing(rf_engine *engine) {
    rf_run *run = make_run(engine, "refused");
    rf_emit events[4];
    for (int i = 0; i < 4; i++)
        events[i] = (rf_emit){.struct_size = sizeof(rf_emit), .kind = RF_EVENT_TOKEN, .data = "x", .data_len = 1};
    uint32_t emitted = 99;
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, &emitted), RF_E_STATE); /* pending */
    CHECK(emitted == 0);
    CHECK_CONTAINS(rf_last_error(), "rf_run_start");
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_OK);
    uint64_t expected = probe_seq(run) + 1;

    emitted = 99;
    CHECK_STATUS(rf_run_emit_batch(NULL, events, 4, NULL, &emitted), RF_E_INVALID_HANDLE);
    CHECK(emitted == 0);
    CHECK_STATUS(rf_run_emit_batch((rf_run *)engine, events, 4, NULL, NULL), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_run_emit_batch(run, NULL, 4, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_emit_batch(run, events, 0, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "count is 0");

    /* The first element's struct_size: 0, below the first published size, not an array stride. */
    events[0].struct_size = 0;
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, NULL), RF_E_STRUCT_SIZE);
    events[0].struct_size = RF_EMIT_SIZE_V1 - 8;
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, NULL), RF_E_STRUCT_SIZE);
    events[0].struct_size = sizeof(rf_emit) + 4;
    CHECK_STATUS(rf_run_emit_batch(run, events, 1, NULL, NULL), RF_E_STRUCT_SIZE);
    CHECK_CONTAINS(rf_last_error(), "multiple of 8");
    /* A later element whose struct_size differs from the first's. */
    events[0].struct_size = sizeof(rf_emit);
    events[2].struct_size = sizeof(rf_emit) + 8;
    emitted = 99;
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, &emitted), RF_E_STRUCT_SIZE);
    CHECK_CONTAINS(rf_last_error(), "events[2]");
    CHECK(emitted == 0);
    events[2].struct_size = sizeof(rf_emit);

    /* One bad event among good ones: refused as rf_run_emit refuses it, naming its index. */
    events[3].kind = 99;
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "events[3]: kind 99 is not an RF_EVENT_* value");
    rf_event_kind engine_only[] = {RF_EVENT_RUN_STARTED, RF_EVENT_RUN_COMPLETED, RF_EVENT_RUN_FAILED,
                                   RF_EVENT_RUN_TIMED_OUT, RF_EVENT_RUN_CANCELLED, RF_EVENT_LAGGED};
    for (size_t k = 0; k < sizeof engine_only / sizeof engine_only[0]; k++) {
        events[3].kind = engine_only[k];
        CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, NULL), RF_E_INVALID_ARGUMENT);
        CHECK_CONTAINS(rf_last_error(), "emitted by the engine");
    }
    events[3].kind = RF_EVENT_TOKEN;
    events[1].data = NULL;
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "events[1]: data is NULL");
    events[1].data = "x";
    char long_name[300];
    memset(long_name, 's', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    events[2].topic = long_name;
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "events[2]: topic is longer than 255 bytes");
    events[2].topic = NULL;
    events[2].step_name = long_name;
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, NULL), RF_E_INVALID_ARGUMENT);
    events[2].step_name = NULL;
    static char big[4097];
    events[3].data = big;
    events[3].data_len = 4097; /* max_event_bytes is 4096 here */
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, NULL), RF_E_TOO_LARGE);
    CHECK_CONTAINS(rf_last_error(), "events[3]");
    CHECK(probe_seq(run) == expected);

    /* In a batch of several pieces, a refusal deep inside still stops the first piece. */
    enum { MANY = 100 };
    rf_emit many[MANY];
    for (int i = 0; i < MANY; i++)
        many[i] = (rf_emit){.struct_size = sizeof(rf_emit), .kind = RF_EVENT_TOKEN, .data = "x", .data_len = 1};
    many[70].data_len = 4097;
    many[70].data = big;
    emitted = 99;
    CHECK_STATUS(rf_run_emit_batch(run, many, MANY, NULL, &emitted), RF_E_TOO_LARGE);
    CHECK_CONTAINS(rf_last_error(), "events[70]");
    CHECK(emitted == 0);
    many[70].data_len = 1;
    many[99].kind = RF_EVENT_RUN_COMPLETED;
    CHECK_STATUS(rf_run_emit_batch(run, many, MANY, NULL, &emitted), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "events[99]");
    CHECK(emitted == 0);
    CHECK(probe_seq(run) == expected + 1);
    expected += 1;

    /* The limit itself passes, and so does a newer caller's larger element whose extra bytes
     * are 0; one with a field this library does not know set is refused. */
    events[3].data_len = 4096;
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, NULL), RF_OK);
    struct newer {
        rf_emit emit;
        uint64_t future_field;
    } newer[2] = {{.emit = events[0]}, {.emit = events[1]}};
    newer[0].emit.struct_size = newer[1].emit.struct_size = sizeof(struct newer);
    CHECK_STATUS(rf_run_emit_batch(run, &newer[0].emit, 2, NULL, NULL), RF_OK);
    newer[1].future_field = 1;
    CHECK_STATUS(rf_run_emit_batch(run, &newer[0].emit, 2, NULL, NULL), RF_E_STRUCT_SIZE);
    CHECK_CONTAINS(rf_last_error(), "events[1]");
    CHECK(probe_seq(run) == expected + 1 + 4 + 2);

    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0), RF_OK);
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, NULL), RF_E_STATE);
    CHECK_STATUS(rf_run_release(run), RF_OK);
    CHECK_STATUS(rf_run_emit_batch(run, events, 4, NULL, NULL), RF_E_INVALID_HANDLE);
}

/* ---- batches much larger than the log, read while they are written ---- */

struct reader {
    rf_subscription *subscription;
    long tokens;
    long bad;
};

/* Checks every token: dense seqs, token_index counting up, data "<index>" padded to its size. */
static void *read_and_check(void *arg) {
    struct reader *reader = arg;
    static rf_event batch[64];
    batch[0].struct_size = sizeof(rf_event);
    uint32_t count = 0;
    uint64_t last_seq = 0;
    while (rf_subscription_read_batch(reader->subscription, batch, 64, 10000, &count) == RF_OK) {
        for (uint32_t i = 0; i < count; i++) {
            rf_event *event = &batch[i];
            reader->bad += last_seq != 0 && event->seq != last_seq + 1;
            last_seq = event->seq;
            if (event->kind != RF_EVENT_TOKEN) continue;
            reader->bad += event->token_index != (uint64_t)reader->tokens;
            reader->bad += event->data_len != (uint32_t)(reader->tokens % 7) * 400 + 8;
            reader->bad += (uint64_t)atol(event->data) != event->token_index;
            reader->tokens++;
        }
    }
    return NULL;
}

static void test_batches_larger_than_the_log(void) {
    /* 64 KiB log: a piece is at most 16 KiB, and the batches wrap the buffer many times. */
    rf_engine *engine = make_engine(64 << 10, 0, 0);
    rf_run *run = make_run(engine, "large");
    struct reader reader = {.subscription = subscribe(run, RF_STREAM_TOKENS, 0, 1)};
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_OK);
    pthread_t thread;
    pthread_create(&thread, NULL, read_and_check, &reader);
    enum { BATCH = 500, BATCHES = 20 };
    static rf_emit events[BATCH];
    static char data[BATCH][2500];
    static uint64_t seqs[BATCH];
    long index = 0;
    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < BATCH; i++, index++) {
            uint32_t size = (uint32_t)(index % 7) * 400 + 8;
            memset(data[i], ' ', size);
            snprintf(data[i], 8, "%ld", index);
            data[i][strlen(data[i])] = ' ';
            events[i] = (rf_emit){.struct_size = sizeof(rf_emit), .kind = RF_EVENT_TOKEN, .step_name = "s",
                                  .data = data[i], .data_len = size, .token_index = (uint64_t)index};
        }
        uint32_t emitted = 0;
        CHECK_STATUS(rf_run_emit_batch(run, events, BATCH, seqs, &emitted), RF_OK);
        CHECK(emitted == BATCH);
        for (int i = 1; i < BATCH; i++) CHECK(seqs[i] == seqs[i - 1] + 1); /* one producer: dense */
    }
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0), RF_OK);
    pthread_join(thread, NULL);
    CHECK(reader.tokens == (long)BATCH * BATCHES);
    CHECK(reader.bad == 0);
    rf_subscription_release(reader.subscription);
    rf_run_release(run);
    rf_engine_release(engine);
}

/* ---- a batch stopped partway: the log stays full, or the run ends meanwhile ---- */

enum { STUCK = 2000 };
static rf_emit stuck_events[STUCK];
static uint64_t stuck_seqs[STUCK];

static void fill_stuck_events(void) {
    static char payload[100];
    memset(payload, 'p', sizeof payload);
    for (int i = 0; i < STUCK; i++)
        stuck_events[i] = (rf_emit){.struct_size = sizeof(rf_emit), .kind = RF_EVENT_TOKEN, .data = payload,
                                    .data_len = sizeof payload, .token_index = (uint64_t)i};
}

/* Reads tokens and checks them; returns how many came before the terminal event. */
static long read_tokens_to_end(rf_subscription *subscription, rf_event_kind *terminal) {
    rf_event event = {.struct_size = sizeof event};
    long tokens = 0;
    while (rf_subscription_read(subscription, &event, 5000) == RF_OK) {
        if (event.kind == RF_EVENT_TOKEN) {
            CHECK(event.token_index == (uint64_t)tokens && event.seq == stuck_seqs[tokens]);
            tokens++;
        } else if (event.kind != RF_EVENT_RUN_STARTED) {
            *terminal = event.kind;
        }
    }
    return tokens;
}

static void test_a_batch_that_times_out_reports_what_it_appended(void) {
    rf_engine *engine = make_engine(64 << 10, 0, 100);
    rf_run *run = make_run(engine, "timeout");
    rf_subscription *stalled = subscribe(run, RF_STREAM_TOKENS, 0, 1);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_OK);
    fill_stuck_events();
    uint32_t emitted = 0;
    /* 2,000 events of 100 bytes do not fit in 64 KiB while the subscriber does not read. */
    CHECK_STATUS(rf_run_emit_batch(run, stuck_events, STUCK, stuck_seqs, &emitted), RF_E_TIMEOUT);
    CHECK(emitted > 0 && emitted < STUCK);
    for (uint32_t i = 1; i < emitted; i++) CHECK(stuck_seqs[i] == stuck_seqs[i - 1] + 1);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0), RF_OK);
    rf_event_kind terminal = 0;
    CHECK(read_tokens_to_end(stalled, &terminal) == (long)emitted);
    CHECK(terminal == RF_EVENT_RUN_COMPLETED);
    rf_subscription_release(stalled);
    rf_run_release(run);
    rf_engine_release(engine);
}

struct blocked_batch {
    rf_run *run;
    _Atomic pid_t tid;
    rf_status status;
    uint32_t emitted;
};

static void *emit_stuck_batch(void *arg) {
    struct blocked_batch *batch = arg;
    atomic_store(&batch->tid, (pid_t)syscall(SYS_gettid));
    batch->status = rf_run_emit_batch(batch->run, stuck_events, STUCK, stuck_seqs, &batch->emitted);
    return NULL;
}

static void test_a_batch_waiting_for_room_stops_when_the_run_ends(void) {
    rf_engine *engine = make_engine(64 << 10, 0, 0); /* emits wait for room without limit */
    rf_run *run = make_run(engine, "ended");
    rf_subscription *stalled = subscribe(run, RF_STREAM_TOKENS, 0, 1);
    rf_subscription *probe = subscribe(run, RF_STREAM_TOKENS, 0, 1);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_OK);
    fill_stuck_events();
    struct blocked_batch batch = {.run = run};
    pthread_t thread;
    pthread_create(&thread, NULL, emit_stuck_batch, &batch);
    /* Once the probe has seen 100 tokens the batch is under way; it cannot finish, since the
     * stalled subscriber holds the log, and soon sleeps waiting for room. Ending the run (its
     * terminal event has room kept for it) wakes it and stops the batch where it is. */
    rf_event event = {.struct_size = sizeof event};
    int tokens = 0;
    while (tokens < 100 && rf_subscription_read(probe, &event, 5000) == RF_OK) tokens += event.kind == RF_EVENT_TOKEN;
    CHECK(tokens == 100);
    wait_until_blocked(&batch.tid); /* asleep, waiting for room */
    CHECK(thread_is_in_futex(atomic_load(&batch.tid)));
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_CANCELLED, NULL, 0), RF_OK);
    pthread_join(thread, NULL);
    CHECK_STATUS(batch.status, RF_E_STATE);
    CHECK(batch.emitted >= 100 && batch.emitted < STUCK);
    rf_event_kind terminal = 0;
    CHECK(read_tokens_to_end(stalled, &terminal) == (long)batch.emitted);
    CHECK(terminal == RF_EVENT_RUN_CANCELLED);
    rf_subscription_release(stalled);
    rf_subscription_release(probe);
    rf_run_release(run);
    rf_engine_release(engine);
}

/* ---- a reader asleep for one kind wakes when a batch holds it among others ---- */

struct sleeper {
    rf_subscription *subscription;
    _Atomic pid_t tid;
    rf_status status;
    rf_event event;
    int64_t waited_ns;
};

static void *read_one(void *arg) {
    struct sleeper *sleeper = arg;
    atomic_store(&sleeper->tid, (pid_t)syscall(SYS_gettid));
    sleeper->event.struct_size = sizeof sleeper->event;
    int64_t start = now_ns();
    sleeper->status = rf_subscription_read(sleeper->subscription, &sleeper->event, 10000);
    sleeper->waited_ns = now_ns() - start;
    return NULL;
}

static void test_a_sleeping_reader_wakes_for_a_kind_inside_a_batch(rf_engine *engine) {
    rf_run *run = make_run(engine, "wake");
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_OK);
    rf_subscription_options options;
    rf_subscription_options_init(&options);
    options.mode = RF_STREAM_CUSTOM;
    options.kinds = 1u << RF_EVENT_STEP_COMPLETED;
    rf_subscription *subscription = NULL;
    CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_OK);
    struct sleeper sleeper = {.subscription = subscription};
    pthread_t thread;
    pthread_create(&thread, NULL, read_one, &sleeper);
    wait_until_blocked(&sleeper.tid);
    CHECK(thread_is_in_futex(atomic_load(&sleeper.tid)));
    /* Tokens it filters out first, the kind it waits for last: the wake check covers every
     * kind in the piece, not only the first. */
    rf_emit events[3] = {
        {.struct_size = sizeof(rf_emit), .kind = RF_EVENT_TOKEN, .data = "a", .data_len = 1},
        {.struct_size = sizeof(rf_emit), .kind = RF_EVENT_TOKEN, .data = "b", .data_len = 1},
        {.struct_size = sizeof(rf_emit), .kind = RF_EVENT_STEP_COMPLETED, .step_name = "done", .data = "{}", .data_len = 2},
    };
    CHECK_STATUS(rf_run_emit_batch(run, events, 3, NULL, NULL), RF_OK);
    pthread_join(thread, NULL);
    CHECK_STATUS(sleeper.status, RF_OK);
    CHECK(sleeper.event.kind == RF_EVENT_STEP_COMPLETED && strcmp(sleeper.event.step_name, "done") == 0);
    /* Woken by the batch, not by the read's own timeout (after which it would find the event
     * too): the margin is seconds, for wakes that take microseconds. */
    CHECK(sleeper.waited_ns < 5 * 1000000000LL);
    rf_subscription_release(subscription);
    rf_run_release(run);
}

int main(void) {
    rf_engine *engine = make_engine(256 << 10, 0, 0);
    test_a_batch_arrives_whole_and_in_order(engine);
    test_a_refused_batch_appends_nothing(engine);
    test_a_sleeping_reader_wakes_for_a_kind_inside_a_batch(engine);
    test_batches_larger_than_the_log();
    test_a_batch_that_times_out_reports_what_it_appended();
    test_a_batch_waiting_for_room_stops_when_the_run_ends();
    rf_engine_release(engine);
    return check_finish();
}

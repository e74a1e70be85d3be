/* Sinks: every event of every run reaches every sink, per run in seq order, also with
 * concurrent runs; kinds filters; failing sinks retried with the same batch or disabled, never
 * stalling the live stream beyond its bound; lossy sinks whose counts add up exactly; draining
 * on release of the sink and of the engine; releases refused on the sink thread; argument errors. */
#include <pthread.h>
#include <stdatomic.h>
#include "stream_helpers.h"
#include "workflow_helpers.h"

enum { MAX_RUNS = 8, MAX_EVENTS = 20000 };

/* What a recording sink saw, per run (only the sink thread writes; tests read after release). */
typedef struct recorder {
    uint64_t run_ids[MAX_RUNS];
    uint64_t last_seq[MAX_RUNS];
    int events[MAX_RUNS];
    int lagged_skipped[MAX_RUNS];
    int ended[MAX_RUNS];
    int out_of_order;
    int calls;
    int fail_first;     /* fail this many calls first */
    int always_fail;
    gate *hold;         /* if set, the first call waits for it */
    rf_event_kind kinds_seen[17];
    atomic_int destroyed;
} recorder;

static int run_index(recorder *r, uint64_t run_id) {
    for (int i = 0; i < MAX_RUNS; i++) {
        if (r->run_ids[i] == run_id) return i;
        if (r->run_ids[i] == 0) {
            r->run_ids[i] = run_id;
            return i;
        }
    }
    return MAX_RUNS - 1;
}

static rf_status record(void *user_data, const rf_event *events, uint32_t count) {
    recorder *r = user_data;
    r->calls++;
    if (r->hold && r->calls == 1) gate_wait(r->hold);
    if (r->always_fail || r->calls <= r->fail_first) return RF_E_SYSTEM;
    for (uint32_t i = 0; i < count; i++) {
        const rf_event *e = &events[i];
        int index = run_index(r, e->run_id);
        r->kinds_seen[e->kind < 17 ? e->kind : 0] = 1;
        if (e->kind == RF_EVENT_LAGGED) {
            r->lagged_skipped[index] += atoi(strstr(e->data, "\"skipped\":") + 10);
            continue;
        }
        if (e->seq <= r->last_seq[index]) r->out_of_order++;
        r->last_seq[index] = e->seq;
        r->events[index]++;
    }
    return RF_OK;
}

static void ended(void *user_data, uint64_t run_id) {
    recorder *r = user_data;
    r->ended[run_index(r, run_id)]++;
}

static void destroyed(void *user_data) { atomic_fetch_add(&((recorder *)user_data)->destroyed, 1); }

static rf_sink *add_sink(rf_engine *engine, recorder *r, uint32_t flags, uint32_t kinds, uint32_t max_failures) {
    rf_sink_options options;
    rf_sink_options_init(&options, sizeof options);
    options.flags = flags;
    options.kinds = kinds;
    options.max_failures = max_failures;
    options.retry_backoff_ms = 1;
    options.run_ended = ended;
    rf_sink *sink = NULL;
    must(rf_engine_add_sink(engine, record, r, destroyed, &options, &sink), "add sink");
    return sink;
}

static void get_stats(rf_sink *sink, rf_sink_stats *stats) {
    memset(stats, 0, sizeof *stats);
    stats->struct_size = sizeof *stats;
    must(rf_sink_get_stats(sink, stats), "stats");
}

static void test_errors(void) {
    rf_engine *engine = make_engine(0, 0, 0);
    rf_sink *sink = NULL;
    recorder r = {0};
    CHECK_STATUS(rf_sink_options_init(NULL, sizeof(rf_sink_options)), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_engine_add_sink(NULL, record, &r, NULL, NULL, &sink), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_engine_add_sink(engine, NULL, &r, NULL, NULL, &sink), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_engine_add_sink(engine, record, &r, NULL, NULL, NULL), RF_E_INVALID_ARGUMENT);
    rf_sink_options options;
    rf_sink_options_init(&options, sizeof options);
    options.flags = 0x8;
    CHECK_STATUS(rf_engine_add_sink(engine, record, &r, destroyed, &options, &sink), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "unknown bits");
    options.flags = 0;
    options.kinds = 1u << 30;
    CHECK_STATUS(rf_engine_add_sink(engine, record, &r, destroyed, &options, &sink), RF_E_INVALID_ARGUMENT);
    options.kinds = 0;
    options.reserved0 = 1;
    CHECK_STATUS(rf_engine_add_sink(engine, record, &r, destroyed, &options, &sink), RF_E_INVALID_ARGUMENT);
    options.reserved0 = 0;
    options.struct_size = 4;
    CHECK_STATUS(rf_engine_add_sink(engine, record, &r, destroyed, &options, &sink), RF_E_STRUCT_SIZE);
    CHECK(atomic_load(&r.destroyed) == 0);  /* user_data stays the caller's on every error */
    CHECK_STATUS(rf_engine_add_sink(engine, record, &r, destroyed, NULL, &sink), RF_OK);
    rf_sink_stats stats = {.struct_size = 8};
    CHECK_STATUS(rf_sink_get_stats(sink, &stats), RF_E_STRUCT_SIZE);
    CHECK_STATUS(rf_sink_get_stats(sink, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_sink_get_stats(NULL, &stats), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_sink_release(sink, -2), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_sink_release(sink, -1), RF_OK);
    CHECK_STATUS(rf_sink_release(sink, -1), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_sink_get_stats(sink, &stats), RF_E_INVALID_HANDLE);
    CHECK(atomic_load(&r.destroyed) == 1);
    rf_engine_release(engine);
}

typedef struct producer_args {
    rf_run *run;
    int count;
} producer_args;

static void *produce(void *arg) {
    producer_args *p = arg;
    char data[32];
    for (int i = 0; i < p->count; i++) {
        snprintf(data, sizeof data, "{\"i\":%d}", i);
        CHECK_STATUS(emit_kind(p->run, i % 3 ? RF_EVENT_TOKEN : RF_EVENT_CUSTOM, "write", "topic", data, (uint64_t)i), RF_OK);
    }
    CHECK_STATUS(rf_run_end(p->run, RF_EVENT_RUN_COMPLETED, "{}", 2), RF_OK);
    return NULL;
}

/* Four runs written at once, a live subscriber on each: the sink sees every event once, in order. */
static void test_every_event_in_order(void) {
    rf_engine *engine = make_engine(1 << 16, 0, 0);
    recorder r = {0}, custom_only = {0};
    rf_sink *sink = add_sink(engine, &r, 0, 0, 0);
    rf_sink *filtered = add_sink(engine, &custom_only, 0, RF_KIND_BIT(RF_EVENT_CUSTOM), 0);
    rf_run *runs[4];
    rf_subscription *live[4];
    pthread_t threads[4];
    producer_args args[4];
    for (int i = 0; i < 4; i++) {
        runs[i] = make_run(engine, "sinked");
        live[i] = subscribe(runs[i], RF_STREAM_TOKENS, 0, 1);
        must(rf_run_start(runs[i], NULL, 0), "start");
        args[i] = (producer_args){runs[i], 3000};
        pthread_create(&threads[i], NULL, produce, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(read_all(live[i], NULL, NULL, 0) == 3002);
        pthread_join(threads[i], NULL);
    }
    CHECK_STATUS(rf_sink_release(sink, 10000), RF_OK);  /* drains, then detaches */
    CHECK_STATUS(rf_sink_release(filtered, 10000), RF_OK);
    CHECK(r.out_of_order == 0);
    for (int i = 0; i < 4; i++) {
        uint64_t id = 0;
        rf_run_get_id(runs[i], &id);
        int index = run_index(&r, id);
        CHECK(r.events[index] == 3002 && r.last_seq[index] == 3002 && r.ended[index] == 1);
        int filtered_index = run_index(&custom_only, id);
        CHECK(custom_only.events[filtered_index] == 1000 + 1);  /* every third event, and the terminal one */
        rf_subscription_release(live[i]);
        rf_run_release(runs[i]);
    }
    CHECK(!custom_only.kinds_seen[RF_EVENT_TOKEN] && custom_only.kinds_seen[RF_EVENT_RUN_COMPLETED]);
    CHECK(atomic_load(&r.destroyed) == 1 && atomic_load(&custom_only.destroyed) == 1);
    rf_engine_release(engine);
}

/* A failing sink gets the same batch again; one failing for good is disabled, and the live
 * stream goes on. */
static void test_failures(void) {
    rf_engine *engine = make_engine(0, 0, 0);
    recorder flaky = {.fail_first = 2}, broken = {.always_fail = 1};
    rf_sink *flaky_sink = add_sink(engine, &flaky, 0, 0, 0);
    rf_sink *broken_sink = add_sink(engine, &broken, 0, 0, 3);
    rf_run *run = make_run(engine, "failing");
    rf_subscription *live = subscribe(run, RF_STREAM_TOKENS, 0, 1);
    must(rf_run_start(run, NULL, 0), "start");
    for (int i = 0; i < 50; i++) emit_kind(run, RF_EVENT_TOKEN, "s", NULL, "x", (uint64_t)i);
    rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0);
    CHECK(read_all(live, NULL, NULL, 0) == 52);
    CHECK_STATUS(rf_sink_release(flaky_sink, 10000), RF_OK);
    CHECK(flaky.events[0] == 52 && flaky.out_of_order == 0 && flaky.ended[0] == 1);
    rf_sink_stats stats;
    get_stats(broken_sink, &stats);
    for (int i = 0; i < 1000 && !stats.disabled; i++) {  /* the third failure disables it (1 ms apart) */
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
        get_stats(broken_sink, &stats);
    }
    CHECK(stats.disabled == 1 && stats.failures == 3 && stats.delivered == 0);
    CHECK_CONTAINS(stats.last_error, "the sink returned RF_E_SYSTEM");
    CHECK_STATUS(rf_sink_release(broken_sink, 1000), RF_OK);
    rf_subscription_release(live);
    rf_run_release(run);

    /* A sink that never succeeds and is never disabled cannot catch up: its release says so and
     * still releases it (the destructor runs). */
    recorder stuck = {.always_fail = 1};
    rf_sink *stuck_sink = add_sink(engine, &stuck, 0, 0, 0);
    run = make_run(engine, "stuck");
    must(rf_run_start(run, NULL, 0), "start");
    rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0);
    CHECK_STATUS(rf_sink_release(stuck_sink, 30), RF_E_TIMEOUT);
    CHECK_CONTAINS(rf_last_error(), "released anyway");
    /* The last reference may go on the sink thread, just after the release returned. */
    for (int i = 0; i < 10000 && atomic_load(&stuck.destroyed) == 0; i++) {
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
    }
    CHECK(atomic_load(&stuck.destroyed) == 1 && stuck.calls > 0);
    rf_run_release(run);
    rf_engine_release(engine);
}

/* max_failures counts failures in a row across the sink's runs: failing once on each of three
 * runs disables a sink whose limit is three, with no more failures than that. */
static void test_failures_in_a_row_across_runs(void) {
    rf_engine *engine = make_engine(0, 0, 0);
    recorder broken = {.always_fail = 1};
    rf_sink *sink = add_sink(engine, &broken, 0, 0, 3);
    rf_run *runs[3];
    for (int i = 0; i < 3; i++) {
        runs[i] = make_run(engine, "failing");
        must(rf_run_start(runs[i], NULL, 0), "start");
        rf_run_end(runs[i], RF_EVENT_RUN_COMPLETED, NULL, 0);
    }
    rf_sink_stats stats;
    get_stats(sink, &stats);
    for (int i = 0; i < 10000 && !stats.disabled; i++) {
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
        get_stats(sink, &stats);
    }
    CHECK(stats.disabled == 1 && stats.failures == 3 && stats.delivered == 0);
    CHECK_STATUS(rf_sink_release(sink, 1000), RF_OK);
    for (int i = 0; i < 3; i++) rf_run_release(runs[i]);
    rf_engine_release(engine);
}

/* A sink that does not take events holds producers at the log's bound (non-lossy), or skips
 * and counts (lossy): either way the counts add up. */
static void test_slow_sinks(void) {
    for (int lossy = 0; lossy <= 1; lossy++) {
        rf_engine *engine = make_engine(1 << 16, 0, 20);  /* 64 KiB log; emits give up after 20 ms */
        gate hold = GATE_INIT;
        recorder r = {.hold = &hold};
        rf_sink *sink = add_sink(engine, &r, lossy ? RF_SINK_LOSSY : 0, 0, 0);
        rf_run *run = make_run(engine, "slow");
        must(rf_run_start(run, NULL, 0), "start");
        char data[256];
        memset(data, 'x', sizeof data - 1);
        data[sizeof data - 1] = 0;
        int emitted = 0;
        rf_status status = RF_OK;
        for (int i = 0; i < 2000 && status == RF_OK; i++) {
            status = emit_kind(run, RF_EVENT_TOKEN, "s", NULL, data, (uint64_t)i);
            if (status == RF_OK) emitted++;
        }
        /* Non-lossy: the producer was held at the bound and told so; lossy: it never waited. */
        CHECK_STATUS(status, lossy ? RF_OK : RF_E_TIMEOUT);
        CHECK(lossy ? emitted == 2000 : (emitted > 100 && emitted < 400));
        gate_open(&hold);
        CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0), RF_OK);
        CHECK_STATUS(rf_engine_release(engine), RF_OK);  /* drains the sink first */
        rf_sink_stats stats;
        get_stats(sink, &stats);
        CHECK_STATUS(rf_sink_release(sink, 0), RF_OK);
        /* Emitted events plus run started and completed: each delivered or counted as dropped. */
        CHECK(r.events[0] + r.lagged_skipped[0] == emitted + 2);
        CHECK(stats.dropped == (uint64_t)r.lagged_skipped[0]);
        CHECK(lossy ? stats.dropped > 0 : stats.dropped == 0);
        CHECK(r.out_of_order == 0 && r.ended[0] == 1);
        rf_run_release(run);
    }
}

/* Releasing the engine first delivers what was emitted; workflow runs and their steps' events
 * reach the sink too. */
static rf_status tokens_then_stop(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    for (uint64_t i = 0; i < 5; i++) rf_step_ctx_emit_token(ctx, "t", 1, i);
    return stop_with(ctx, "\"ok\"");
}

static void test_engine_release_drains(void) {
    rf_engine *engine = make_engine(0, 0, 0);
    recorder r = {0};
    rf_sink *sink = add_sink(engine, &r, 0, 0, 0);
    rf_workflow *workflow = new_workflow(engine, "drained");
    add_step(workflow, "only", "start", "stop", tokens_then_stop, NULL, NULL);
    must(rf_workflow_build(workflow), "build");
    rf_run *run = start_run(workflow, NULL, NULL, NULL);
    CHECK_STATUS(rf_run_wait(run, 10000, NULL), RF_OK);
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
    CHECK(r.events[0] == 9 && r.ended[0] == 1);  /* started, step started, 5 tokens, step completed, completed */
    rf_sink_stats stats;
    get_stats(sink, &stats);
    CHECK(stats.delivered == 9 && stats.runs == 1 && stats.failures == 0);
    CHECK_STATUS(rf_sink_release(sink, 0), RF_OK);
    rf_run_release(run);
    rf_workflow_release(workflow);
    CHECK(atomic_load(&r.destroyed) == 1);
}

/* A sink's callbacks run on the engine's sink thread, which releasing their sink or their
 * engine would wait for: both calls return RF_E_STATE there, and both handles stay usable. */
typedef struct self_releaser {
    rf_engine *engine;
    rf_sink *sink;                /* set before any run exists, so before any callback */
    atomic_int tried_in_fn;       /* 0 until tried, then 1 if both calls were refused as they should */
    atomic_int tried_in_run_ended;
    gate tried;                   /* opened after run_ended's attempt */
} self_releaser;

static int both_refused(self_releaser *s) {
    int sink_refused = rf_sink_release(s->sink, 0) == RF_E_STATE && strstr(rf_last_error(), "sink thread") != NULL;
    int engine_refused = rf_engine_release(s->engine) == RF_E_STATE && strstr(rf_last_error(), "sink thread") != NULL;
    return sink_refused && engine_refused ? 1 : -1;
}

static rf_status release_from_fn(void *user_data, const rf_event *events, uint32_t count) {
    (void)events;
    (void)count;
    self_releaser *s = user_data;
    if (atomic_load(&s->tried_in_fn) == 0) atomic_store(&s->tried_in_fn, both_refused(s));
    return RF_OK;
}

static void release_from_run_ended(void *user_data, uint64_t run_id) {
    (void)run_id;
    self_releaser *s = user_data;
    atomic_store(&s->tried_in_run_ended, both_refused(s));
    gate_open(&s->tried);
}

static void test_release_on_the_sink_thread(void) {
    rf_engine *engine = make_engine(0, 0, 0);
    self_releaser s = {.engine = engine, .tried = GATE_INIT};
    rf_sink_options options;
    must(rf_sink_options_init(&options, sizeof options), "options");
    options.run_ended = release_from_run_ended;
    must(rf_engine_add_sink(engine, release_from_fn, &s, NULL, &options, &s.sink), "add sink");
    rf_run *run = NULL;
    must(rf_run_create_manual(engine, "self-release", NULL, &run), "run");
    must(rf_run_start(run, NULL, 0), "start");
    must(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0), "end");
    gate_wait(&s.tried);  /* while the handles are live: the callbacks' releases were refused */
    CHECK_STATUS(rf_sink_release(s.sink, -1), RF_OK);
    CHECK(atomic_load(&s.tried_in_fn) == 1);
    CHECK(atomic_load(&s.tried_in_run_ended) == 1);
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
    rf_run_release(run);
}

int main(void) {
    test_errors();
    test_every_event_in_order();
    test_failures();
    test_failures_in_a_row_across_runs();
    test_slow_sinks();
    test_engine_release_drains();
    test_release_on_the_sink_thread();
    return check_finish();
}

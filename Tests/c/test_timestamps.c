/* Event timestamps stay within a few milliseconds of CLOCK_REALTIME over several seconds of
 * a process's life (a scale overflow once made them wrong after 4.3 s), and an event that
 * waited for room in the log carries the time it entered the log, not the time of the call.
 * The tests spend their time on purpose: what they check is in wall-clock time. */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>
#include "stream_helpers.h"
#include "thread_helpers.h"

/* How far an event's timestamp may be from CLOCK_REALTIME read beside it. */
static const int64_t clock_tolerance_ns = 2000000;

static int64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void test_timestamps_follow_the_wall_clock(void) {
    rf_engine *engine = make_engine(0, 0, 0);
    rf_run *run = make_run(engine, "clock");
    rf_subscription *subscription = subscribe(run, RF_STREAM_TOKENS, 0, 0);
    rf_run_start(run, NULL, 0);
    rf_event event = {.struct_size = sizeof event};
    CHECK_STATUS(rf_subscription_read(subscription, &event, 1000), RF_OK); /* run_started */
    int64_t worst = 0;
    struct timespec gap = {0, 100 * 1000 * 1000};
    for (int i = 0; i < 55; i++) { /* 5.5 s */
        int64_t before = realtime_ns();
        CHECK_STATUS(emit_kind(run, RF_EVENT_TOKEN, "s", NULL, "t", (uint64_t)i), RF_OK);
        int64_t after = realtime_ns();
        CHECK_STATUS(rf_subscription_read(subscription, &event, 1000), RF_OK);
        int64_t off = event.timestamp_ns < before ? before - event.timestamp_ns
                    : event.timestamp_ns > after ? event.timestamp_ns - after : 0;
        if (off > worst) worst = off;
        nanosleep(&gap, NULL);
    }
    printf("worst distance from CLOCK_REALTIME: %lld ns\n", (long long)worst);
    CHECK(worst < clock_tolerance_ns);
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_engine_release(engine);
}

/* ---- an event that waited for room is stamped as it entered the log ---- */

enum { FILLING_EMITS = 2000 }; /* more than a 64 KiB log holds with nobody reading */

struct filling_producer {
    rf_run *run;
    _Atomic pid_t tid;
    _Atomic long in_call;              /* token index of the emit under way */
    _Atomic int64_t in_call_since;     /* CLOCK_REALTIME when that emit was called */
    rf_status status;
};

static void *emit_until_done(void *arg) {
    struct filling_producer *producer = arg;
    atomic_store(&producer->tid, (pid_t)syscall(SYS_gettid));
    producer->status = RF_OK;
    for (long i = 0; i < FILLING_EMITS && producer->status == RF_OK; i++) {
        atomic_store(&producer->in_call_since, realtime_ns());
        atomic_store(&producer->in_call, i);
        producer->status = emit_kind(producer->run, RF_EVENT_TOKEN, "s", NULL, "0123456789abcdef", (uint64_t)i);
    }
    return NULL;
}

static void test_an_event_that_waited_for_room_is_stamped_as_it_entered_the_log(void) {
    rf_engine *engine = make_engine(64 << 10, 0, 10000); /* a wait for room fails after 10 s */
    rf_run *run = make_run(engine, "full");
    rf_subscription *stalled = subscribe(run, RF_STREAM_TOKENS, 0, 1);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_OK);
    struct filling_producer producer = {.run = run};
    pthread_t thread;
    pthread_create(&thread, NULL, emit_until_done, &producer);
    wait_until_blocked(&producer.tid); /* the log is full: an emit sleeps, waiting for room */
    CHECK(thread_is_in_futex(atomic_load(&producer.tid)));
    long waiting = atomic_load(&producer.in_call);
    int64_t called_at = atomic_load(&producer.in_call_since);
    struct timespec gap = {0, 20 * 1000 * 1000};
    nanosleep(&gap, NULL); /* wall-clock time between the call and the room it gets */
    int64_t room_at = realtime_ns();
    rf_event event = {.struct_size = sizeof event};
    int64_t stamped = 0;
    long tokens = 0;
    while (tokens < FILLING_EMITS && rf_subscription_read(stalled, &event, 5000) == RF_OK) {
        if (event.kind != RF_EVENT_TOKEN) continue;
        if ((long)event.token_index == waiting) stamped = event.timestamp_ns;
        tokens++;
    }
    pthread_join(thread, NULL);
    CHECK_STATUS(producer.status, RF_OK);
    CHECK(tokens == FILLING_EMITS);
    CHECK(waiting > 0 && waiting < FILLING_EMITS);
    printf("the waiting emit was called %lld us before the room came; stamped %lld us after it\n",
           (long long)((room_at - called_at) / 1000), (long long)((stamped - room_at) / 1000));
    CHECK(room_at - called_at >= gap.tv_nsec);
    /* Stamped at the call, it would be at least the whole gap before room_at; half of it
     * leaves the clock's anchor far more slack than it needs. */
    CHECK(stamped >= room_at - gap.tv_nsec / 2);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0), RF_OK);
    rf_subscription_release(stalled);
    rf_run_release(run);
    rf_engine_release(engine);
}

int main(void) {
    test_an_event_that_waited_for_room_is_stamped_as_it_entered_the_log();
    test_timestamps_follow_the_wall_clock();
    return check_finish();
}

/* Event timestamps stay within a few milliseconds of CLOCK_REALTIME over several seconds of
 * a process's life (a scale overflow once made them wrong after 4.3 s). The test spends its
 * time on purpose: the boundary it checks is in wall-clock time. */
#define _GNU_SOURCE
#include <time.h>
#include "stream_helpers.h"

static int64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(void) {
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
    CHECK(worst < 2000000);
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_engine_release(engine);
    return check_finish();
}

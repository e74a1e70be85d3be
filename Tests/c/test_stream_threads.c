/* The stream across threads: several producers and consumers, epoll on the fd, a blocked
 * reader whose subscription is released, a run released under a blocked reader, and a
 * producer held back by a subscriber that does not read. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "stream_helpers.h"
#include "thread_helpers.h"

struct blocked_reader {
    rf_subscription *subscription;
    _Atomic pid_t tid;
    rf_status statuses[4];
    int count;
};

static void *read_until_error(void *arg) {
    struct blocked_reader *reader = arg;
    atomic_store(&reader->tid, (pid_t)syscall(SYS_gettid));
    rf_event event = {.struct_size = sizeof event};
    rf_status status;
    do {
        status = rf_subscription_read(reader->subscription, &event, -1);
        if (reader->count < 4) reader->statuses[reader->count] = status == RF_OK ? (rf_status)event.kind : status;
        reader->count++;
    } while (status == RF_OK);
    return NULL;
}

static void test_release_wakes_a_blocked_reader(rf_engine *engine) {
    rf_run *run = make_run(engine, "blocked");
    struct blocked_reader reader = {.subscription = subscribe(run, RF_STREAM_TOKENS, 0, 0)};
    pthread_t thread;
    pthread_create(&thread, NULL, read_until_error, &reader);
    wait_until_blocked(&reader.tid);
    CHECK(thread_is_in_futex(atomic_load(&reader.tid)));
    CHECK_STATUS(rf_subscription_release(reader.subscription), RF_OK);
    pthread_join(thread, NULL);
    CHECK(reader.count == 1);
    CHECK_STATUS(reader.statuses[0], RF_E_CLOSED);
    rf_run_release(run);
}

static void test_run_release_ends_a_blocked_readers_stream(rf_engine *engine) {
    rf_run *run = make_run(engine, "ending");
    struct blocked_reader reader = {.subscription = subscribe(run, RF_STREAM_TOKENS, 0, 0)};
    rf_run_start(run, NULL, 0);
    pthread_t thread;
    pthread_create(&thread, NULL, read_until_error, &reader);
    wait_until_blocked(&reader.tid);
    CHECK_STATUS(rf_run_release(run), RF_OK);
    pthread_join(thread, NULL);
    CHECK(reader.count == 3);
    CHECK(reader.statuses[0] == RF_EVENT_RUN_STARTED);
    CHECK(reader.statuses[1] == RF_EVENT_RUN_CANCELLED);
    CHECK_STATUS(reader.statuses[2], RF_E_END_OF_STREAM);
    rf_subscription_release(reader.subscription);
}

static void test_epoll_on_the_fd(rf_engine *engine) {
    rf_run *run = make_run(engine, "polled");
    rf_subscription *subscription = subscribe(run, RF_STREAM_TOKENS, 0, 0);
    int32_t fd = -1, again = -1;
    CHECK_STATUS(rf_subscription_fd(subscription, &fd), RF_OK);
    CHECK_STATUS(rf_subscription_fd(subscription, &again), RF_OK);
    CHECK(fd >= 0 && fd == again);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event interest = {.events = EPOLLIN, .data.fd = fd}, ready;
    CHECK(epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &interest) == 0);

    /* Drain until RF_E_AGAIN: then the fd is not readable. */
    rf_event event = {.struct_size = sizeof event};
    while (rf_subscription_read(subscription, &event, 0) == RF_OK) {}
    CHECK(epoll_wait(epoll, &ready, 1, 0) == 0);

    /* An event makes it readable, and it stays readable until the reader sees RF_E_AGAIN. */
    rf_run_start(run, NULL, 0);
    CHECK(epoll_wait(epoll, &ready, 1, 1000) == 1 && ready.data.fd == fd);
    emit_kind(run, RF_EVENT_TOKEN, "s", NULL, "a", 0);
    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_OK);
    CHECK(event.kind == RF_EVENT_RUN_STARTED);
    CHECK(epoll_wait(epoll, &ready, 1, 0) == 1);
    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_OK);
    CHECK(event.kind == RF_EVENT_TOKEN);
    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_E_AGAIN);
    CHECK(epoll_wait(epoll, &ready, 1, 0) == 0);

    /* A filtered subscription's fd is not woken by kinds it does not want. */
    rf_subscription *values = subscribe(run, RF_STREAM_VALUES, 0, 0);
    int32_t values_fd = -1;
    rf_subscription_fd(values, &values_fd);
    while (rf_subscription_read(values, &event, 0) == RF_OK) {}
    int values_epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event values_interest = {.events = EPOLLIN, .data.fd = values_fd};
    epoll_ctl(values_epoll, EPOLL_CTL_ADD, values_fd, &values_interest);
    emit_kind(run, RF_EVENT_TOKEN, "s", NULL, "b", 1);
    CHECK(epoll_wait(values_epoll, &ready, 1, 0) == 0);
    emit_kind(run, RF_EVENT_STATE_CHANGED, "s", NULL, "{\"key\":\"k\",\"value\":2}", 0);
    CHECK(epoll_wait(values_epoll, &ready, 1, 1000) == 1);
    CHECK_STATUS(rf_subscription_read(values, &event, 0), RF_OK);
    CHECK(event.kind == RF_EVENT_STATE_CHANGED);

    /* The end of the stream keeps the fd readable so the reader sees RF_E_END_OF_STREAM. */
    rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0);
    while (rf_subscription_read(subscription, &event, 0) == RF_OK) {}
    CHECK(epoll_wait(epoll, &ready, 1, 1000) == 1);
    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_E_END_OF_STREAM);
    CHECK(epoll_wait(epoll, &ready, 1, 0) == 1);

    close(values_epoll);
    close(epoll);
    rf_subscription_release(values);
    rf_subscription_release(subscription);
    rf_run_release(run);
}

enum { PRODUCERS = 4, PER_PRODUCER = 25000 };

struct producer {
    rf_run *run;
    int id;
    int failures;
};

static void *produce(void *arg) {
    struct producer *producer = arg;
    char data[32];
    for (int i = 0; i < PER_PRODUCER; i++) {
        snprintf(data, sizeof data, "%d:%d", producer->id, i);
        if (emit_kind(producer->run, RF_EVENT_CUSTOM, "p", "t", data, 0) != RF_OK) producer->failures++;
    }
    return NULL;
}

struct consumer {
    rf_subscription *subscription;
    int next[PRODUCERS];
    int out_of_order;
    uint64_t events;
    uint64_t last_seq;
    int seq_gaps;
};

static void consume_event(struct consumer *consumer, const rf_event *event) {
    if (event->seq != consumer->last_seq + 1) consumer->seq_gaps++;
    consumer->last_seq = event->seq;
    consumer->events++;
    if (event->kind != RF_EVENT_CUSTOM) return;
    int id = -1, index = -1;
    sscanf(event->data, "%d:%d", &id, &index);
    if (id < 0 || id >= PRODUCERS || index != consumer->next[id]) consumer->out_of_order++;
    else consumer->next[id]++;
}

static int32_t consume_polled(void *user_data, const rf_event *event) {
    consume_event(user_data, event);
    return 0;
}

static void *consume_batches(void *arg) {
    struct consumer *consumer = arg;
    rf_event batch[64];
    batch[0].struct_size = sizeof(rf_event);
    uint32_t count = 0;
    while (rf_subscription_read_batch(consumer->subscription, batch, 64, 5000, &count) == RF_OK)
        for (uint32_t i = 0; i < count; i++) consume_event(consumer, &batch[i]);
    return NULL;
}

static void *consume_by_poll(void *arg) {
    struct consumer *consumer = arg;
    int32_t fd = -1;
    rf_subscription_fd(consumer->subscription, &fd);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event interest = {.events = EPOLLIN, .data.fd = fd}, ready;
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &interest);
    for (;;) {
        uint32_t count = 0;
        rf_status status = rf_subscription_poll(consumer->subscription, consume_polled, consumer, 100, &count);
        if (status != RF_OK) break;
        if (count == 0) epoll_wait(epoll, &ready, 1, 5000);
    }
    close(epoll);
    return NULL;
}

static void test_many_producers_two_consumers(void) {
    rf_engine *engine = make_engine(64 << 10, 1, 0);
    rf_run *run = make_run(engine, "many");
    struct consumer batched = {.subscription = subscribe(run, RF_STREAM_TOKENS, 0, 0)};
    struct consumer polled = {.subscription = subscribe(run, RF_STREAM_TOKENS, 0, 0)};
    rf_run_start(run, NULL, 0);
    pthread_t consumers[2], producers[PRODUCERS];
    pthread_create(&consumers[0], NULL, consume_batches, &batched);
    pthread_create(&consumers[1], NULL, consume_by_poll, &polled);
    struct producer state[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        state[i] = (struct producer){.run = run, .id = i};
        pthread_create(&producers[i], NULL, produce, &state[i]);
    }
    for (int i = 0; i < PRODUCERS; i++) pthread_join(producers[i], NULL);
    rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0);
    pthread_join(consumers[0], NULL);
    pthread_join(consumers[1], NULL);

    struct consumer *all[] = {&batched, &polled};
    for (int c = 0; c < 2; c++) {
        CHECK(all[c]->events == (uint64_t)PRODUCERS * PER_PRODUCER + 2);
        CHECK(all[c]->out_of_order == 0 && all[c]->seq_gaps == 0);
        for (int i = 0; i < PRODUCERS; i++) CHECK(all[c]->next[i] == PER_PRODUCER);
        rf_subscription_release(all[c]->subscription);
    }
    for (int i = 0; i < PRODUCERS; i++) CHECK(state[i].failures == 0);
    rf_run_release(run);
    rf_engine_release(engine);
}

static void test_stalled_subscriber_times_out_the_producer(void) {
    rf_engine *engine = make_engine(64 << 10, 1, 50);
    rf_run *run = make_run(engine, "stalled");
    rf_subscription *stalled = subscribe(run, RF_STREAM_TOKENS, 0, 0);
    rf_run_start(run, NULL, 0);
    rf_status status = RF_OK;
    int accepted = 0;
    while (accepted < 100000 && (status = emit_kind(run, RF_EVENT_TOKEN, "s", NULL, "0123456789abcdef", 0)) == RF_OK) accepted++;
    CHECK_STATUS(status, RF_E_TIMEOUT);
    CHECK_CONTAINS(rf_last_error(), "emit_timeout_ms");
    CHECK(accepted > 100 && accepted < 100000);
    /* The run can still end at once: room for its terminal event is always kept. A second
     * subscriber, also not reading, sees the same complete stream. */
    rf_subscription *late = subscribe(run, RF_STREAM_TOKENS, 0, 1);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, "{\"result\":1}", 12), RF_OK);
    /* Nothing accepted was lost: the subscriber reads every one, then the terminal event. */
    rf_event event = {.struct_size = sizeof event};
    int read = 0;
    rf_status last;
    while ((last = rf_subscription_read(stalled, &event, 0)) == RF_OK) read++;
    CHECK_STATUS(last, RF_E_END_OF_STREAM);
    CHECK(read == accepted + 2 && event.kind == RF_EVENT_RUN_COMPLETED);
    CHECK(read_all(late, NULL, NULL, 0) == accepted + 2);
    rf_subscription_release(late);
    rf_subscription_release(stalled);
    rf_run_release(run);
    rf_engine_release(engine);
}

int main(void) {
    rf_engine *engine = make_engine(0, 0, 0);
    test_release_wakes_a_blocked_reader(engine);
    test_run_release_ends_a_blocked_readers_stream(engine);
    test_epoll_on_the_fd(engine);
    rf_engine_release(engine);
    test_many_producers_two_consumers();
    test_stalled_subscriber_times_out_the_producer();
    return check_finish();
}

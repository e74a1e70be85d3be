/* Stream benchmarks through the public C API, each printed as "figure value unit":
 *   c.burst16.eps / c.burst256.eps   one producer thread -> one consumer thread (batch reads)
 *   c.burst16_4p.eps                 four producer threads -> one consumer
 *   c.burst16_batch32.eps            c.burst16 with the producer emitting 32 events per call
 *                                    (rf_run_emit_batch), as a host with events at hand can
 *   c.ring16.eps                     the reference: a bare single-producer ring moving records
 *                                    of the same size as c.burst16's, same threads, same reads
 *   c.ring16_tsc.eps                 that ring with one TSC read per record, the cheapest way to
 *                                    give each event the timestamp the envelope requires
 *   c.latency.{p50,p99,max}_us       emit-to-read latency while the consumer sleeps in the kernel
 *   c.stall.rss_growth_mib, .lost    200,000 events emitted while a subscriber stalls
 *   c.emit_alone16.ns                rf_run_emit with no subscriber, one thread
 *   c.emit_floor16.ns                the reference for it: bare C doing only this design's
 *                                    necessary work per event (handle count in and out, TSC
 *                                    read, 16-byte claim, 80-byte write, release commit, fence)
 *   c.floor16_burst.eps              those emits on one thread, read in batches on another like
 *                                    the bare ring: the ceiling of c.burst16 for this design
 *   c.futex_wake.p50_us              the reference for c.latency: a bare futex wake, same pacing
 *   c.sink.eps                       events/s reaching a no-op C sink while a subscriber also
 *                                    reads the run (the c.burst16 workload)
 *   c.history.eps                    events/s written to the durable history (fsync at run end):
 *                                    from the first emit until the engine's release returns,
 *                                    which waits for the history writer to take everything
 *   c.burst16_history.eps            the c.burst16 workload on an engine with a durable history
 * Usage: bench_stream [scale [figure-prefix]] (scale 1.0 = default sizes; a prefix such as
 * "c.burst16" runs only the matching figures, for profiling). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif
#include "bench_util.h"

static double scale = 1.0;

/* ---- burst: producers emit token deltas as fast as they can, one consumer reads batches ---- */

struct burst {
    rf_run *run;
    size_t payload;
    long per_producer;
    int per_call; /* events per rf_run_emit_batch call; 0 = one rf_run_emit per event */
};

enum { MAX_PER_CALL = 64 };

static void *burst_produce(void *arg) {
    struct burst *burst = arg;
    char payload[256];
    memset(payload, 'x', sizeof payload);
    rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_TOKEN, .step_name = "s", .data = payload,
                 .data_len = (uint32_t)burst->payload};
    if (burst->per_call == 0) {
        for (long i = 0; i < burst->per_producer; i++) {
            e.token_index = (uint64_t)i;
            must(rf_run_emit(burst->run, &e, NULL), "emit");
        }
        return NULL;
    }
    rf_emit batch[MAX_PER_CALL];
    for (long i = 0; i < burst->per_producer; i += burst->per_call) {
        uint32_t count = (uint32_t)(burst->per_producer - i < burst->per_call ? burst->per_producer - i : burst->per_call);
        for (uint32_t k = 0; k < count; k++) {
            batch[k] = e;
            batch[k].token_index = (uint64_t)(i + k);
        }
        must(rf_run_emit_batch(burst->run, batch, count, NULL, NULL), "emit batch");
    }
    return NULL;
}

static double burst_events_per_second(rf_engine *engine, size_t payload, int producers, long total, int per_call) {
    rf_run *run = NULL;
    must(rf_run_create_manual(engine, "bench", NULL, &run), "run");
    rf_subscription *subscription = NULL;
    must(rf_subscription_create(run, NULL, &subscription), "subscribe");
    must(rf_run_start(run, NULL, 0), "start");
    struct burst burst = {.run = run, .payload = payload, .per_producer = total / producers, .per_call = per_call};
    pthread_t threads[8];
    static rf_event batch[256];
    batch[0].struct_size = sizeof(rf_event);
    int64_t start = now_ns();
    for (int i = 0; i < producers; i++) pthread_create(&threads[i], NULL, burst_produce, &burst);
    long received = 0, expected = burst.per_producer * producers;
    uint32_t count = 0;
    while (received < expected && rf_subscription_read_batch(subscription, batch, 256, -1, &count) == RF_OK)
        for (uint32_t i = 0; i < count; i++) received += batch[i].kind == RF_EVENT_TOKEN;
    int64_t elapsed = now_ns() - start;
    for (int i = 0; i < producers; i++) pthread_join(threads[i], NULL);
    rf_subscription_release(subscription);
    rf_run_release(run);
    return (double)received / ((double)elapsed / 1e9);
}

/* Emits `total` 16-byte token deltas from the calling thread, then completes the run. */
static void emit_tokens_and_end(rf_run *run, long total) {
    char payload[16];
    memset(payload, 'x', sizeof payload);
    rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_TOKEN, .step_name = "s", .data = payload, .data_len = 16};
    for (long i = 0; i < total; i++) {
        e.token_index = (uint64_t)i;
        must(rf_run_emit(run, &e, NULL), "emit");
    }
    must(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0), "end");
}

/* ---- the durable history: engines that write one into a scratch directory ---- */

static char history_dir[256];

static rf_engine *history_engine(void) {
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(history_dir, sizeof history_dir, "%s/rillflow-bench-XXXXXX", base);
    if (mkdtemp(history_dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.history_dir = history_dir;
    options.history_fsync = RF_HISTORY_FSYNC_RUN_END;
    rf_engine *engine = NULL;
    must(rf_engine_create(&options, &engine), "history engine");
    return engine;
}

static void remove_history(void) {
    char command[320];
    snprintf(command, sizeof command, "rm -rf '%s'", history_dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", history_dir);
}

/* c.history.eps: one producer emits 16-byte tokens, nobody subscribes; the clock stops when
 * the engine's release has drained the history writer (the run's end synced its files). */
static double history_events_per_second(long total) {
    rf_engine *engine = history_engine();
    rf_run *run = NULL;
    must(rf_run_create_manual(engine, "bench", NULL, &run), "run");
    must(rf_run_start(run, NULL, 0), "start");
    int64_t start = now_ns();
    emit_tokens_and_end(run, total);
    must(rf_engine_release(engine), "release");  /* drains the sinks, the history writer among them */
    int64_t elapsed = now_ns() - start;
    rf_history_info info = {.struct_size = sizeof info};
    must(rf_run_get_history_info(run, &info), "history info");
    if (info.records != (uint64_t)total + 2 || info.synced_seq != info.last_seq) {
        fprintf(stderr, "history has %llu of %ld events (synced to %llu)\n", (unsigned long long)info.records, total + 2,
                (unsigned long long)info.synced_seq);
        exit(1);
    }
    rf_run_release(run);
    remove_history();
    return (double)(total + 2) / ((double)elapsed / 1e9);
}

/* c.burst16_history.eps: c.burst16 on an engine that also writes every event to disk. */
static double burst_history_events_per_second(long total) {
    rf_engine *engine = history_engine();
    double rate = burst_events_per_second(engine, 16, 1, total, 0);
    rf_engine_release(engine);
    remove_history();
    return rate;
}

/* ---- sinks: a no-op C sink takes every event while a subscriber also reads them ---- */

static _Atomic long sink_received;

static rf_status count_events(void *user_data, const rf_event *events, uint32_t count) {
    (void)user_data;
    (void)events;
    atomic_fetch_add_explicit(&sink_received, count, memory_order_relaxed);
    return RF_OK;
}

struct drain_args {
    rf_subscription *subscription;
};

static void *drain_subscription(void *arg) {
    struct drain_args *d = arg;
    static rf_event batch[256];
    batch[0].struct_size = sizeof(rf_event);
    uint32_t count;
    while (rf_subscription_read_batch(d->subscription, batch, 256, -1, &count) == RF_OK) {}
    return NULL;
}

/* c.sink.eps: events/s reaching a no-op sink, with a live subscriber on the same run. */
static double sink_events_per_second(long total) {
    rf_engine *engine = NULL;
    must(rf_engine_create(NULL, &engine), "engine");
    rf_sink *sink = NULL;
    must(rf_engine_add_sink(engine, count_events, NULL, NULL, NULL, &sink), "sink");
    atomic_store(&sink_received, 0);
    rf_run *run = NULL;
    must(rf_run_create_manual(engine, "bench", NULL, &run), "run");
    rf_subscription *subscription = NULL;
    must(rf_subscription_create(run, NULL, &subscription), "subscribe");
    must(rf_run_start(run, NULL, 0), "start");
    struct drain_args d = {subscription};
    pthread_t reader;
    pthread_create(&reader, NULL, drain_subscription, &d);
    int64_t start = now_ns();
    emit_tokens_and_end(run, total);
    must(rf_sink_release(sink, -1), "sink release");  /* returns once the sink has every event */
    int64_t elapsed = now_ns() - start;
    pthread_join(reader, NULL);
    long received = atomic_load(&sink_received);
    if (received != total + 2) {
        fprintf(stderr, "sink got %ld of %ld events\n", received, total + 2);
        exit(1);
    }
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_engine_release(engine);
    return (double)received / ((double)elapsed / 1e9);
}

/* ---- the reference: a bare single-producer byte ring, length-prefixed records ---- */

/* What both reference readers (the bare ring's and the floor's) do when nothing is ready: a
 * short pause, as a batch reader backs off, the same in both so their figures compare. */
static inline void reference_back_off(void) {
    for (int i = 0; i < 200; i++) __builtin_ia32_pause();
}

enum { RING_BYTES = 2 << 20 };
struct ring {
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) unsigned char bytes[RING_BYTES];
};
static struct ring bare;
static size_t bare_record;
static long bare_total;

/* The producer's loop; `timestamped` (a constant in each caller, so each gets its own loop)
 * also stamps each record with a TSC read, the cheapest per-event clock on x86. */
static inline void bare_produce_records(int timestamped) {
    unsigned char record[256];
    memset(record, 'x', sizeof record);
    uint64_t tail = 0;
    for (long i = 0; i < bare_total; i++) {
        while (tail + bare_record - atomic_load_explicit(&bare.head, memory_order_acquire) > RING_BYTES) {}
        size_t offset = tail % RING_BYTES;
        memcpy(&bare.bytes[offset], record, bare_record);
        memcpy(&bare.bytes[offset], &i, sizeof i);
#if defined(__x86_64__)
        if (timestamped) {
            uint64_t now = __rdtsc();
            memcpy(&bare.bytes[offset + 8], &now, sizeof now);
        }
#else
        (void)timestamped;
#endif
        tail += bare_record;
        atomic_store_explicit(&bare.tail, tail, memory_order_release);
    }
}

static void *bare_produce(void *arg) {
    (void)arg;
    bare_produce_records(0);
    return NULL;
}

static void *bare_produce_timestamped(void *arg) {
    (void)arg;
    bare_produce_records(1);
    return NULL;
}

static double bare_ring_events_per_second(size_t record_size, long total, void *(*produce)(void *)) {
    bare_record = record_size;
    bare_total = total;
    atomic_store(&bare.tail, 0);
    atomic_store(&bare.head, 0);
    pthread_t thread;
    int64_t start = now_ns();
    pthread_create(&thread, NULL, produce, NULL);
    uint64_t head = 0;
    long received = 0;
    volatile long sink = 0;
    while (received < total) {
        uint64_t tail = atomic_load_explicit(&bare.tail, memory_order_acquire);
        if (tail == head) {
            reference_back_off();
            continue;
        }
        while (head < tail) { /* read the batch: one load per record, like a consumer would */
            long value;
            memcpy(&value, &bare.bytes[head % RING_BYTES], sizeof value);
            sink += value;
            head += bare_record;
            received++;
        }
        atomic_store_explicit(&bare.head, head, memory_order_release);
    }
    int64_t elapsed = now_ns() - start;
    pthread_join(thread, NULL);
    return (double)received / ((double)elapsed / 1e9);
}

/* ---- latency: one event every 50 µs; the consumer sleeps in a blocking read between them ---- */

struct latency {
    rf_run *run;
    int samples;
};

static void *latency_produce(void *arg) {
    struct latency *latency = arg;
    struct timespec gap = {0, 50000};
    for (int i = 0; i < latency->samples; i++) {
        nanosleep(&gap, NULL);
        int64_t sent = now_ns();
        rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_TOKEN, .data = &sent, .data_len = sizeof sent};
        must(rf_run_emit(latency->run, &e, NULL), "emit");
    }
    return NULL;
}

static int compare_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void latency_figures(rf_engine *engine) {
    int samples = (int)(20000 * scale);
    if (samples < 1000) samples = 1000;
    rf_run *run = NULL;
    must(rf_run_create_manual(engine, "latency", NULL, &run), "run");
    rf_subscription *subscription = NULL;
    must(rf_subscription_create(run, NULL, &subscription), "subscribe");
    must(rf_run_start(run, NULL, 0), "start");
    rf_event event = {.struct_size = sizeof event};
    must(rf_subscription_read(subscription, &event, -1), "read"); /* run_started */
    struct latency latency = {.run = run, .samples = samples};
    int64_t *delays = malloc(sizeof(int64_t) * (size_t)samples);
    pthread_t thread;
    pthread_create(&thread, NULL, latency_produce, &latency);
    for (int i = 0; i < samples; i++) {
        must(rf_subscription_read(subscription, &event, -1), "read");
        int64_t sent;
        memcpy(&sent, event.data, sizeof sent);
        delays[i] = now_ns() - sent;
    }
    pthread_join(thread, NULL);
    qsort(delays, (size_t)samples, sizeof delays[0], compare_int64);
    printf("c.latency.p50_us %.2f us\n", delays[samples / 2] / 1000.0);
    printf("c.latency.p99_us %.2f us\n", delays[samples * 99 / 100] / 1000.0);
    printf("c.latency.max_us %.2f us\n", delays[samples - 1] / 1000.0);
    free(delays);
    rf_subscription_release(subscription);
    rf_run_release(run);
}

/* ---- stall: a subscriber that does not read while 200,000 events are emitted ---- */

static long rss_bytes(void) {
    long pages = 0, resident = 0;
    FILE *file = fopen("/proc/self/statm", "r");
    if (!file || fscanf(file, "%ld %ld", &pages, &resident) != 2) exit(1);
    fclose(file);
    return resident * sysconf(_SC_PAGESIZE);
}

struct stall {
    rf_run *run;
    _Atomic long emitted;
    long total;
};

static void *stall_produce(void *arg) {
    struct stall *stall = arg;
    rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_TOKEN, .step_name = "s", .data = "0123456789abcdef", .data_len = 16};
    for (long i = 0; i < stall->total; i++) {
        e.token_index = (uint64_t)i;
        must(rf_run_emit(stall->run, &e, NULL), "emit");
        atomic_store_explicit(&stall->emitted, i + 1, memory_order_relaxed);
    }
    return NULL;
}

static void stall_figures(rf_engine *engine) {
    rf_run *run = NULL;
    must(rf_run_create_manual(engine, "stall", NULL, &run), "run");
    rf_subscription *subscription = NULL;
    must(rf_subscription_create(run, NULL, &subscription), "subscribe");
    must(rf_run_start(run, NULL, 0), "start");
    long before = rss_bytes();
    struct stall stall = {.run = run, .total = 200000};
    pthread_t thread;
    pthread_create(&thread, NULL, stall_produce, &stall);
    /* Wait until the producer is held back: its count stops moving for 100 ms. */
    long last = -1, peak = before;
    for (;;) {
        struct timespec tick = {0, 100000000};
        nanosleep(&tick, NULL);
        long emitted = atomic_load(&stall.emitted);
        if (rss_bytes() > peak) peak = rss_bytes();
        if (emitted == last || emitted == stall.total) break;
        last = emitted;
    }
    /* The subscriber wakes up and reads everything; the producer resumes and finishes. */
    static rf_event batch[256];
    batch[0].struct_size = sizeof(rf_event);
    uint32_t count = 0;
    long received = 0, expected_index = 0, out_of_order = 0;
    while (received < stall.total && rf_subscription_read_batch(subscription, batch, 256, 5000, &count) == RF_OK) {
        for (uint32_t i = 0; i < count; i++) {
            if (batch[i].kind != RF_EVENT_TOKEN) continue;
            out_of_order += batch[i].token_index != (uint64_t)expected_index;
            expected_index++;
            received++;
        }
        long rss = rss_bytes();
        if (rss > peak) peak = rss;
    }
    pthread_join(thread, NULL);
    printf("c.stall.held_at_events %ld events\n", last);
    printf("c.stall.rss_growth_mib %.2f MiB\n", (double)(peak - before) / (1 << 20));
    printf("c.stall.lost %ld events\n", stall.total - received + out_of_order);
    rf_subscription_release(subscription);
    rf_run_release(run);
}

/* ---- the emit path alone, and the floor of its design ---- */

static double emit_alone_ns(rf_engine *engine, long total) {
    rf_run *run = NULL;
    must(rf_run_create_manual(engine, "alone", NULL, &run), "run");
    must(rf_run_start(run, NULL, 0), "start");
    rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_TOKEN, .step_name = "s", .data = "0123456789abcdef", .data_len = 16};
    int64_t start = now_ns();
    for (long i = 0; i < total; i++) must(rf_run_emit(run, &e, NULL), "emit");
    int64_t elapsed = now_ns() - start;
    rf_run_release(run);
    return (double)elapsed / (double)total;
}

#if defined(__x86_64__)
static _Alignas(128) __int128 floor_tail;
static _Alignas(64) _Atomic uint64_t floor_handle;
static _Alignas(64) _Atomic uint32_t floor_waiters;
static _Alignas(64) _Atomic uint64_t floor_head; /* c.floor16_burst: where its reader is */
static _Alignas(64) unsigned char floor_ring[RING_BYTES];
enum { FLOOR_RECORD = 80 };

/* Where a record claimed at `position` goes: records never wrap; one that would is placed at
 * the start of the ring (as in the run log, here without a padding record: sizes are fixed). */
static inline uint64_t floor_place(uint64_t position) {
    uint64_t room = RING_BYTES - (position & (RING_BYTES - 1));
    return room < FLOOR_RECORD ? position + room : position;
}

/* One emit doing only the design's necessary work. `bounded`: first wait until the reader
 * has left room (c.floor16_burst); c.emit_floor16 has no reader and overwrites freely. */
static inline void floor_emit(long i, const char payload[16], int bounded, volatile uint64_t *sink) {
    uint64_t word = atomic_load(&floor_handle);                     /* handle: count in */
    atomic_compare_exchange_strong(&floor_handle, &word, word + 1);
    uint64_t ticks = __rdtsc();                                      /* timestamp */
    __int128 current = floor_tail;                                   /* claim position + seq */
    uint64_t position = floor_place((uint64_t)current);
    while (bounded && position + FLOOR_RECORD - atomic_load_explicit(&floor_head, memory_order_acquire) > RING_BYTES)
        __builtin_ia32_pause();
    __int128 next = (((current >> 64) + 1) << 64) | (__int128)(position + FLOOR_RECORD);
    __sync_bool_compare_and_swap(&floor_tail, current, next);
    unsigned char *record = floor_ring + (position & (RING_BYTES - 1));
    memcpy(record + 16, &ticks, 8);                                  /* write */
    memcpy(record + 24, &i, sizeof i);
    memcpy(record + 56, payload, 16);
    record[74] = 0;
    atomic_store_explicit((_Atomic uint64_t *)record, position + 1, memory_order_release); /* commit */
    atomic_thread_fence(memory_order_seq_cst);                       /* then: anyone waiting? */
    *sink += atomic_load_explicit(&floor_waiters, memory_order_relaxed);
    atomic_fetch_sub(&floor_handle, 1);                              /* handle: count out */
}

static void floor_reset(void) {
    floor_tail = 0;
    atomic_store(&floor_head, 0);
    memset(floor_ring, 0, sizeof floor_ring); /* no stamp of an earlier use may match */
}

static double emit_floor_ns(long total) {
    const char payload[16] = "0123456789abcdef";
    volatile uint64_t sink = 0;
    floor_reset();
    int64_t start = now_ns();
    for (long i = 0; i < total; i++) floor_emit(i, payload, 0, &sink);
    return (double)(now_ns() - start) / (double)total;
}

static long floor_total;

static void *floor_produce(void *arg) {
    (void)arg;
    const char payload[16] = "0123456789abcdef";
    volatile uint64_t sink = 0;
    for (long i = 0; i < floor_total; i++) floor_emit(i, payload, 1, &sink);
    return NULL;
}

/* c.floor16_burst.eps: the floor's emits on one thread, read in batches on another the way
 * the bare ring's reader reads (follow the stamps, publish the position after each batch). */
static double floor_burst_events_per_second(long total) {
    floor_reset();
    floor_total = total;
    pthread_t thread;
    int64_t start = now_ns();
    pthread_create(&thread, NULL, floor_produce, NULL);
    uint64_t position = 0;
    long received = 0;
    volatile long sink = 0;
    while (received < total) {
        uint64_t at = floor_place(position);
        if (atomic_load_explicit((_Atomic uint64_t *)(floor_ring + (at & (RING_BYTES - 1))), memory_order_acquire) != at + 1) {
            reference_back_off();
            continue;
        }
        do { /* read the batch: one load per record */
            long value;
            memcpy(&value, floor_ring + (at & (RING_BYTES - 1)) + 24, sizeof value);
            sink += value;
            position = at + FLOOR_RECORD;
            received++;
            at = floor_place(position);
        } while (received < total &&
                 atomic_load_explicit((_Atomic uint64_t *)(floor_ring + (at & (RING_BYTES - 1))), memory_order_acquire) == at + 1);
        atomic_store_explicit(&floor_head, position, memory_order_release);
    }
    int64_t elapsed = now_ns() - start;
    pthread_join(thread, NULL);
    return (double)received / ((double)elapsed / 1e9);
}
#endif

/* ---- a bare futex wake with the latency benchmark's pacing ---- */

static _Atomic uint32_t wake_word;
static _Atomic int64_t wake_sent;

static void *futex_waiter(void *arg) {
    int64_t *delays = arg;
    for (int i = 0; i < (int)delays[0]; i++) {
        while (atomic_load(&wake_word) == (uint32_t)i) syscall(SYS_futex, &wake_word, FUTEX_WAIT_PRIVATE, i, NULL, NULL, 0);
        delays[i + 1] = now_ns() - atomic_load(&wake_sent);
    }
    return NULL;
}

static void futex_wake_figure(void) {
    int samples = (int)(20000 * scale);
    if (samples < 1000) samples = 1000;
    int64_t *delays = malloc(sizeof(int64_t) * (size_t)(samples + 1));
    delays[0] = samples;
    atomic_store(&wake_word, 0);
    pthread_t thread;
    pthread_create(&thread, NULL, futex_waiter, delays);
    struct timespec gap = {0, 50000};
    for (int i = 0; i < samples; i++) {
        nanosleep(&gap, NULL);
        atomic_store(&wake_sent, now_ns());
        atomic_store(&wake_word, (uint32_t)i + 1);
        syscall(SYS_futex, &wake_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    pthread_join(thread, NULL);
    qsort(delays + 1, (size_t)samples, sizeof delays[0], compare_int64);
    printf("c.futex_wake.p50_us %.2f us\n", delays[1 + samples / 2] / 1000.0);
    free(delays);
}

static const char *only = "";
static int wanted(const char *figure) { return strncmp(figure, only, strlen(only)) == 0; }

int main(int argc, char **argv) {
    if (argc > 1) scale = atof(argv[1]);
    if (argc > 2) only = argv[2];
    long burst = (long)(4000000 * scale);
    rf_engine *engine = NULL;
    must(rf_engine_create(NULL, &engine), "engine");

    /* The same record size as c.burst16's records in the run log (56-byte header, step "s",
     * empty topic, 16 data bytes, three NULs, padded to 8 = 80 bytes). */
    if (wanted("c.ring16")) printf("c.ring16.eps %.0f events/s\n", bare_ring_events_per_second(80, burst, bare_produce));
#if defined(__x86_64__)
    if (wanted("c.ring16_tsc")) printf("c.ring16_tsc.eps %.0f events/s\n", bare_ring_events_per_second(80, burst, bare_produce_timestamped));
#endif
    if (wanted("c.burst16.")) printf("c.burst16.eps %.0f events/s\n", burst_events_per_second(engine, 16, 1, burst, 0));
    if (wanted("c.burst256")) printf("c.burst256.eps %.0f events/s\n", burst_events_per_second(engine, 256, 1, burst / 2, 0));
    if (wanted("c.burst16_4p")) printf("c.burst16_4p.eps %.0f events/s\n", burst_events_per_second(engine, 16, 4, burst, 0));
    if (wanted("c.burst16_batch")) printf("c.burst16_batch32.eps %.0f events/s\n", burst_events_per_second(engine, 16, 1, burst, 32));
    if (wanted("c.latency")) latency_figures(engine);
    if (wanted("c.futex_wake")) futex_wake_figure();
    if (wanted("c.emit_alone")) printf("c.emit_alone16.ns %.1f ns\n", emit_alone_ns(engine, burst / 2));
#if defined(__x86_64__)
    if (wanted("c.emit_floor")) printf("c.emit_floor16.ns %.1f ns\n", emit_floor_ns(burst * 4));
    if (wanted("c.floor16_burst")) printf("c.floor16_burst.eps %.0f events/s\n", floor_burst_events_per_second(burst * 2));
#endif
    if (wanted("c.stall")) stall_figures(engine);
    if (wanted("c.sink")) printf("c.sink.eps %.0f events/s\n", sink_events_per_second(burst));
    if (wanted("c.history")) printf("c.history.eps %.0f events/s\n", history_events_per_second(burst));
    if (wanted("c.burst16_history")) printf("c.burst16_history.eps %.0f events/s\n", burst_history_events_per_second(burst));
    rf_engine_release(engine);
    return 0;
}

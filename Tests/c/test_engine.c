/* rf_engine: creation with every kind of options struct, effective options, release, and
 * every way a caller can pass a bad handle. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include "check.h"

static void test_create_with_defaults(void) {
    rf_engine *engine = NULL;
    CHECK_STATUS(rf_engine_create(NULL, &engine), RF_OK);
    CHECK(engine != NULL);

    rf_engine_options got;
    memset(&got, 0xAB, sizeof got);
    got.struct_size = sizeof got;
    CHECK_STATUS(rf_engine_get_options(engine, &got), RF_OK);
    CHECK(got.struct_size == sizeof got);
    CHECK(got.worker_threads >= 1);
    CHECK(got.log_capacity == 2u << 20);
    CHECK(got.max_event_bytes == 1u << 20);
    CHECK(got.history_bytes == 4ull << 20);
    CHECK(got.emit_timeout_ms == 0);
    CHECK(got.reserved0 == 0);
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
}

static void test_create_with_chosen_values(void) {
    rf_engine_options options;
    CHECK_STATUS(rf_engine_options_init_v2(&options, sizeof options), RF_OK);
    CHECK(options.struct_size == sizeof options);
    CHECK(options.worker_threads == 0 && options.log_capacity == 0 && options.history_bytes == 0);
    options.worker_threads = 3;
    options.log_capacity = 100000; /* rounded up to a power of two */
    options.max_event_bytes = 4096;
    options.history_bytes = UINT64_MAX;
    options.emit_timeout_ms = 250;

    rf_engine *engine = NULL;
    CHECK_STATUS(rf_engine_create(&options, &engine), RF_OK);
    rf_engine_options got = {.struct_size = sizeof got};
    CHECK_STATUS(rf_engine_get_options(engine, &got), RF_OK);
    CHECK(got.worker_threads == 3);
    CHECK(got.log_capacity == 131072);
    CHECK(got.max_event_bytes == 4096);
    CHECK(got.history_bytes == UINT64_MAX);
    CHECK(got.emit_timeout_ms == 250);
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
}

/* The init functions never write more than the caller's struct holds: the 1.0 form fills the
 * 1.0 struct only (so a program built against 1.0 stays safe), the _v2 form what it is told. */
static void test_init_writes_only_the_callers_struct(void) {
    unsigned char bytes[sizeof(rf_engine_options) + 8];
    memset(bytes, 0xAB, sizeof bytes);
    CHECK_STATUS(rf_engine_options_init((rf_engine_options *)bytes), RF_OK);
    CHECK(((rf_engine_options *)bytes)->struct_size == RF_ENGINE_OPTIONS_SIZE_V1);
    for (size_t i = RF_ENGINE_OPTIONS_SIZE_V1; i < sizeof bytes; i++) CHECK(bytes[i] == 0xAB);
    memset(bytes, 0xAB, sizeof bytes);
    CHECK_STATUS(rf_engine_options_init_v2((rf_engine_options *)bytes, 36), RF_OK);  /* a caller's 36-byte struct */
    CHECK(((rf_engine_options *)bytes)->struct_size == 36 && bytes[35] == 0 && bytes[36] == 0xAB);
    CHECK_STATUS(rf_engine_options_init_v2((rf_engine_options *)bytes, 8), RF_E_STRUCT_SIZE);
    /* A 1.0 caller's struct is accepted: the fields added since take their defaults. */
    rf_engine_options options;
    memset(&options, 0xAB, sizeof options);
    rf_engine_options_init(&options);
    options.worker_threads = 2;
    rf_engine *engine = NULL;
    CHECK_STATUS(rf_engine_create(&options, &engine), RF_OK);
    rf_engine_options got = {.struct_size = sizeof got};
    CHECK_STATUS(rf_engine_get_options(engine, &got), RF_OK);
    CHECK(got.worker_threads == 2 && got.sink_drain_timeout_ms == 5000);
    rf_engine_release(engine);

    memset(bytes, 0xAB, sizeof bytes);
    CHECK_STATUS(rf_run_options_init((rf_run_options *)bytes), RF_OK);
    CHECK(((rf_run_options *)bytes)->struct_size == RF_RUN_OPTIONS_SIZE_V1 && bytes[RF_RUN_OPTIONS_SIZE_V1] == 0xAB);
    CHECK_STATUS(rf_run_options_init_v2((rf_run_options *)bytes, sizeof(rf_run_options)), RF_OK);
    CHECK(((rf_run_options *)bytes)->struct_size == sizeof(rf_run_options) && bytes[sizeof(rf_run_options)] == 0xAB);
    CHECK_STATUS(rf_step_options_init((rf_step_options *)bytes, 4), RF_E_STRUCT_SIZE);
    CHECK_STATUS(rf_sink_options_init(NULL, sizeof(rf_sink_options)), RF_E_INVALID_ARGUMENT);
}

static void test_null_pointers(void) {
    rf_engine_options options;
    CHECK_STATUS(rf_engine_options_init_v2(NULL, sizeof(rf_engine_options)), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "options is NULL");
    rf_engine_options_init_v2(&options, sizeof options);
    CHECK_STATUS(rf_engine_create(&options, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "out_engine is NULL");

    rf_engine *engine = NULL;
    CHECK_STATUS(rf_engine_create(NULL, &engine), RF_OK);
    CHECK_STATUS(rf_engine_get_options(engine, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "out_options is NULL");
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
}

/* An options struct as a caller built against a newer header would pass it. */
struct newer_engine_options {
    rf_engine_options known;
    uint64_t future_field;
};

static void test_struct_size_rules(void) {
    rf_engine *engine = (rf_engine *)(uintptr_t)0x1234; /* must stay untouched on failure */
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);

    options.struct_size = 0;
    CHECK_STATUS(rf_engine_create(&options, &engine), RF_E_STRUCT_SIZE);
    CHECK_CONTAINS(rf_last_error(), "struct_size is 0");
    CHECK(engine == (rf_engine *)(uintptr_t)0x1234);

    options.struct_size = 4;
    CHECK_STATUS(rf_engine_create(&options, &engine), RF_E_STRUCT_SIZE);
    CHECK_CONTAINS(rf_last_error(), "smaller than the first published size 32");

    options.struct_size = RF_ENGINE_OPTIONS_SIZE_V1 - 1;
    CHECK_STATUS(rf_engine_create(&options, &engine), RF_E_STRUCT_SIZE);

    /* A newer caller whose unknown fields are all zero is accepted. */
    struct newer_engine_options newer;
    memset(&newer, 0, sizeof newer);
    newer.known.struct_size = sizeof newer;
    newer.known.worker_threads = 2;
    CHECK_STATUS(rf_engine_create(&newer.known, &engine), RF_OK);
    CHECK(engine != (rf_engine *)(uintptr_t)0x1234);

    /* Reading back into the newer struct fills what the library knows and zeroes the rest. */
    struct newer_engine_options back;
    memset(&back, 0xFF, sizeof back);
    back.known.struct_size = sizeof back;
    CHECK_STATUS(rf_engine_get_options(engine, &back.known), RF_OK);
    CHECK(back.known.worker_threads == 2);
    CHECK(back.future_field == 0);
    CHECK(back.known.struct_size == sizeof back);
    back.known.struct_size = 0;
    CHECK_STATUS(rf_engine_get_options(engine, &back.known), RF_E_STRUCT_SIZE);
    CHECK_STATUS(rf_engine_release(engine), RF_OK);

    /* ... but not if a field it does not know is set. */
    newer.future_field = 7;
    engine = NULL;
    CHECK_STATUS(rf_engine_create(&newer.known, &engine), RF_E_STRUCT_SIZE);
    CHECK_CONTAINS(rf_last_error(), "is not 0");
    CHECK(engine == NULL);
}

static void test_out_of_range_fields(void) {
    rf_engine *engine = NULL;
    rf_engine_options options;

    rf_engine_options_init_v2(&options, sizeof options);
    options.worker_threads = 100000;
    CHECK_STATUS(rf_engine_create(&options, &engine), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "worker_threads");

    rf_engine_options_init_v2(&options, sizeof options);
    options.log_capacity = 1000;
    CHECK_STATUS(rf_engine_create(&options, &engine), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "log_capacity");

    rf_engine_options_init_v2(&options, sizeof options);
    options.max_event_bytes = (64u << 20) + 1;
    CHECK_STATUS(rf_engine_create(&options, &engine), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "max_event_bytes");
    options.max_event_bytes = 1023; /* below the room the engine's own events need */
    CHECK_STATUS(rf_engine_create(&options, &engine), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "1024 to");
    options.max_event_bytes = 1024;
    CHECK_STATUS(rf_engine_create(&options, &engine), RF_OK);
    rf_engine_release(engine);
    engine = NULL;

    rf_engine_options_init_v2(&options, sizeof options);
    options.reserved0 = 1;
    CHECK_STATUS(rf_engine_create(&options, &engine), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "reserved0");
    CHECK(engine == NULL);
}

static void test_bad_handles(void) {
    rf_engine_options got = {.struct_size = sizeof got};

    CHECK_STATUS(rf_engine_release(NULL), RF_E_INVALID_HANDLE);
    CHECK_CONTAINS(rf_last_error(), "not a live rf_engine handle");
    CHECK_STATUS(rf_engine_get_options(NULL, &got), RF_E_INVALID_HANDLE);

    /* Foreign pointers: a stack address, a heap address, garbage bits. */
    int local = 0;
    void *heap = malloc(64);
    CHECK_STATUS(rf_engine_release((rf_engine *)&local), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_engine_get_options((rf_engine *)heap, &got), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_engine_release((rf_engine *)(uintptr_t)0xDEADBEEFCAFEull), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_engine_release((rf_engine *)UINTPTR_MAX), RF_E_INVALID_HANDLE);
    free(heap);

    /* Released: every later call, a second release included, is refused. */
    rf_engine *engine = NULL;
    CHECK_STATUS(rf_engine_create(NULL, &engine), RF_OK);
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
    CHECK_STATUS(rf_engine_release(engine), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_engine_get_options(engine, &got), RF_E_INVALID_HANDLE);

    /* Stale: the released handle stays invalid after a new engine reuses its slot. */
    rf_engine *reused = NULL;
    CHECK_STATUS(rf_engine_create(NULL, &reused), RF_OK);
    CHECK(reused != engine);
    CHECK_STATUS(rf_engine_get_options(engine, &got), RF_E_INVALID_HANDLE);
    CHECK_STATUS(rf_engine_get_options(reused, &got), RF_OK);
    CHECK_STATUS(rf_engine_release(reused), RF_OK);
}

/* Many threads use one engine while another releases it: each call either succeeds or is
 * refused with RF_E_INVALID_HANDLE, and exactly one release succeeds. */
enum { RACE_THREADS = 4, RACE_ROUNDS = 200 };
static rf_engine *race_engine;
static atomic_int race_release_ok;
static atomic_int race_unexpected;

static void *race_worker(void *arg) {
    int releaser = arg != NULL;
    rf_engine_options got = {.struct_size = sizeof got};
    for (int i = 0; i < 100; i++) {
        rf_status status = releaser && i == 50 ? rf_engine_release(race_engine)
                                               : rf_engine_get_options(race_engine, &got);
        if (status == RF_OK && releaser && i == 50) atomic_fetch_add(&race_release_ok, 1);
        else if (status != RF_OK && status != RF_E_INVALID_HANDLE) atomic_fetch_add(&race_unexpected, 1);
    }
    return NULL;
}

static void test_release_races_with_use(void) {
    for (int round = 0; round < RACE_ROUNDS; round++) {
        CHECK_STATUS(rf_engine_create(NULL, &race_engine), RF_OK);
        pthread_t threads[RACE_THREADS];
        for (int t = 0; t < RACE_THREADS; t++)
            pthread_create(&threads[t], NULL, race_worker, t < 2 ? (void *)1 : NULL);
        for (int t = 0; t < RACE_THREADS; t++) pthread_join(threads[t], NULL);
    }
    CHECK(atomic_load(&race_release_ok) == RACE_ROUNDS);
    CHECK(atomic_load(&race_unexpected) == 0);
}

int main(void) {
    test_create_with_defaults();
    test_create_with_chosen_values();
    test_init_writes_only_the_callers_struct();
    test_null_pointers();
    test_struct_size_rules();
    test_out_of_range_fields();
    test_bad_handles();
    test_release_races_with_use();
    return check_finish();
}

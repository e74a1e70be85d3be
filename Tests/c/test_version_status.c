/* Version macros and functions, status names and descriptions, the per-thread last error. */
#include <pthread.h>
#include "check.h"

static const rf_status all_statuses[] = {
    RF_OK, RF_E_INVALID_ARGUMENT, RF_E_STRUCT_SIZE, RF_E_INVALID_HANDLE, RF_E_NO_MEMORY,
    RF_E_STATE, RF_E_TIMEOUT, RF_E_AGAIN, RF_E_CLOSED, RF_E_END_OF_STREAM, RF_E_TOO_LARGE,
    RF_E_NOT_FOUND, RF_E_SEQ_UNAVAILABLE, RF_E_SYSTEM, RF_E_INTERNAL,
};

static void test_version(void) {
    CHECK(rf_version() == RF_VERSION_NUMBER);
    CHECK(rf_version() / 10000 == RF_VERSION_MAJOR);
    CHECK(strcmp(rf_version_string(), RF_VERSION_STRING) == 0);
}

static void test_status_names_are_distinct_and_described(void) {
    size_t count = sizeof all_statuses / sizeof all_statuses[0];
    for (size_t i = 0; i < count; i++) {
        const char *name = rf_status_name(all_statuses[i]);
        CHECK(strncmp(name, "RF_", 3) == 0);
        CHECK(strcmp(name, "RF_UNKNOWN_STATUS") != 0);
        CHECK(strlen(rf_status_describe(all_statuses[i])) > 5);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(name, rf_status_name(all_statuses[j])) != 0);
    }
    CHECK(strcmp(rf_status_name(RF_OK), "RF_OK") == 0);
    CHECK(strcmp(rf_status_name(RF_E_INVALID_HANDLE), "RF_E_INVALID_HANDLE") == 0);
    CHECK(strcmp(rf_status_name(-9999), "RF_UNKNOWN_STATUS") == 0);
    CHECK(strcmp(rf_status_name(42), "RF_UNKNOWN_STATUS") == 0);
    CHECK(strlen(rf_status_describe(-9999)) > 0);
}

static void *fail_on_other_thread(void *arg) {
    (void)arg;
    CHECK(strcmp(rf_last_error(), "") == 0); /* a new thread has no message yet */
    CHECK_STATUS(rf_engine_release(NULL), RF_E_INVALID_HANDLE);
    CHECK_CONTAINS(rf_last_error(), "rf_engine_release");
    return NULL;
}

static void test_last_error_is_per_thread_and_sticky(void) {
    CHECK_STATUS(rf_engine_create(NULL, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "rf_engine_create: out_engine is NULL");

    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, fail_on_other_thread, NULL) == 0);
    pthread_join(thread, NULL);
    /* The other thread's failure did not replace this thread's message. */
    CHECK_CONTAINS(rf_last_error(), "rf_engine_create: out_engine is NULL");

    /* A successful call leaves the message as it was (errno-like). */
    rf_engine *engine = NULL;
    CHECK_STATUS(rf_engine_create(NULL, &engine), RF_OK);
    CHECK_CONTAINS(rf_last_error(), "out_engine is NULL");
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
}

int main(void) {
    CHECK(strcmp(rf_last_error(), "") == 0);
    test_version();
    test_status_names_are_distinct_and_described();
    test_last_error_is_per_thread_and_sticky();
    return check_finish();
}

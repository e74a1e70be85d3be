/* Helpers shared by the durable history tests: scratch directories, engines with a history,
 * runs whose every event carries data derived from its seq, and reading a whole stream back. */
#ifndef RILLFLOW_TEST_HISTORY_HELPERS_H
#define RILLFLOW_TEST_HISTORY_HELPERS_H

#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

/* snprintf that treats a path too long for its buffer as a test setup failure. */
#define PATH_PRINTF(buffer, ...)                                                             \
    do {                                                                                     \
        if (snprintf((buffer), sizeof(buffer), __VA_ARGS__) >= (int)sizeof(buffer)) {       \
            fprintf(stderr, "%s:%d: path too long\n", __FILE__, __LINE__);                   \
            exit(2);                                                                         \
        }                                                                                    \
    } while (0)

/* A fresh empty directory under $TMPDIR (or /tmp); the caller frees the string. */
static inline char *scratch_directory(const char *tag) {
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *path = NULL;
    if (asprintf(&path, "%s/rillflow-%s-XXXXXX", base, tag) < 0 || mkdtemp(path) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    return path;
}

/* Removes a directory tree made by the tests (two levels: runs and their segments). */
static inline void remove_tree(const char *path) {
    DIR *directory = opendir(path);
    if (directory == NULL) return;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        char child[4096];
        PATH_PRINTF(child, "%s/%s", path, entry->d_name);
        struct stat info;
        if (lstat(child, &info) == 0 && S_ISDIR(info.st_mode)) remove_tree(child); else unlink(child);
    }
    closedir(directory);
    rmdir(path);
}

static inline rf_engine *history_engine_with(const char *dir, uint32_t log_capacity, uint64_t history_bytes,
                                              uint32_t segment_bytes, uint32_t fsync_policy, uint32_t flags,
                                              uint64_t max_bytes, uint64_t max_age_ms) {
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.log_capacity = log_capacity;
    options.max_event_bytes = log_capacity ? 4096 : 0;
    options.history_bytes = history_bytes;
    options.history_dir = dir;
    options.history_segment_bytes = segment_bytes;
    options.history_fsync = fsync_policy;
    options.history_flags = flags;
    options.history_max_bytes = max_bytes;
    options.history_max_age_ms = max_age_ms;
    rf_engine *engine = NULL;
    if (rf_engine_create(&options, &engine) != RF_OK) {
        fprintf(stderr, "engine on %s: %s\n", dir, rf_last_error());
        exit(2);
    }
    return engine;
}

/* A small log and in-memory history, so early events leave memory quickly. */
static inline rf_engine *history_engine(const char *dir) {
    return history_engine_with(dir, 64 << 10, 64 << 10, 64 << 10, RF_HISTORY_FSYNC_RUN_END, 0, 0, 0);
}

/* The data every test event carries: a function of its seq, so a reader can check it. */
static inline int seq_data(uint64_t seq, char *buffer, size_t capacity) {
    return snprintf(buffer, capacity, "{\"n\":%" PRIu64 ",\"pad\":\"%.*s\"}", seq, (int)(seq % 40), "........................................");
}

/* Emits events until the next one would have seq `last` (inclusive); rf_run_start must have
 * been called (it is seq 1). Custom events with topic "t". */
static inline void emit_until(rf_run *run, uint64_t next_seq, uint64_t last) {
    char data[128];
    for (uint64_t seq = next_seq; seq <= last; seq++) {
        int length = seq_data(seq, data, sizeof data);
        rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_CUSTOM, .topic = "t", .data = data, .data_len = (uint32_t)length};
        uint64_t got = 0;
        rf_status status = rf_run_emit(run, &e, &got);
        if (status != RF_OK || got != seq) {
            fprintf(stderr, "emit %" PRIu64 ": %s (got seq %" PRIu64 ")\n", seq, rf_last_error(), got);
            exit(2);
        }
    }
}

/* A manual run with events 1 (run started) .. last - 1 (custom) and `last` (completed). */
static inline uint64_t write_completed_run(rf_engine *engine, uint64_t last) {
    rf_run *run = NULL;
    rf_run_create_manual(engine, "durable", NULL, &run);
    rf_run_start(run, NULL, 0);
    emit_until(run, 2, last - 1);
    const char *result = "{\"answer\":42}";
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, result, (uint32_t)strlen(result)), RF_OK);
    uint64_t id = 0;
    rf_run_get_id(run, &id);
    rf_run_release(run);
    return id;
}

/* A subscription to every event of `run` from `start_seq`, which must succeed. */
static inline rf_subscription *subscribe_every_event(rf_run *run, uint64_t start_seq) {
    rf_subscription_options options;
    rf_subscription_options_init(&options);
    options.mode = RF_STREAM_CUSTOM;
    options.start_seq = start_seq;
    rf_subscription *subscription = NULL;
    CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_OK);
    return subscription;
}

typedef struct {
    uint64_t count;      /* events read */
    uint64_t first, last;
    uint64_t bad_seq;    /* seqs that did not follow the previous one */
    uint64_t bad_data;   /* custom events whose data is not seq_data(seq) */
    uint64_t corrupt;    /* RF_E_CORRUPT returns */
    rf_event_kind last_kind;
    rf_status end;       /* the status that ended the reading */
} stream_check;

/* Reads a subscription to its end in batches of up to `batch` events, checking seqs are dense
 * and data matches its seq. A corrupt return lets the next seq jump. */
static inline stream_check read_batches_and_check(rf_subscription *subscription, uint64_t expected_first, uint32_t batch) {
    stream_check result = {0};
    uint64_t expected = expected_first;
    static rf_event events[1024];
    if (batch > 1024) batch = 1024;
    events[0].struct_size = sizeof events[0];
    char data[128];
    int after_corruption = 0;
    while (1) {
        uint32_t count = 0;
        rf_status status = rf_subscription_read_batch(subscription, events, batch, 10000, &count);
        if (status == RF_E_CORRUPT) {
            result.corrupt++;
            after_corruption = 1;
            continue;
        }
        if (status != RF_OK) {
            result.end = status;
            break;
        }
        for (uint32_t i = 0; i < count; i++) {
            const rf_event *event = &events[i];
            if (result.count == 0) result.first = event->seq;
            if (event->seq != expected && !after_corruption) result.bad_seq++;
            after_corruption = 0;
            expected = event->seq + 1;
            result.last = event->seq;
            result.last_kind = event->kind;
            result.count++;
            if (event->kind == RF_EVENT_CUSTOM) {
                int length = seq_data(event->seq, data, sizeof data);
                if ((int)event->data_len != length || memcmp(event->data, data, (size_t)length) != 0) result.bad_data++;
            }
        }
    }
    return result;
}

static inline stream_check read_and_check(rf_subscription *subscription, uint64_t expected_first) {
    return read_batches_and_check(subscription, expected_first, 64);
}

static inline rf_history_info history_info(rf_run *run) {
    rf_history_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK_STATUS(rf_run_get_history_info(run, &info), RF_OK);
    return info;
}

/* The path of run `id`'s first segment file (the one that starts at seq 1). */
#define FIRST_SEGMENT_PATH(path, dir, id) PATH_PRINTF(path, "%s/run-%020" PRIu64 "/%020" PRIu64 ".rfh", dir, id, (uint64_t)1)

#endif

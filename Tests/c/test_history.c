/* The durable history through the public header: options and their errors, the directory
 * lock, writing and reopening runs, reading from any seq, the splice from disk into memory
 * while the run is live, torn and damaged segment files, retention, fsync policies. */
#include "history_helpers.h"
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/time.h>

static rf_status create_with(rf_engine_options *options, rf_engine **engine) { return rf_engine_create(options, engine); }

static void test_option_errors(void) {
    char *dir = scratch_directory("options");
    rf_engine_options options;
    rf_engine *engine = NULL;

    rf_engine_options_init_v2(&options, sizeof options);
    options.history_max_bytes = 1;
    CHECK_STATUS(create_with(&options, &engine), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "history_dir is NULL");

    rf_engine_options_init_v2(&options, sizeof options);
    options.history_dir = dir;
    options.history_fsync = 3;
    CHECK_STATUS(create_with(&options, &engine), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "history_fsync");
    options.history_fsync = 0;
    options.history_flags = 0x10;
    CHECK_STATUS(create_with(&options, &engine), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "history_flags has unknown bits");
    options.history_flags = 0;
    options.history_segment_bytes = 4096;
    CHECK_STATUS(create_with(&options, &engine), RF_E_INVALID_ARGUMENT);
    CHECK_CONTAINS(rf_last_error(), "history_segment_bytes");
    options.history_segment_bytes = 0;
    options.reserved2 = 1;
    CHECK_STATUS(create_with(&options, &engine), RF_E_INVALID_ARGUMENT);
    options.reserved2 = 0;
    options.history_dir = "";
    CHECK_STATUS(create_with(&options, &engine), RF_E_INVALID_ARGUMENT);
    options.history_dir = "/nonexistent-parent/rillflow";
    CHECK_STATUS(create_with(&options, &engine), RF_E_SYSTEM);
    CHECK_CONTAINS(rf_last_error(), "/nonexistent-parent/rillflow");
    options.history_dir = "/nonexistent-parent/rillflow";
    options.history_flags = RF_HISTORY_READ_ONLY;
    CHECK_STATUS(create_with(&options, &engine), RF_E_NOT_FOUND);
    CHECK(engine == NULL);

    /* The effective options come back with defaults resolved and the engine's own copy of the path. */
    char nested[4200];
    PATH_PRINTF(nested, "%s/history", dir);
    rf_engine_options_init_v2(&options, sizeof options);
    options.history_dir = nested;
    options.history_max_age_ms = 5000;
    CHECK_STATUS(create_with(&options, &engine), RF_OK);
    rf_engine_options got;
    rf_engine_options_init_v2(&got, sizeof got);
    CHECK_STATUS(rf_engine_get_options(engine, &got), RF_OK);
    CHECK(got.history_dir != NULL && got.history_dir != nested && strcmp(got.history_dir, nested) == 0);
    CHECK(got.history_segment_bytes == 8u << 20);
    CHECK(got.history_fsync == RF_HISTORY_FSYNC_RUN_END);
    CHECK(got.history_max_age_ms == 5000 && got.history_max_bytes == 0 && got.history_flags == 0);
    /* A 1.1 caller's smaller struct gets only the fields it knows. */
    union { rf_engine_options options; unsigned char bytes[sizeof(rf_engine_options)]; } small;
    memset(&small, 0xAB, sizeof small);
    small.options.struct_size = 40;
    CHECK_STATUS(rf_engine_get_options(engine, &small.options), RF_OK);
    CHECK(small.bytes[40] == 0xAB && small.bytes[sizeof small - 1] == 0xAB);

    /* Nothing is written before a run: open_run finds nothing; errors for bad arguments. */
    rf_run *run = NULL;
    CHECK_STATUS(rf_engine_open_run(engine, 12345, &run), RF_E_NOT_FOUND);
    CHECK_CONTAINS(rf_last_error(), "no durable history");
    CHECK_STATUS(rf_engine_open_run(engine, 1, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_engine_open_run(NULL, 1, &run), RF_E_INVALID_HANDLE);
    rf_engine_release(engine);

    /* An engine without a history cannot open runs, and its runs have no history info. */
    rf_engine_create(NULL, &engine);
    CHECK_STATUS(rf_engine_open_run(engine, 1, &run), RF_E_STATE);
    CHECK_CONTAINS(rf_last_error(), "history_dir");
    rf_run_create_manual(engine, "plain", NULL, &run);
    rf_history_info info = {.struct_size = sizeof info};
    CHECK_STATUS(rf_run_get_history_info(run, &info), RF_E_NOT_FOUND);
    CHECK_STATUS(rf_run_get_history_info(run, NULL), RF_E_INVALID_ARGUMENT);
    CHECK_STATUS(rf_run_get_history_info(NULL, &info), RF_E_INVALID_HANDLE);
    rf_run_release(run);
    rf_engine_release(engine);
    remove_tree(dir);
    free(dir);
}

static void test_lock_and_run_ids(void) {
    char *dir = scratch_directory("lock");
    rf_engine *writer = history_engine(dir);
    uint64_t first = write_completed_run(writer, 10);

    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.history_dir = dir;
    rf_engine *second = NULL;
    CHECK_STATUS(rf_engine_create(&options, &second), RF_E_STATE);
    CHECK_CONTAINS(rf_last_error(), "in use by another engine");
    /* A reader may open it meanwhile, and read the finished run. */
    options.history_flags = RF_HISTORY_READ_ONLY;
    rf_engine *reader = NULL;
    CHECK_STATUS(rf_engine_create(&options, &reader), RF_OK);
    rf_engine_release(writer);  /* drains the history writer */

    rf_run *reopened = NULL;
    CHECK_STATUS(rf_engine_open_run(reader, first, &reopened), RF_OK);
    rf_run_status status = 0;
    rf_run_get_status(reopened, &status);
    CHECK(status == RF_RUN_COMPLETED);
    rf_run_release(reopened);
    rf_engine_release(reader);

    /* The next writer hands out ids above every run the directory has seen. */
    writer = history_engine(dir);
    uint64_t next = write_completed_run(writer, 5);
    CHECK(next > first);
    rf_engine_release(writer);
    FILE *ids = NULL;
    char path[4200];
    PATH_PRINTF(path, "%s/run-ids", dir);
    ids = fopen(path, "r");
    unsigned long long bound = 0;
    CHECK(ids != NULL && fscanf(ids, "%llu", &bound) == 1 && bound > next);
    if (ids) fclose(ids);
    remove_tree(dir);
    free(dir);
}

static void test_write_and_reopen(void) {
    char *dir = scratch_directory("reopen");
    rf_engine *engine = history_engine(dir);
    const uint64_t last = 6000;  /* about 560 KiB: many 64 KiB segments, far beyond the log */
    rf_run *run = NULL;
    rf_run_create_manual(engine, "durable", NULL, &run);
    rf_run_start(run, NULL, 0);
    emit_until(run, 2, last - 1);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, "{\"answer\":42}", 13), RF_OK);
    uint64_t id = 0;
    rf_run_get_id(run, &id);
    rf_engine_release(engine);  /* the sinks, the history writer among them, drain first */

    rf_history_info written = history_info(run);
    CHECK(written.last_seq == last && written.records == last);
    CHECK(written.synced_seq == last);  /* RF_HISTORY_FSYNC_RUN_END */
    CHECK(written.segments > 5 && written.first_seq == 1 && written.write_failures == 0);
    /* The live run serves a replay from seq 1 out of its files now that memory moved on. */
    rf_subscription_options sub_options;
    rf_subscription_options_init(&sub_options);
    sub_options.mode = RF_STREAM_CUSTOM;
    sub_options.start_seq = 1;
    rf_subscription *subscription = NULL;
    CHECK_STATUS(rf_subscription_create(run, &sub_options, &subscription), RF_OK);
    stream_check live = read_and_check(subscription, 1);
    CHECK(live.count == last && live.bad_seq == 0 && live.bad_data == 0 && live.end == RF_E_END_OF_STREAM);
    rf_subscription_release(subscription);
    /* One event per read: the hand-over from disk to memory is tried at every segment's end. */
    for (uint32_t batch = 1; batch <= 7; batch += 3) {
        CHECK_STATUS(rf_subscription_create(run, &sub_options, &subscription), RF_OK);
        live = read_batches_and_check(subscription, 1, batch);
        CHECK(live.count == last && live.bad_seq == 0 && live.bad_data == 0 && live.end == RF_E_END_OF_STREAM);
        rf_subscription_release(subscription);
    }
    rf_run_release(run);

    engine = history_engine(dir);
    rf_run *reopened = NULL;
    CHECK_STATUS(rf_engine_open_run(engine, id, &reopened), RF_OK);
    rf_run_status status = 0;
    rf_run_get_status(reopened, &status);
    CHECK(status == RF_RUN_COMPLETED);
    uint64_t reopened_id = 0;
    rf_run_get_id(reopened, &reopened_id);
    CHECK(reopened_id == id);
    /* A manual run's own terminal data records no usage. */
    rf_token_usage usage = {.struct_size = sizeof usage, .input_tokens = 99};
    CHECK_STATUS(rf_run_get_usage(reopened, &usage), RF_OK);
    CHECK(usage.input_tokens == 0 && usage.total_tokens == 0);
    const void *result = NULL;
    uint32_t result_len = 0;
    CHECK_STATUS(rf_run_get_result(reopened, &result, &result_len), RF_OK);
    CHECK(result_len == 13 && memcmp(result, "{\"answer\":42}", 13) == 0);
    rf_history_info info = history_info(reopened);
    CHECK(info.first_seq == 1 && info.last_seq == last && info.records == last);
    CHECK(info.corrupt_records == 0 && info.torn_bytes == 0 && info.segments == written.segments);

    /* From seq 1, from the middle, from the last event, past it, and the live tail. */
    subscription = NULL;
    CHECK_STATUS(rf_subscription_create(reopened, &sub_options, &subscription), RF_OK);
    stream_check all = read_and_check(subscription, 1);
    CHECK(all.count == last && all.bad_seq == 0 && all.bad_data == 0);
    CHECK(all.last_kind == RF_EVENT_RUN_COMPLETED && all.end == RF_E_END_OF_STREAM);
    rf_subscription_release(subscription);
    sub_options.start_seq = 3217;
    rf_subscription_create(reopened, &sub_options, &subscription);
    stream_check middle = read_and_check(subscription, 3217);
    CHECK(middle.first == 3217 && middle.count == last - 3216 && middle.bad_seq == 0 && middle.bad_data == 0);
    rf_subscription_release(subscription);
    sub_options.start_seq = last;
    rf_subscription_create(reopened, &sub_options, &subscription);
    stream_check end = read_and_check(subscription, last);
    CHECK(end.count == 1 && end.last_kind == RF_EVENT_RUN_COMPLETED);
    rf_subscription_release(subscription);
    sub_options.start_seq = last + 100;
    rf_subscription_create(reopened, &sub_options, &subscription);
    rf_event event = {.struct_size = sizeof event};
    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_E_END_OF_STREAM);
    rf_subscription_release(subscription);
    sub_options.start_seq = 0;
    rf_subscription_create(reopened, &sub_options, &subscription);
    CHECK_STATUS(rf_subscription_read(subscription, &event, 0), RF_E_END_OF_STREAM);
    rf_subscription_release(subscription);
    /* The values mode filters the replay like any stream: only the terminal event passes. */
    sub_options.start_seq = 1;
    sub_options.mode = RF_STREAM_VALUES;
    rf_subscription_create(reopened, &sub_options, &subscription);
    CHECK_STATUS(rf_subscription_read(subscription, &event, 1000), RF_OK);
    CHECK(event.kind == RF_EVENT_RUN_COMPLETED && event.seq == last && event.run_id == id);
    CHECK(strcmp(event.workflow_name, "durable") == 0);
    rf_subscription_release(subscription);

    /* A reopened run is finished: it takes no events and cannot start or be cancelled. */
    rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_CUSTOM};
    CHECK_STATUS(rf_run_emit(reopened, &e, NULL), RF_E_STATE);
    CHECK_STATUS(rf_run_start(reopened, NULL, 0), RF_E_STATE);
    CHECK_STATUS(rf_run_cancel(reopened, NULL), RF_E_STATE);
    rf_run_status waited = 0;
    CHECK_STATUS(rf_run_wait(reopened, 0, &waited), RF_OK);
    CHECK(waited == RF_RUN_COMPLETED);
    /* Two handles on the same history are independent. */
    rf_run *again = NULL;
    CHECK_STATUS(rf_engine_open_run(engine, id, &again), RF_OK);
    rf_run_release(again);
    rf_run_release(reopened);
    rf_engine_release(engine);
    remove_tree(dir);
    free(dir);
}

/* Runs of many lengths, read from seq 1 after they ended, one event at a time and in large
 * batches: wherever a segment or a batch ends relative to what memory still holds, the reader
 * hands over from the disk to the memory history or the log without repeating or missing an
 * event. */
/* Polls the run's history info until its counter at `field` (offsetof a uint64_t member)
 * reaches `at_least`, at most 10 s: the writer's progress, not a time, ends the wait. Returns
 * the info last read. */
static rf_history_info wait_history(rf_run *run, size_t field, uint64_t at_least) {
    rf_history_info info = history_info(run);
    for (int i = 0; i < 10000 && *(const uint64_t *)(const void *)((const char *)&info + field) < at_least; i++) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
        info = history_info(run);
    }
    return info;
}

/* Until the writer has written `seq`. */
static rf_history_info wait_written(rf_run *run, uint64_t seq) { return wait_history(run, offsetof(rf_history_info, last_seq), seq); }

static void test_hand_over_points(void) {
    char *dir = scratch_directory("handover");
    rf_engine *engine = history_engine(dir);
    int clean = 0;
    for (uint64_t last = 1500; last < 1500 + 12 * 67; last += 67) {
        rf_run *run = NULL;
        rf_run_create_manual(engine, "handover", NULL, &run);
        rf_run_start(run, NULL, 0);
        emit_until(run, 2, last - 1);
        rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0);
        wait_written(run, last);
        rf_subscription_options options;
        rf_subscription_options_init(&options);
        options.start_seq = 1;
        rf_subscription *subscription = NULL;
        for (uint32_t batch = 1; batch <= 1024; batch *= 32) {
            CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_OK);
            stream_check seen = read_batches_and_check(subscription, 1, batch);
            if (seen.count == last && seen.bad_seq == 0 && seen.bad_data == 0 && seen.end == RF_E_END_OF_STREAM) clean++;
            else fprintf(stderr, "run of %" PRIu64 " events, batches of %u: read %" PRIu64 ", %" PRIu64 " out of order\n", last, batch, seen.count, seen.bad_seq);
            rf_subscription_release(subscription);
        }
        rf_run_release(run);
    }
    CHECK(clean == 12 * 3);
    rf_engine_release(engine);
    remove_tree(dir);
    free(dir);
}

/* A live run whose early events left memory long ago: a subscription from seq 1 reads them
 * from the disk, then the memory history and the log, then live events, while the producer
 * keeps emitting; nothing is missed or repeated. */
typedef struct {
    rf_run *run;
    uint64_t from, last;
} producer_args;

static void *produce(void *raw) {
    producer_args *args = raw;
    emit_until(args->run, args->from, args->last - 1);
    rf_run_end(args->run, RF_EVENT_RUN_COMPLETED, NULL, 0);
    return NULL;
}

static void test_splice_while_live(void) {
    char *dir = scratch_directory("splice");
    rf_engine *engine = history_engine(dir);
    for (int round = 0; round < 3; round++) {
        rf_run *run = NULL;
        rf_run_create_manual(engine, "splice", NULL, &run);
        rf_run_start(run, NULL, 0);
        emit_until(run, 2, 3000);  /* ~280 KiB: the first events are only on disk now */
        rf_subscription_options options;
        rf_subscription_options_init(&options);
        options.mode = RF_STREAM_CUSTOM;
        options.start_seq = 1 + (uint64_t)round * 700;
        options.flags = round == 2 ? RF_SUBSCRIBE_LOSSY : 0;
        rf_subscription *subscription = NULL;
        CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_OK);
        producer_args args = {.run = run, .from = 3001, .last = 40000};
        pthread_t producer;
        pthread_create(&producer, NULL, produce, &args);
        stream_check seen = read_batches_and_check(subscription, options.start_seq, round == 1 ? 1 : 64);
        pthread_join(producer, NULL);
        if (round < 2) {
            CHECK(seen.first == options.start_seq && seen.last == 40000);
            CHECK(seen.count == 40000 - options.start_seq + 1 && seen.bad_seq == 0 && seen.bad_data == 0);
        } else {
            /* A lossy reader may lag live, but reports every gap (bad_seq counts the lagged
             * events' seq 0 jumps) and still ends with the terminal event. */
            CHECK(seen.first == options.start_seq && seen.last == 40000 && seen.bad_data == 0);
        }
        CHECK(seen.end == RF_E_END_OF_STREAM && seen.corrupt == 0);
        rf_subscription_release(subscription);
        rf_run_release(run);
    }
    rf_engine_release(engine);
    remove_tree(dir);
    free(dir);
}

static off_t file_size(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 ? info.st_size : -1;
}

/* Cuts the only segment of a run at many points, largest first: every reopen recovers exactly
 * the records before the cut, reports the rest as torn, and reads back without an error. */
static void test_torn_tails(void) {
    char *dir = scratch_directory("torn");
    rf_engine *engine = history_engine_with(dir, 0, 0, 1 << 20, RF_HISTORY_FSYNC_NEVER, 0, 0, 0);
    const uint64_t last = 400;
    uint64_t id = write_completed_run(engine, last);
    rf_engine_release(engine);
    char path[4200];
    FIRST_SEGMENT_PATH(path, dir, id);
    off_t size = file_size(path);
    CHECK(size > 20000);

    engine = history_engine(dir);
    uint64_t previous_records = last;
    int cuts = 0, monotonic = 1, consistent = 1, clean_reads = 1;
    srand(7);
    for (off_t cut = size - 1; cut > 0; cut -= 1 + rand() % 997) {
        CHECK(truncate(path, cut) == 0);
        rf_run *run = NULL;
        CHECK_STATUS(rf_engine_open_run(engine, id, &run), RF_OK);
        if (run == NULL) break;
        rf_history_info info = history_info(run);
        rf_run_status status = 0;
        rf_run_get_status(run, &status);
        if (info.records > previous_records) monotonic = 0;
        previous_records = info.records;
        /* Dense from 1, torn bytes + intact bytes + header == the file. */
        if (info.records > 0 && (info.first_seq != 1 || info.last_seq != info.records)) consistent = 0;
        if (info.corrupt_records != 0 || status != RF_RUN_INTERRUPTED) consistent = 0;
        if (info.bytes + info.torn_bytes + (cut >= 32 ? 32 : 0) > (uint64_t)cut) consistent = 0;
        if (info.records > 0) {
            rf_subscription *subscription = subscribe_every_event(run, 1);
            stream_check seen = read_and_check(subscription, 1);
            if (seen.count != info.records || seen.bad_seq || seen.bad_data || seen.corrupt || seen.end != RF_E_END_OF_STREAM) clean_reads = 0;
            rf_subscription_release(subscription);
        }
        rf_run_release(run);
        cuts++;
    }
    CHECK(cuts > 20);
    CHECK(monotonic);
    CHECK(consistent);
    CHECK(clean_reads);
    rf_engine_release(engine);
    remove_tree(dir);
    free(dir);
}

static void flip_byte(const char *path, off_t offset) {
    int fd = open(path, O_RDWR);
    unsigned char byte = 0;
    CHECK(pread(fd, &byte, 1, offset) == 1);
    byte ^= 0x20;
    CHECK(pwrite(fd, &byte, 1, offset) == 1);
    close(fd);
}

/* Bit flips in a record's data, in a record's length and in the segment header: each damaged
 * record is counted, reading reports it once with RF_E_CORRUPT and goes on after it. */
static void test_bit_flips(void) {
    char *dir = scratch_directory("flips");
    rf_engine *engine = history_engine_with(dir, 0, 0, 1 << 20, RF_HISTORY_FSYNC_NEVER, 0, 0, 0);
    const uint64_t last = 300;
    uint64_t data_flip = write_completed_run(engine, last);
    uint64_t length_flip = write_completed_run(engine, last);
    uint64_t header_flip = write_completed_run(engine, last);
    rf_engine_release(engine);
    char path[4200];
    FIRST_SEGMENT_PATH(path, dir, data_flip);
    off_t size = file_size(path);
    flip_byte(path, size / 2);
    FIRST_SEGMENT_PATH(path, dir, length_flip);
    /* The third record after the header and identity record starts at a multiple of 8; find a
     * record start by its marker, then flip a bit of its length field. */
    int fd = open(path, O_RDONLY);
    unsigned char bytes[4096];
    ssize_t got = pread(fd, bytes, sizeof bytes, 0);
    close(fd);
    off_t record_start = -1;
    int markers = 0;
    for (ssize_t offset = 32; offset + 8 <= got; offset += 8) {
        if (memcmp(bytes + offset + 4, "RFH1", 4) == 0 && ++markers == 5) {
            record_start = offset;
            break;
        }
    }
    CHECK(record_start > 0);
    flip_byte(path, record_start + 9);
    FIRST_SEGMENT_PATH(path, dir, header_flip);
    flip_byte(path, 10);

    engine = history_engine(dir);
    uint64_t damaged[2] = {data_flip, length_flip};
    for (int i = 0; i < 2; i++) {
        rf_run *run = NULL;
        CHECK_STATUS(rf_engine_open_run(engine, damaged[i], &run), RF_OK);
        rf_history_info info = history_info(run);
        CHECK(info.corrupt_records == 1 && info.records == last - 1 && info.torn_bytes == 0);
        rf_run_status status = 0;
        rf_run_get_status(run, &status);
        CHECK(status == RF_RUN_COMPLETED);
        rf_subscription *subscription = subscribe_every_event(run, 1);
        rf_event event = {.struct_size = sizeof event};
        uint64_t count = 0, corrupt = 0, expected = 1, skipped = 0;
        rf_status status_read;
        while ((status_read = rf_subscription_read(subscription, &event, 1000)) != RF_E_END_OF_STREAM) {
            if (status_read == RF_E_CORRUPT) {
                corrupt++;
                CHECK_CONTAINS(rf_last_error(), "is damaged at offset");
                continue;
            }
            CHECK_STATUS(status_read, RF_OK);
            if (status_read != RF_OK) break;
            if (event.seq != expected) skipped += event.seq - expected;
            expected = event.seq + 1;
            count++;
        }
        CHECK(corrupt == 1 && count == last - 1 && skipped == 1);
        rf_subscription_release(subscription);
        rf_run_release(run);
    }
    rf_run *run = NULL;
    CHECK_STATUS(rf_engine_open_run(engine, header_flip, &run), RF_OK);
    rf_history_info info = history_info(run);
    CHECK(info.corrupt_records == 1 && info.records == 0);
    rf_run_status status = 0;
    rf_run_get_status(run, &status);
    CHECK(status == RF_RUN_INTERRUPTED);
    rf_subscription_options options;
    rf_subscription_options_init(&options);
    options.start_seq = 1;
    rf_subscription *subscription = NULL;
    CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_OK);
    rf_event event = {.struct_size = sizeof event};
    /* Nothing intact is left to read: the stream is empty, and the info above says why. */
    CHECK_STATUS(rf_subscription_read(subscription, &event, 1000), RF_E_END_OF_STREAM);
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_engine_release(engine);
    remove_tree(dir);
    free(dir);
}

static uint64_t history_bytes_on_disk(const char *dir, int *runs) {
    uint64_t total = 0;
    *runs = 0;
    DIR *top = opendir(dir);
    struct dirent *entry;
    while (top && (entry = readdir(top)) != NULL) {
        if (strncmp(entry->d_name, "run-", 4) != 0 || strcmp(entry->d_name, "run-ids") == 0) continue;
        (*runs)++;
        char path[4200];
        PATH_PRINTF(path, "%s/%s", dir, entry->d_name);
        DIR *run = opendir(path);
        struct dirent *segment;
        while (run && (segment = readdir(run)) != NULL) {
            if (strstr(segment->d_name, ".rfh") == NULL) continue;
            char file[4400];
            PATH_PRINTF(file, "%s/%s", path, segment->d_name);
            total += (uint64_t)file_size(file);
        }
        if (run) closedir(run);
    }
    if (top) closedir(top);
    return total;
}

static void age_files(const char *dir, uint64_t id, int seconds) {
    char path[4200];
    PATH_PRINTF(path, "%s/run-%020" PRIu64, dir, id);
    DIR *run = opendir(path);
    struct dirent *segment;
    struct timeval past[2];
    gettimeofday(&past[0], NULL);
    past[0].tv_sec -= seconds;
    past[1] = past[0];
    while (run && (segment = readdir(run)) != NULL) {
        if (strstr(segment->d_name, ".rfh") == NULL) continue;
        char file[4400];
        PATH_PRINTF(file, "%s/%s", path, segment->d_name);
        CHECK(utimes(file, past) == 0);
    }
    if (run) closedir(run);
}

static void test_retention(void) {
    char *dir = scratch_directory("retention");
    /* Size: at most 256 KiB of segments besides the one being written; oldest go first. */
    rf_engine *engine = history_engine_with(dir, 64 << 10, 64 << 10, 64 << 10, RF_HISTORY_FSYNC_NEVER, 0, 256 << 10, 0);
    uint64_t ids[6];
    for (int i = 0; i < 6; i++) ids[i] = write_completed_run(engine, 1200);  /* ~110 KiB each */
    rf_engine_release(engine);
    int runs = 0;
    uint64_t total = history_bytes_on_disk(dir, &runs);
    CHECK(total <= 256 << 10);
    CHECK(runs >= 2 && runs < 6);
    engine = history_engine(dir);
    rf_run *run = NULL;
    CHECK_STATUS(rf_engine_open_run(engine, ids[0], &run), RF_E_NOT_FOUND);
    CHECK_STATUS(rf_engine_open_run(engine, ids[5], &run), RF_OK);
    rf_history_info info = history_info(run);
    CHECK(info.last_seq == 1200 && info.corrupt_records == 0);
    rf_run_release(run);
    /* A run whose first segments were deleted still serves what is left, and says what is not. */
    CHECK_STATUS(rf_engine_open_run(engine, ids[runs == 2 ? 4 : 3], &run), RF_OK);
    info = history_info(run);
    rf_subscription_options options;
    rf_subscription_options_init(&options);
    options.start_seq = 1;
    rf_subscription *subscription = NULL;
    if (info.first_seq > 1) {
        CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_E_SEQ_UNAVAILABLE);
        CHECK_CONTAINS(rf_last_error(), "no longer in the durable history");
    }
    rf_run_release(run);
    rf_engine_release(engine);

    /* Age: segments last written over a minute ago go when an engine opens the directory. */
    engine = history_engine(dir);
    uint64_t fresh = write_completed_run(engine, 50);
    rf_engine_release(engine);
    age_files(dir, ids[5], 3600);
    engine = history_engine_with(dir, 0, 0, 0, RF_HISTORY_FSYNC_NEVER, 0, 0, 60000);
    CHECK_STATUS(rf_engine_open_run(engine, ids[5], &run), RF_E_NOT_FOUND);
    CHECK_STATUS(rf_engine_open_run(engine, fresh, &run), RF_OK);
    rf_run_release(run);
    rf_engine_release(engine);
    remove_tree(dir);
    free(dir);
}

/* A write that fails (the run's directory cannot be made: a file has its name) is counted and
 * explained in last_error; the writer retries until it succeeds, and nothing is lost. A 1.2
 * caller's smaller struct gets the counts without the message, and nothing past its end. */
static void test_write_failure_is_explained(void) {
    char *dir = scratch_directory("failure");
    rf_engine *engine = history_engine_with(dir, 0, 0, 0, RF_HISTORY_FSYNC_NEVER, 0, 0, 0);
    rf_run *run = NULL;
    rf_run_create_manual(engine, "failing", NULL, &run);
    uint64_t id = 0;
    rf_run_get_id(run, &id);
    char blocker[600];
    snprintf(blocker, sizeof blocker, "%s/run-%020llu", dir, (unsigned long long)id);
    FILE *file = fopen(blocker, "w");
    CHECK(file != NULL);
    if (file) fclose(file);
    rf_run_start(run, NULL, 0);
    emit_until(run, 2, 50);
    rf_history_info info = wait_history(run, offsetof(rf_history_info, write_failures), 1);
    CHECK(info.write_failures >= 1 && info.last_seq == 0);
    CHECK_CONTAINS(info.last_error, "cannot create directory");
    CHECK_CONTAINS(info.last_error, blocker);

    unsigned char old[sizeof(rf_history_info)];
    memset(old, 0xAB, sizeof old);
    ((rf_history_info *)(void *)old)->struct_size = RF_HISTORY_INFO_SIZE_V1;
    CHECK_STATUS(rf_run_get_history_info(run, (rf_history_info *)(void *)old), RF_OK);
    CHECK(((rf_history_info *)(void *)old)->write_failures >= 1);
    int untouched = 1;
    for (size_t i = RF_HISTORY_INFO_SIZE_V1; i < sizeof old; i++) untouched &= old[i] == 0xAB;
    CHECK(untouched);

    CHECK(unlink(blocker) == 0);  /* the next retry (within 100 ms) succeeds */
    info = wait_written(run, 50);
    CHECK(info.last_seq == 50 && info.records == 50);
    CHECK_CONTAINS(info.last_error, "cannot create directory");  /* the latest failure stays */
    rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0);
    rf_run_release(run);
    rf_engine_release(engine);
    remove_tree(dir);
    free(dir);
}

static void test_fsync_policies(void) {
    uint32_t policies[3] = {RF_HISTORY_FSYNC_NEVER, RF_HISTORY_FSYNC_BATCH, RF_HISTORY_FSYNC_RUN_END};
    for (int i = 0; i < 3; i++) {
        char *dir = scratch_directory("fsync");
        rf_engine *engine = history_engine_with(dir, 0, 0, 0, policies[i], 0, 0, 0);
        rf_run *run = NULL;
        rf_run_create_manual(engine, "sync", NULL, &run);
        rf_run_start(run, NULL, 0);
        emit_until(run, 2, 100);
        rf_history_info info = wait_written(run, 100);
        CHECK(info.last_seq == 100 && info.records == 100);
        if (policies[i] == RF_HISTORY_FSYNC_BATCH) CHECK(info.synced_seq == 100);
        else CHECK(info.synced_seq == 0);  /* nothing synced before the run ends */
        rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0);
        info = wait_written(run, 101);
        if (policies[i] != RF_HISTORY_FSYNC_NEVER) info = wait_history(run, offsetof(rf_history_info, synced_seq), 101);
        CHECK(info.synced_seq == (policies[i] == RF_HISTORY_FSYNC_NEVER ? 0u : 101u));
        rf_run_release(run);
        rf_engine_release(engine);
        remove_tree(dir);
        free(dir);
    }
}

/* A workflow run with a sub-workflow: its history (the root's) holds the child's events, with
 * the child's identity, and the child has no history of its own. */
static rf_status child_step(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    rf_status status = rf_step_ctx_emit_custom(ctx, "child-topic", "{}", 2);
    return status != RF_OK ? status : rf_step_ctx_stop(ctx, "\"child\"", 7);
}

static rf_status spawn_step(void *user_data, rf_step_ctx *ctx) {
    return rf_step_ctx_start_child(ctx, user_data, "x", 1, "child_done");
}

static rf_status finish_step(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    rf_token_usage usage = {.struct_size = sizeof usage, .input_tokens = 12, .output_tokens = 30, .total_tokens = 42,
                            .reasoning_tokens = 7, .cached_input_tokens = 5};
    rf_status status = rf_step_ctx_report_usage(ctx, &usage);
    return status != RF_OK ? status : rf_step_ctx_stop(ctx, "\"ok\"", 4);
}

static void test_sub_workflow(void) {
    char *dir = scratch_directory("child");
    rf_engine *engine = history_engine_with(dir, 0, 0, 0, RF_HISTORY_FSYNC_NEVER, 0, 0, 0);
    rf_workflow *child = NULL;
    rf_workflow_create(engine, "child_flow", &child);
    rf_workflow_add_step(child, "work", "start", "stop", child_step, NULL, NULL, NULL);
    CHECK_STATUS(rf_workflow_build(child), RF_OK);
    rf_workflow *parent = NULL;
    rf_workflow_create(engine, "parent_flow", &parent);
    rf_workflow_add_step(parent, "spawn", "start", "child_done", spawn_step, child, NULL, NULL);
    rf_workflow_add_step(parent, "finish", "child_done", "stop", finish_step, NULL, NULL, NULL);
    CHECK_STATUS(rf_workflow_build(parent), RF_OK);
    rf_run *run = NULL;
    CHECK_STATUS(rf_run_create(parent, NULL, &run), RF_OK);
    CHECK_STATUS(rf_run_start(run, "go", 2), RF_OK);
    rf_run_status final = 0;
    CHECK_STATUS(rf_run_wait(run, 10000, &final), RF_OK);
    CHECK(final == RF_RUN_COMPLETED);
    uint64_t id = 0;
    rf_run_get_id(run, &id);
    rf_run_release(run);
    rf_workflow_release(parent);
    rf_workflow_release(child);
    rf_engine_release(engine);

    engine = history_engine(dir);
    rf_run *reopened = NULL;
    CHECK_STATUS(rf_engine_open_run(engine, id, &reopened), RF_OK);
    /* The usage its steps reported, as its RUN_COMPLETED event recorded it. */
    rf_token_usage usage = {.struct_size = sizeof usage};
    CHECK_STATUS(rf_run_get_usage(reopened, &usage), RF_OK);
    CHECK(usage.input_tokens == 12 && usage.output_tokens == 30 && usage.total_tokens == 42 &&
          usage.reasoning_tokens == 7 && usage.cached_input_tokens == 5);
    rf_subscription_options options;
    rf_subscription_options_init(&options);
    options.mode = RF_STREAM_CUSTOM;
    options.kinds = RF_KIND_BIT(RF_EVENT_CUSTOM);
    options.start_seq = 1;
    rf_subscription *subscription = NULL;
    rf_subscription_create(reopened, &options, &subscription);
    rf_event event = {.struct_size = sizeof event};
    int found = 0;
    uint64_t child_id = 0;
    while (rf_subscription_read(subscription, &event, 1000) == RF_OK) {
        if (event.kind == RF_EVENT_CUSTOM && strcmp(event.topic, "child-topic") == 0) {
            found++;
            child_id = event.run_id;
            CHECK(event.parent_run_id == id && event.root_run_id == id && strcmp(event.workflow_name, "child_flow") == 0);
        }
    }
    CHECK(found == 1 && child_id != id);
    rf_subscription_release(subscription);
    rf_run_release(reopened);
    rf_run *child_run = NULL;
    CHECK_STATUS(rf_engine_open_run(engine, child_id, &child_run), RF_E_NOT_FOUND);
    CHECK_CONTAINS(rf_last_error(), "root run's history");
    rf_engine_release(engine);
    remove_tree(dir);
    free(dir);
}

/* A run written by an engine that allows larger events than the engine reopening it: the
 * reopened run's readers are sized for what its history holds (a packed read's probe asks for
 * room for the largest event on disk), so the large event is read whole, never past a buffer. */
static void test_reopened_by_a_smaller_limit(void) {
    char *dir = scratch_directory("limits");
    rf_engine *writer = history_engine_with(dir, 0, 0, 0, RF_HISTORY_FSYNC_RUN_END, 0, 0, 0);  /* 1 MiB events */
    rf_run *run = NULL;
    CHECK_STATUS(rf_run_create_manual(writer, "large", NULL, &run), RF_OK);
    CHECK_STATUS(rf_run_start(run, NULL, 0), RF_OK);
    enum { large = 20000 };
    char *data = malloc(large);
    memset(data, 'x', large);
    data[0] = '"';
    data[large - 1] = '"';
    rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_CUSTOM, .topic = "t", .data = data, .data_len = large};
    CHECK_STATUS(rf_run_emit(run, &e, NULL), RF_OK);
    CHECK_STATUS(rf_run_end(run, RF_EVENT_RUN_COMPLETED, NULL, 0), RF_OK);
    uint64_t id = 0;
    rf_run_get_id(run, &id);
    rf_run_release(run);
    rf_engine_release(writer);

    rf_engine *reader = history_engine(dir);  /* 4096-byte events */
    CHECK_STATUS(rf_engine_open_run(reader, id, &run), RF_OK);
    rf_subscription *subscription = subscribe_every_event(run, 1);
    uint32_t count = 0, needed = 0;
    CHECK_STATUS(rf_subscription_read_packed(subscription, NULL, 0, 0, &count, &needed), RF_E_TOO_LARGE);
    CHECK(needed >= RF_PACKED_EVENT_MAX_SIZE(large));
    void *buffer = malloc(needed);
    uint32_t used = 0, events = 0, large_seen = 0;
    rf_status status;
    while ((status = rf_subscription_read_packed(subscription, buffer, needed, 1000, &count, &used)) == RF_OK) {
        const unsigned char *at = buffer;
        for (uint32_t i = 0; i < count; i++) {
            const rf_packed_event *packed = (const rf_packed_event *)at;
            events++;
            large_seen += packed->data_len == large;
            at += packed->size;
        }
    }
    CHECK_STATUS(status, RF_E_END_OF_STREAM);
    CHECK(events == 3 && large_seen == 1);
    free(buffer);
    free(data);
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_engine_release(reader);
    remove_tree(dir);
    free(dir);
}

int main(void) {
    test_option_errors();
    test_reopened_by_a_smaller_limit();
    test_lock_and_run_ids();
    test_write_and_reopen();
    test_hand_over_points();
    test_splice_while_live();
    test_torn_tails();
    test_bit_flips();
    test_retention();
    test_fsync_policies();
    test_write_failure_is_explained();
    test_sub_workflow();
    return check_finish();
}

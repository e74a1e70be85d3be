/* A libFuzzer harness for the public C API: the input is decoded into a sequence of calls
 * (create and release engines, workflows, runs, subscriptions and sinks in any order; emit payloads of
 * any size; random option structs and struct sizes; stale, foreign and NULL handles). Every
 * call must return RF_OK or a documented RF_E_* status, nothing may crash or hang (every wait
 * is bounded), and every object is released at the end of each input so leaks show, after
 * which none of the library's threads may still run. Some engines keep a durable history in a
 * scratch directory of the input's own (removed at its end), and some inputs forge segment
 * files there, which reopening and reading must reject record by record without reading
 * outside them.
 *
 *   scripts/fuzz [seconds]     builds this with -fsanitize=fuzzer,address,undefined and runs it
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rillflow.h"

enum { SLOTS = 4 };

typedef struct input {
    const uint8_t *data;
    size_t size, at;
} input;

static uint8_t byte(input *in) { return in->at < in->size ? in->data[in->at++] : 0; }
static uint32_t u32(input *in) { return (uint32_t)byte(in) | (uint32_t)byte(in) << 8 | (uint32_t)byte(in) << 16 | (uint32_t)byte(in) << 24; }

/* Every status a call may return is RF_OK or one of the documented codes. */
static rf_status expect(rf_status status) {
    if (status > 0 || status < RF_E_CORRUPT) {
        fprintf(stderr, "undocumented status %d (%s)\n", status, rf_last_error());
        abort();
    }
    if (status != RF_OK && rf_last_error()[0] == '\0') {
        fprintf(stderr, "status %s without a message\n", rf_status_name(status));
        abort();
    }
    return status;
}

/* A string from the input: NULL, "", or up to 300 bytes (over the 255-byte name limit). */
static const char *text(input *in, char *buffer, size_t capacity) {
    uint8_t choice = byte(in);
    if (choice < 16) return NULL;
    size_t length = (size_t)byte(in) + (choice > 240 ? 64 : 0);
    if (length >= capacity) length = capacity - 1;
    for (size_t i = 0; i < length; i++) buffer[i] = (char)('a' + byte(in) % 26);
    buffer[length] = 0;
    if (choice % 7 == 0 && length > 2) buffer[length / 2] = ',';
    return buffer;
}

/* A struct_size: usually right, sometimes 0 or too small. Never larger: a caller claiming a
 * bigger struct than it owns lets the library touch memory beyond it, by the API's contract
 * (the C tests cover larger sizes with buffers that really are larger). */
static uint32_t struct_size(input *in, uint32_t right) {
    switch (byte(in) % 8) {
    case 0: return 0;
    case 1: return right / 2;
    default: return right;
    }
}

static rf_status step_stop(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    rf_step_ctx_emit_token(ctx, "t", 1, 0);
    return rf_step_ctx_stop(ctx, "1", 1);
}

static rf_status step_fail(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    rf_step_ctx_set_error(ctx, "fuzz");
    return RF_E_SYSTEM;
}

static rf_status sink_take(void *user_data, const rf_event *events, uint32_t count) {
    (void)events;
    uint32_t *mode = user_data;
    return count > 0 && *mode % 3 == 0 ? RF_E_SYSTEM : RF_OK;  /* some sinks fail */
}

typedef struct world {
    rf_sink *sinks[SLOTS];
    uint8_t sink_live[SLOTS];
    uint32_t sink_modes[SLOTS];
    rf_engine *engines[SLOTS];
    rf_workflow *workflows[SLOTS];
    rf_run *runs[SLOTS];
    rf_subscription *subscriptions[SLOTS];
    /* Released handles stay in the slots so later calls use them stale; `live` says which. */
    uint8_t engine_live[SLOTS], workflow_live[SLOTS], run_live[SLOTS], subscription_live[SLOTS];
} world;

/* The durable history directory the history engines of one input share, made on first use. */
static char history_path[256];

static const char *history_directory(void) {
    if (history_path[0] == 0) {
        snprintf(history_path, sizeof history_path, "%s/rillflow-fuzz-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (mkdtemp(history_path) == NULL) abort();
    }
    return history_path;
}

static void remove_tree(const char *path) {
    DIR *directory = opendir(path);
    struct dirent *entry;
    while (directory && (entry = readdir(directory)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        char child[512];
        snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
        struct stat info;
        if (lstat(child, &info) == 0 && S_ISDIR(info.st_mode)) remove_tree(child); else unlink(child);
    }
    if (directory) closedir(directory);
    rmdir(path);
}

static void create_engine(world *w, input *in, int slot) {
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.struct_size = struct_size(in, sizeof options);
    options.worker_threads = byte(in) % 3;
    options.log_capacity = byte(in) % 3 == 0 ? 65536u << (byte(in) % 3) : 0;
    options.max_event_bytes = byte(in) % 2 ? 4096 : (byte(in) % 2 ? 0 : u32(in) % 100000);
    options.history_bytes = byte(in) % 2 ? 0 : (uint64_t)u32(in) % 200000;
    options.emit_timeout_ms = 1 + byte(in) % 20;  /* bounded: a full log never hangs the fuzzer */
    options.sink_drain_timeout_ms = 1 + byte(in) % 20;  /* so is releasing an engine whose sink fails */
    if (byte(in) % 3 == 0) {
        options.history_dir = history_directory();
        uint8_t fsync_choice = byte(in);  /* mostly never: syncing would slow the fuzzer 10x */
        options.history_fsync = fsync_choice % 16 == 0 ? fsync_choice / 16 % 4 : RF_HISTORY_FSYNC_NEVER;  /* 3 is invalid */
        options.history_flags = byte(in) % 5 == 0 ? RF_HISTORY_READ_ONLY : 0;
        options.history_segment_bytes = byte(in) % 2 ? 65536 : 0;
        options.history_max_bytes = 64 << 10;  /* the scratch directory stays small */
    }
    if (w->engine_live[slot]) return;
    if (expect(rf_engine_create(&options, &w->engines[slot])) == RF_OK) w->engine_live[slot] = 1;
}

static void create_workflow(world *w, input *in, int slot) {
    if (w->workflow_live[slot]) return;
    char name[320], accepts[320], sends[320];
    rf_workflow *workflow = NULL;
    if (expect(rf_workflow_create(w->engines[byte(in) % SLOTS], text(in, name, sizeof name), &workflow)) != RF_OK) return;
    w->workflows[slot] = workflow;
    w->workflow_live[slot] = 1;
    int steps = byte(in) % 4;
    for (int i = 0; i < steps; i++) {
        rf_step_options options;
        rf_step_options_init(&options, sizeof options);
        options.struct_size = struct_size(in, sizeof options);
        options.concurrency = byte(in) % 3;
        options.collect = byte(in) % 3;
        options.retry_attempts = byte(in) % 3;
        options.timeout_ms = byte(in) % 4 == 0 ? 1 + byte(in) % 20 : 0;
        options.flags = byte(in) % 16 == 0 ? 0x10 : 0;
        char step[320];
        expect(rf_workflow_add_step(workflow, text(in, step, sizeof step), byte(in) % 2 ? "start" : text(in, accepts, sizeof accepts),
                                    byte(in) % 2 ? "stop" : text(in, sends, sizeof sends), byte(in) % 3 ? step_stop : step_fail,
                                    NULL, NULL, &options));
    }
    expect(rf_workflow_build(workflow));
}

static void create_run(world *w, input *in, int slot) {
    if (w->run_live[slot]) return;
    rf_run_options options;
    rf_run_options_init_v2(&options, sizeof options);
    options.struct_size = struct_size(in, sizeof options);
    char trace[64], metadata[320];
    options.trace_id = text(in, trace, sizeof trace);
    options.metadata = byte(in) % 2 ? NULL : text(in, metadata, sizeof metadata);
    options.timeout_ms = byte(in) % 4 == 0 ? 1 + byte(in) % 30 : 0;
    rf_run *run = NULL;
    rf_status status = byte(in) % 2
        ? rf_run_create(w->workflows[byte(in) % SLOTS], &options, &run)
        : rf_run_create_manual(w->engines[byte(in) % SLOTS], "fuzz", &options, &run);
    if (expect(status) == RF_OK) {
        w->runs[slot] = run;
        w->run_live[slot] = 1;
    }
}

static void emit(world *w, input *in) {
    static char payload[70000];
    rf_emit e;
    memset(&e, 0, sizeof e);
    e.struct_size = struct_size(in, sizeof e);
    e.kind = byte(in) % 18;
    char step[320], topic[320];
    e.step_name = text(in, step, sizeof step);
    e.topic = text(in, topic, sizeof topic);
    uint8_t size_choice = byte(in);
    e.data_len = size_choice < 200 ? size_choice : u32(in) % (uint32_t)sizeof payload;
    e.data = byte(in) % 32 == 0 ? NULL : payload;
    e.token_index = u32(in);
    uint64_t seq = 0;
    expect(rf_run_emit(w->runs[byte(in) % SLOTS], &e, &seq));
}

static void subscribe(world *w, input *in, int slot) {
    if (w->subscription_live[slot]) return;
    rf_subscription_options options;
    rf_subscription_options_init(&options);
    options.struct_size = struct_size(in, sizeof options);
    options.mode = byte(in) % 6;
    options.kinds = byte(in) % 2 ? 0 : u32(in);
    options.flags = byte(in) % 5;
    options.start_seq = byte(in) % 4;
    const char *topics[2] = {"a", byte(in) % 8 ? "b" : NULL};
    if (byte(in) % 3 == 0) {
        options.topics = byte(in) % 8 ? topics : NULL;
        options.topic_count = byte(in) % 3;
    }
    rf_subscription *subscription = NULL;
    if (expect(rf_subscription_create(w->runs[byte(in) % SLOTS], &options, &subscription)) == RF_OK) {
        w->subscriptions[slot] = subscription;
        w->subscription_live[slot] = 1;
    }
}

static int32_t stop_at_two(void *user_data, const rf_event *event) {
    (void)event;
    return ++*(int *)user_data >= 2;
}

static void read_some(world *w, input *in) {
    rf_subscription *subscription = w->subscriptions[byte(in) % SLOTS];
    static rf_event batch[8];
    static uint64_t packed[(RF_PACKED_EVENT_MAX_SIZE(1 << 20) + 4096) / 8];
    uint32_t count = 0, used = 0;
    int seen = 0;
    int32_t fd = -1;
    switch (byte(in) % 5) {
    case 0:
        batch[0].struct_size = struct_size(in, sizeof(rf_event));
        expect(rf_subscription_read(subscription, &batch[0], 0));
        break;
    case 1:
        batch[0].struct_size = sizeof(rf_event);
        expect(rf_subscription_read_batch(subscription, batch, 1 + byte(in) % 8, 0, &count));
        for (uint32_t i = 0; i < count; i++) {
            char json[512];
            size_t length;
            expect(rf_event_to_json(&batch[i], json, sizeof json, &length));
        }
        break;
    case 2:
        expect(rf_subscription_read_packed(subscription, packed, byte(in) % 2 ? sizeof packed : 100, 0, &count, &used));
        break;
    case 3:
        expect(rf_subscription_poll(subscription, stop_at_two, &seen, 1 + byte(in) % 4, &count));
        break;
    default:
        expect(rf_subscription_fd(subscription, &fd));
        break;
    }
}

/* Writes a segment file of the input's bytes for a forged run id (after a valid header, or
 * not), then opens that run and reads it whole. */
static void forge_and_read(world *w, input *in, int slot) {
    uint64_t id = 1000000000000ull + byte(in) % 4;
    char path[512];
    snprintf(path, sizeof path, "%s/run-%020" PRIu64, history_directory(), id);
    mkdir(path, 0755);
    snprintf(path + strlen(path), sizeof path - strlen(path), "/%020" PRIu64 ".rfh", (uint64_t)1 + byte(in) % 2);
    FILE *file = fopen(path, "wb");
    if (file == NULL) return;
    size_t length = in->at < in->size ? (in->size - in->at) / 2 : 0;
    fwrite(in->data + in->at, 1, length, file);
    in->at += length;
    fclose(file);
    if (w->run_live[slot] || !w->engine_live[slot]) return;
    if (expect(rf_engine_open_run(w->engines[slot], id, &w->runs[slot])) != RF_OK) return;
    w->run_live[slot] = 1;
    rf_history_info info = {.struct_size = struct_size(in, sizeof info)};
    expect(rf_run_get_history_info(w->runs[slot], &info));
    rf_subscription_options options;
    rf_subscription_options_init(&options);
    options.start_seq = 1 + byte(in) % 3;
    rf_subscription *subscription = NULL;
    if (expect(rf_subscription_create(w->runs[slot], &options, &subscription)) != RF_OK) return;
    rf_event event = {.struct_size = sizeof event};
    char json[256];
    size_t json_length;
    for (int i = 0; i < 10000; i++) {
        rf_status status = expect(rf_subscription_read(subscription, &event, 0));
        if (status == RF_OK) expect(rf_event_to_json(&event, json, sizeof json, &json_length));
        else if (status != RF_E_CORRUPT) break;
    }
    expect(rf_subscription_release(subscription));
}

static void control_run(world *w, input *in) {
    rf_run *run = w->runs[byte(in) % SLOTS];
    rf_run_status status = 0;
    const void *data;
    uint32_t length;
    rf_token_usage usage = {.struct_size = sizeof usage};
    rf_history_info info = {.struct_size = sizeof info};
    switch (byte(in) % 10) {
    case 0: expect(rf_run_start(run, "\"x\"", 3)); break;
    case 1: expect(rf_run_end(run, byte(in) % 17, "{}", 2)); break;
    case 2: expect(rf_run_cancel(run, byte(in) % 2 ? NULL : "fuzz")); break;
    case 3: expect(rf_run_wait(run, byte(in) % 3, &status)); break;
    case 4: expect(rf_run_get_result(run, &data, &length)); break;
    case 5: expect(rf_run_get_usage(run, &usage)); break;
    case 6: expect(rf_run_resume(run, "1", 1)); break;
    case 7: expect(rf_run_get_history_info(run, &info)); break;
    default: expect(rf_run_get_status(run, &status)); break;
    }
}

static void sink_op(world *w, input *in, int slot) {
    switch (byte(in) % 3) {
    case 0: {
        if (w->sink_live[slot]) return;
        rf_sink_options options;
        rf_sink_options_init(&options, sizeof options);
        options.struct_size = struct_size(in, sizeof options);
        options.flags = byte(in) % 3;
        options.kinds = byte(in) % 2 ? 0 : u32(in);
        options.max_failures = byte(in) % 4;
        options.retry_backoff_ms = 1;
        w->sink_modes[slot] = byte(in);
        if (expect(rf_engine_add_sink(w->engines[byte(in) % SLOTS], sink_take, &w->sink_modes[slot], NULL, &options,
                                      &w->sinks[slot])) == RF_OK) {
            w->sink_live[slot] = 1;
        }
        break;
    }
    case 1: {
        rf_sink_stats stats;
        memset(&stats, 0, sizeof stats);
        stats.struct_size = struct_size(in, sizeof stats);
        expect(rf_sink_get_stats(w->sinks[slot], &stats));
        break;
    }
    default:
        expect(rf_sink_release(w->sinks[slot], byte(in) % 20));
        w->sink_live[slot] = 0;
        break;
    }
}

static void take_task(world *w, input *in) {
    rf_step_ctx *ctx = NULL;
    if (expect(rf_engine_take_task(w->engines[byte(in) % SLOTS], 0, &ctx)) == RF_OK) {
        expect(rf_step_ctx_complete(ctx, byte(in) % 2 ? RF_OK : RF_E_SYSTEM, NULL));
    }
}

/* The process's threads before the first input (libFuzzer's own): any other thread is the
 * library's. Counted by tid, not by the names the library gives its threads (rf-worker,
 * rf-timer, rf-sinks): a thread just created has not named itself yet. */
enum { MAX_BASELINE = 64 };
static long baseline[MAX_BASELINE];
static int baseline_count = -1;

static int is_baseline(long tid) {
    for (int i = 0; i < baseline_count; i++)
        if (baseline[i] == tid) return 1;
    return 0;
}

/* Threads alive now that were not there before the first input. */
static int library_threads(void) {
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL) return 0;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        if (!is_baseline(atol(entry->d_name))) count++;
    }
    closedir(tasks);
    return count;
}

static void record_baseline(void) {
    DIR *tasks = opendir("/proc/self/task");
    baseline_count = 0;
    if (tasks == NULL) return;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL && baseline_count < MAX_BASELINE)
        if (entry->d_name[0] != '.') baseline[baseline_count++] = atol(entry->d_name);
    closedir(tasks);
}

/* With every handle released, every thread the library started stops: a thread that dropped
 * the last reference itself detaches and may still be on its way out, so wait for that, up to
 * 5 s, and only then return to libFuzzer, whose leak check would misreport what a thread still
 * exiting holds. A thread left running is a leak. */
static void expect_no_library_threads(void) {
    struct timespec pause = {0, 1000000};
    for (int i = 0; i < 5000 && library_threads() > 0; i++) nanosleep(&pause, NULL);
    int left = library_threads();
    if (left > 0) {
        fprintf(stderr, "%d library threads still running 5 s after every handle was released\n", left);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (baseline_count < 0) record_baseline();
    input in = {data, size, 0};
    world w;
    memset(&w, 0, sizeof w);
    /* A foreign pointer must be refused like any stale handle. */
    rf_run *foreign = (rf_run *)&w;
    for (int steps = 0; in.at < in.size && steps < 64; steps++) {
        uint8_t op = byte(&in);
        int slot = byte(&in) % SLOTS;
        switch (op % 12) {
        case 0: create_engine(&w, &in, slot); break;
        case 1: create_workflow(&w, &in, slot); break;
        case 2: create_run(&w, &in, slot); break;
        case 3: emit(&w, &in); break;
        case 4: subscribe(&w, &in, slot); break;
        case 5: read_some(&w, &in); break;
        case 6: control_run(&w, &in); break;
        case 7: take_task(&w, &in); break;
        case 8:  /* release, leaving the handle behind as a stale one */
            switch (byte(&in) % 4) {
            case 0: expect(rf_engine_release(w.engines[slot])); w.engine_live[slot] = 0; break;
            case 1: expect(rf_workflow_release(w.workflows[slot])); w.workflow_live[slot] = 0; break;
            case 2: expect(rf_run_release(w.runs[slot])); w.run_live[slot] = 0; break;
            default: expect(rf_subscription_release(w.subscriptions[slot])); w.subscription_live[slot] = 0; break;
            }
            break;
        case 9: expect(rf_run_start(foreign, NULL, 0)); break;
        case 10: {
            rf_engine_options options = {.struct_size = sizeof options};
            expect(rf_engine_get_options(w.engines[slot], &options));
            break;
        }
        case 11:
            switch (byte(&in) % 4) {
            case 0: sink_op(&w, &in, slot); break;
            case 1:  /* reopen a run of the history by a small id: written by an earlier input, or not */
                if (!w.run_live[slot] && expect(rf_engine_open_run(w.engines[byte(&in) % SLOTS], 1 + byte(&in) % 64, &w.runs[slot])) == RF_OK)
                    w.run_live[slot] = 1;
                break;
            case 2: forge_and_read(&w, &in, slot); break;
            default: rf_status_describe((rf_status)(int8_t)byte(&in)); break;
            }
            break;
        }
    }
    for (int i = 0; i < SLOTS; i++) {
        if (w.sink_live[i]) expect(rf_sink_release(w.sinks[i], 100));
        if (w.subscription_live[i]) expect(rf_subscription_release(w.subscriptions[i]));
        if (w.run_live[i]) expect(rf_run_release(w.runs[i]));
        if (w.workflow_live[i]) expect(rf_workflow_release(w.workflows[i]));
        if (w.engine_live[i]) expect(rf_engine_release(w.engines[i]));
    }
    expect_no_library_threads();
    if (history_path[0] != 0) {
        remove_tree(history_path);
        history_path[0] = 0;
    }
    return 0;
}

/*
 * rillflow.h — the public C API of Rillflow, a workflow engine that streams everything a
 * running workflow does (token deltas, step starts and ends, progress, state changes, waits
 * for human input, and how the run ended) to whoever is watching, live.
 *
 * This header is the single source of truth of the ABI of librillflow.so.1. Every function
 * below is a real exported symbol (no macros, no static inline functions), so that any
 * language with a C FFI can call all of it.
 *
 * ---------------------------------------------------------------------------------------
 * Conventions that hold for every function unless its own block says otherwise
 * ---------------------------------------------------------------------------------------
 *
 * Status codes. Functions return an rf_status: RF_OK (0) on success, a negative RF_E_* code
 * on failure. rf_status_name() gives the code's name, rf_status_describe() a sentence, and
 * rf_last_error() a message about the failed call itself (which argument, which limit).
 * On failure, out-parameters are left unchanged unless the function says otherwise.
 *
 * Handles. rf_engine, rf_workflow, rf_run, rf_subscription and rf_step_ctx are opaque. A handle is not an
 * address: a NULL, released, stale or foreign handle is detected and refused with
 * RF_E_INVALID_HANDLE; it never crashes the process. A handle of one type passed where
 * another type is expected is refused the same way.
 *
 * Options structs. Every options struct starts with `uint32_t struct_size`, which the
 * caller sets to sizeof(the struct) as its header declared it (the *_init functions that
 * take a struct_size argument do this: pass them sizeof the struct; a library never writes
 * more than the caller says its struct holds). A caller built against an older, smaller version gets defaults for
 * the fields it does not know. A struct_size of 0, or smaller than the struct's first
 * published version, is refused with RF_E_STRUCT_SIZE; so is a larger struct_size (a
 * newer header) whose bytes beyond the fields this library knows are not all zero. In
 * every options struct a field left at 0 means "the default".
 *
 * Threads. Unless a function's block says otherwise, any thread may call any function, at
 * any time, concurrently with any other call.
 *
 * fork(). A child process gets none of the library's threads, so the engines made before the
 * fork cannot run anything there. In the child every handle made before the fork is refused
 * with RF_E_INVALID_HANDLE (rf_last_error() says it was made before the fork), releases
 * included; what those handles held is never freed in the child (its memory and file
 * descriptors go when the child exits or execs). The child may make and use new engines; the
 * library's own locks are recovered even if another thread held them at the fork (what
 * libc and the Swift runtime allow after forking a multi-threaded process is up to them:
 * glibc allows allocation). The parent is unaffected. A fork from a step's callback gives a
 * child in which that step's context is refused too.
 *
 * Signals. The library's own threads (rf-worker, rf-timer, rf-sinks; see rf_engine) start with
 * every asynchronous signal blocked, whatever the mask of the thread whose call started them
 * (that thread has its own mask back before the call returns). A signal sent to the process
 * (SIGINT, SIGTERM, SIGCHLD, SIGUSR1, ...) is therefore delivered to one of the host's threads:
 * its handler runs there, and a host that blocks a signal in all its threads takes it with
 * sigwait() or a signalfd. Left open on the library's threads: the faults (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGTRAP, SIGSYS), SIGABRT, and SIGPROF, so that a profiler's timer samples
 * whatever runs. Callbacks called on those threads (steps, sinks, destructors) run with that
 * mask: a write to a closed pipe from one fails with EPIPE rather than ending the process; a
 * callback that changes the mask restores it before returning.
 *
 * Strings. Names, types, keys, topics and paths passed as `const char *` are NUL-terminated
 * UTF-8, copied during the call; one that is not valid UTF-8 is refused with
 * RF_E_INVALID_ARGUMENT ("... is not valid UTF-8"). Texts meant for people (error messages,
 * progress statuses, cancel reasons) are taken as they are, invalid sequences shown as U+FFFD.
 * The exceptions are rf_run_emit(), whose step_name and topic bytes are not checked, to keep
 * the emit path short, and reach readers exactly as given; and a subscription's topics, which
 * are compared with events' topics byte for byte.
 *
 * Integers are fixed width; enumerations are 32-bit integer typedefs with #define values.
 */
#ifndef RILLFLOW_H
#define RILLFLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define RF_API __attribute__((visibility("default")))
#else
#define RF_API
#endif

/* =======================================================================================
 * Version
 * ======================================================================================= */

/* The version of this header. The library's own version is rf_version(). The major
 * version is the ABI generation (the 1 of librillflow.so.1); minor versions only add. */
#define RF_VERSION_MAJOR 1
#define RF_VERSION_MINOR 4
#define RF_VERSION_PATCH 0
#define RF_VERSION_STRING "1.4.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, e.g. 10100 for 1.1.0. */
#define RF_VERSION_NUMBER (RF_VERSION_MAJOR * 10000 + RF_VERSION_MINOR * 100 + RF_VERSION_PATCH)

/* The library's version as RF_VERSION_NUMBER computes it. Compare it with the header's
 * RF_VERSION_NUMBER at run time: a library whose major version differs is not compatible,
 * one whose minor version is lower lacks functions this header declares.
 * Never fails. */
RF_API uint32_t rf_version(void);

/* The library's version as a string, e.g. "1.4.0". The pointer is static: valid for the
 * life of the process, never freed by the caller. Never fails. */
RF_API const char *rf_version_string(void);

/* =======================================================================================
 * Status codes and errors
 * ======================================================================================= */

typedef int32_t rf_status;

#define RF_OK                    0   /* success */
#define RF_E_INVALID_ARGUMENT  (-1)  /* a NULL pointer or a value out of its documented range */
#define RF_E_STRUCT_SIZE       (-2)  /* an options struct's struct_size is 0, too small, or
                                        larger with non-zero bytes this library does not know */
#define RF_E_INVALID_HANDLE    (-3)  /* NULL, released, stale, foreign or wrong-type handle */
#define RF_E_NO_MEMORY         (-4)  /* an allocation failed or a handle table is full */
#define RF_E_STATE             (-5)  /* the object is not in a state that allows the call */
#define RF_E_TIMEOUT           (-6)  /* the call's timeout expired first */
#define RF_E_AGAIN             (-7)  /* nothing is ready and the call was asked not to wait */
#define RF_E_CLOSED            (-8)  /* the object was released while the call waited on it */
#define RF_E_END_OF_STREAM     (-9)  /* the stream ended: every event has been read */
#define RF_E_TOO_LARGE         (-10) /* a payload exceeds the configured size limit */
#define RF_E_NOT_FOUND         (-11) /* a named thing (step, event type, key) does not exist */
#define RF_E_SEQ_UNAVAILABLE   (-12) /* a requested event seq is no longer retained */
#define RF_E_SYSTEM            (-13) /* the operating system refused (message has errno text) */
#define RF_E_INTERNAL          (-14) /* a bug in Rillflow: please report the message */
#define RF_E_CANCELLED         (-15) /* the step's run has ended (cancelled, timed out, failed or
                                        stopped by another step) or its try timed out: stop */
#define RF_E_CORRUPT           (-16) /* bytes of the durable history are damaged (the message
                                        names the file and offset); since 1.2 */

/* The name of a status code, e.g. "RF_E_INVALID_HANDLE" for RF_E_INVALID_HANDLE, or
 * "RF_UNKNOWN_STATUS" for a value this library does not define. The pointer is static:
 * valid for the life of the process. Never fails. */
RF_API const char *rf_status_name(rf_status status);

/* A one-sentence description of a status code, e.g. "the handle is NULL, released, stale,
 * foreign or of the wrong type". Static, like rf_status_name(). Never fails. */
RF_API const char *rf_status_describe(rf_status status);

/* The message of the most recent call on the calling thread that returned an error, e.g.
 * "rf_engine_create: options->struct_size is 0; set it to sizeof(rf_engine_options)".
 * "" if no call on this thread has failed yet. Successful calls do not change it (like
 * errno), so read it right after the failing call.
 * The pointer belongs to the library and stays valid, on the calling thread, until the next
 * call of an rf_ function on that thread. Never NULL. Never fails. */
RF_API const char *rf_last_error(void);

/* =======================================================================================
 * Engine
 * ======================================================================================= */

/* An engine owns worker threads, limits and defaults. Usually one per process.
 * The library's threads carry names a debugger, top -H or /proc/<pid>/task/<tid>/comm show:
 * rf-worker (callback steps), rf-timer (step and run timeouts, retry backoffs) and rf-sinks
 * (sinks and the durable history). They start with the first workflow run or sink and stop
 * once the engine and everything created from it have been released. */
typedef struct rf_engine rf_engine;

/* Engine options. Fields left at 0 take the default named beside them. */
typedef struct rf_engine_options {
    uint32_t struct_size;       /* sizeof(rf_engine_options) */
    uint32_t worker_threads;    /* threads that run callback steps; 0 = one per CPU core;
                                   at most 1024 */
    uint32_t log_capacity;      /* bytes of each run's in-memory event log; 0 = 2 MiB;
                                   rounded up to a power of two; 64 KiB to 1 GiB; must hold
                                   the largest event (max_event_bytes + 576 bytes) */
    uint32_t max_event_bytes;   /* largest data payload of one event; 0 = 1 MiB (1048576);
                                   1 KiB to 64 MiB (the engine's own events need up to 1 KiB;
                                   since 1.2, smaller values are RF_E_INVALID_ARGUMENT) */
    uint64_t history_bytes;     /* bytes of older events each run retains in memory beyond
                                   its log, for subscribers that start at an early seq;
                                   0 = 4 MiB; UINT64_MAX = keep everything */
    uint32_t emit_timeout_ms;   /* how long an emit waits for room in a full log before it
                                   fails with RF_E_TIMEOUT; 0 = wait without limit */
    uint32_t reserved0;         /* must be 0 */
    /* Since 1.1 (struct_size 40): */
    uint32_t sink_drain_timeout_ms; /* how long rf_engine_release() waits for the sinks to take
                                   what was emitted; 0 = 5000 */
    uint32_t reserved1;         /* must be 0 */
    /* Since 1.2 (struct_size 80): the durable history (see "Durable history" below). */
    const char *history_dir;    /* directory of the runs' durable history, created if missing
                                   (its parent must exist); NULL = no durable history. Only
                                   read during rf_engine_create(); rf_engine_get_options()
                                   returns the engine's own copy, valid until the engine and
                                   its runs are released */
    uint64_t history_max_bytes; /* retention: oldest segments are deleted while the history
                                   takes more than this; 0 = no limit */
    uint64_t history_max_age_ms; /* retention: segments not written for this long are deleted;
                                   0 = no limit */
    uint32_t history_segment_bytes; /* a new segment file starts when the next record would
                                   pass this size; 0 = 8 MiB; 65536 to 1 GiB */
    uint32_t history_fsync;     /* RF_HISTORY_FSYNC_*; 0 = RF_HISTORY_FSYNC_RUN_END */
    uint32_t history_flags;     /* RF_HISTORY_* flags, e.g. RF_HISTORY_READ_ONLY */
    uint32_t reserved2;         /* must be 0 */
} rf_engine_options;

/* The size of the first published rf_engine_options; smaller struct_size values are refused. */
#define RF_ENGINE_OPTIONS_SIZE_V1 32u

/* Zeroes the caller's struct of struct_size bytes (every field 0: the defaults) and sets its
 * struct_size; pass sizeof(rf_engine_options). Call it, then set the fields you care about.
 * Returns RF_OK; RF_E_INVALID_ARGUMENT if options is NULL; RF_E_STRUCT_SIZE if struct_size is
 * below RF_ENGINE_OPTIONS_SIZE_V1. */
RF_API rf_status rf_engine_options_init_v2(rf_engine_options *options, uint32_t struct_size);

/* The 1.0 form of rf_engine_options_init_v2(): fills only the struct as 1.0 declared it
 * (RF_ENGINE_OPTIONS_SIZE_V1 bytes, struct_size set to that), so a program built against 1.0
 * stays safe; fields added since are then ignored. New code calls the _v2 form.
 * Returns RF_OK, or RF_E_INVALID_ARGUMENT if options is NULL. */
RF_API rf_status rf_engine_options_init(rf_engine_options *options);

/* Creates an engine. options may be NULL for all defaults; it is only read during the call.
 * On success *out_engine is a new handle the caller owns and must pass to
 * rf_engine_release() once.
 * Returns RF_OK; RF_E_INVALID_ARGUMENT if out_engine is NULL or a field is out of range
 * (the message names the field; history_dir is at most 4095 bytes, and history_* fields need
 * history_dir); RF_E_STRUCT_SIZE for a bad options->struct_size; RF_E_NO_MEMORY if the handle
 * table is full. With history_dir: RF_E_STATE if another engine holds the directory;
 * RF_E_NOT_FOUND if a read-only one does not exist; RF_E_SYSTEM if it cannot be created,
 * listed or locked. */
RF_API rf_status rf_engine_create(const rf_engine_options *options, rf_engine **out_engine);

/* Copies the engine's effective options (defaults resolved: no field is 0 except
 * emit_timeout_ms when it waits without limit, the history_* fields of an engine without
 * history_dir, and history_max_* meaning "no limit") into *out_options. The caller sets
 * out_options->struct_size first; only that many bytes are written, so an older caller gets
 * the fields it knows. history_dir, when set, points into the engine: valid until the engine
 * is released.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if out_options is NULL;
 * RF_E_STRUCT_SIZE if out_options->struct_size is 0 or below RF_ENGINE_OPTIONS_SIZE_V1. */
RF_API rf_status rf_engine_get_options(rf_engine *engine, rf_engine_options *out_options);

/* Releases the caller's engine handle. The handle is invalid as soon as the call starts:
 * every later call with it, including a second release, returns RF_E_INVALID_HANDLE. Its sinks
 * first get every event emitted so far (waiting at most sink_drain_timeout_ms), then stop.
 * Workflows, runs and subscriptions created from the engine stay valid until they are released
 * themselves, and its worker threads run until the last of them is. Since nobody can take
 * host-run steps any more, a thread waiting in rf_engine_take_task() returns RF_E_CLOSED and
 * host-run invocations that wait, or come later, fail their step. Any thread but the engine's
 * sink thread.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_STATE when called on the engine's sink thread (from
 * a sink callback, which the release would wait for): the handle stays valid. */
RF_API rf_status rf_engine_release(rf_engine *engine);

/* =======================================================================================
 * Events
 *
 * Every event has a seq (per run: 1, 2, 3, ... dense and strictly increasing, in the order
 * subscribers see them), a kind, a wall-clock timestamp, the ids of the run that emitted it
 * and of that run's parent and root, the workflow's and step's names, an attempt number, a
 * topic (custom events), a token index (token deltas), and data bytes: UTF-8 JSON for every
 * kind but RF_EVENT_TOKEN, whose data is the raw text of the delta.
 *
 * Each run's stream ends with exactly one terminal event (RUN_COMPLETED, RUN_FAILED,
 * RUN_TIMED_OUT or RUN_CANCELLED), after every other event of the run; nothing can be
 * emitted after it (RF_E_STATE).
 * ======================================================================================= */

typedef uint32_t rf_event_kind;

/* Kinds, and the data each carries. Fields in braces are JSON object members. Events the
 * engine emits carry exactly these; a manual run's host supplies the data (it should keep to
 * the same shape, and it must be JSON: the library renders JSON, it never parses it).
 * The engine's own events are always written: where one would pass max_event_bytes (a long
 * step error) or, for the terminal kinds, 1 KiB (the room every log keeps so that a run can
 * always end), its strings are cut short, ending in U+2026, and a list keeps the members that
 * fit; the run's outcome (rf_run_get_result()) keeps the whole text. */
#define RF_EVENT_RUN_STARTED     1  /* {"trace_id": string|null, "parent_span_id": string|null,
                                        "input_bytes": n, "metadata": json (when given)} */
#define RF_EVENT_STEP_STARTED    2  /* {"input_bytes": n}; step_name and attempt are set */
#define RF_EVENT_TOKEN           3  /* the delta's UTF-8 text (not JSON); token_index is its
                                        position in the step's output */
#define RF_EVENT_CUSTOM          4  /* JSON the step wrote to the stream; topic names the stream */
#define RF_EVENT_PROGRESS        5  /* {"completed": n, "total": n, "index": n, "status": string,
                                        "output": json (optional)} */
#define RF_EVENT_STATE_CHANGED   6  /* {"key": string, "value": json} */
#define RF_EVENT_STEP_COMPLETED  7  /* {"duration_ns": n} */
#define RF_EVENT_STEP_RETRYING   8  /* {"error": string, "backoff_ns": n}; attempt = the failed one */
#define RF_EVENT_STEP_FAILED     9  /* {"error": string, "attempts": n} */
#define RF_EVENT_INPUT_REQUIRED 10  /* {"prompt": json}: the run waits for rf_run_resume() */
#define RF_EVENT_RUN_RESUMED    11  /* {"input_bytes": n} */
#define RF_EVENT_RUN_COMPLETED  12  /* terminal: {"result": json, "usage": {...}} */
#define RF_EVENT_RUN_FAILED     13  /* terminal: {"step": string, "error": string, "attempts": n,
                                        "elapsed_ns": n} */
#define RF_EVENT_RUN_TIMED_OUT  14  /* terminal: {"timeout_ns": n, "active_steps": [string]} */
#define RF_EVENT_RUN_CANCELLED  15  /* terminal: {"reason": string} or null */
#define RF_EVENT_LAGGED         16  /* per subscription only, never in the run's log: a lossy
                                        subscription skipped events: {"skipped": n,
                                        "first_seq": n, "last_seq": n}; seq is 0 */

/* The bit of a kind in a kind set (rf_subscription_options.kinds). */
#define RF_KIND_BIT(kind) (1u << (kind))

/* A read-only view of one event. Readers pass a struct whose struct_size they set; the
 * library fills every field. Strings are NUL-terminated and never NULL ("" when absent);
 * data is followed by a NUL byte not counted in data_len, so text and JSON can be used in
 * place. All pointers point into memory the subscription holds: they stay valid until the
 * next read, poll or release of the subscription that returned the event. */
typedef struct rf_event {
    uint32_t struct_size;        /* set by the caller: sizeof(rf_event) */
    rf_event_kind kind;          /* RF_EVENT_* */
    uint64_t seq;                /* 1, 2, 3, ... per run; 0 for RF_EVENT_LAGGED */
    int64_t timestamp_ns;        /* wall clock, nanoseconds since the Unix epoch, read as the
                                    event entered its run's log (after any wait for room); the
                                    same in every stream (a child run's events in its parent's
                                    too); for RF_EVENT_LAGGED, when the subscription made it */
    uint64_t run_id;             /* the run that emitted it (a child run for sub-workflows) */
    uint64_t parent_run_id;      /* that run's parent, 0 if none */
    uint64_t root_run_id;        /* the top-level run (equal to run_id for it) */
    const char *workflow_name;
    const char *step_name;       /* "" for run-level events */
    const char *topic;           /* custom events: the stream's name; otherwise "" */
    uint32_t attempt;            /* step events: 1 for the first try; otherwise 0 */
    uint32_t data_len;           /* bytes of data, not counting its trailing NUL */
    uint64_t token_index;        /* RF_EVENT_TOKEN: the delta's index; otherwise 0 */
    const char *data;            /* data_len bytes then NUL */
} rf_event;

#define RF_EVENT_SIZE_V1 96u

/* The name of an event kind as it appears in the JSON envelope, e.g. "token", "run_failed";
 * "unknown" for a value this library does not define. Static. Never fails. */
RF_API const char *rf_event_kind_name(rf_event_kind kind);

/* Renders an event as one JSON object, the envelope every binding and sink uses:
 *   {"seq":7,"kind":"token","timestamp_ns":...,"time":"2026-11-21T05:34:30.123456789Z",
 *    "run_id":1,"parent_run_id":null,"root_run_id":1,"workflow":"demo","step":"write",
 *    "topic":null,"attempt":1,"token_index":3,"data":"Hel"}
 * "data" is the event's JSON as is, a JSON string for token deltas, or null when empty; empty
 * step and topic are null. Writes at most `capacity` bytes including a terminating NUL into
 * `buffer` and sets *out_length to the JSON's length without the NUL.
 * Returns RF_OK; RF_E_TOO_LARGE if capacity is not enough (then *out_length is the length
 * needed, so call with capacity 0 and buffer NULL to measure); RF_E_INVALID_ARGUMENT if
 * event or out_length is NULL, buffer is NULL with capacity > 0, or the event's strings are
 * NULL; RF_E_STRUCT_SIZE for a bad event->struct_size. Any thread; does not touch the
 * subscription the event came from. */
RF_API rf_status rf_event_to_json(const rf_event *event, char *buffer, size_t capacity,
                                  size_t *out_length);

/* =======================================================================================
 * Runs
 * ======================================================================================= */

/* One execution: its status, its event log and its subscribers. */
typedef struct rf_run rf_run;

typedef uint32_t rf_run_status;
#define RF_RUN_PENDING    1  /* created, not started: subscribers can attach first */
#define RF_RUN_RUNNING    2
#define RF_RUN_SUSPENDED  3  /* waiting for human input */
#define RF_RUN_COMPLETED  4
#define RF_RUN_FAILED     5
#define RF_RUN_TIMED_OUT  6
#define RF_RUN_CANCELLED  7
#define RF_RUN_INTERRUPTED 8 /* since 1.2: reopened from a durable history that has no terminal
                                event (its process stopped before the run ended) */

typedef struct rf_run_options {
    uint32_t struct_size;        /* sizeof(rf_run_options) */
    uint32_t reserved0;          /* must be 0 */
    const char *trace_id;        /* tracing: 1 to 32 hex digits, carried on RUN_STARTED; NULL = none */
    const char *parent_span_id;  /* tracing: 1 to 16 hex digits; NULL = none */
    /* Since 1.1 (struct_size 48): */
    uint32_t step_budget;        /* workflow runs: step invocations (tries included) the run may
                                    start before it fails as a runaway; 0 = 10000; manual runs: 0 */
    uint32_t reserved1;          /* must be 0 */
    uint64_t timeout_ms;         /* workflow runs: the run ends with RUN_TIMED_OUT if it has not
                                    ended this long after rf_run_start(); 0 = no limit; manual
                                    runs: 0 */
    const char *metadata;        /* JSON text (NUL-terminated, not checked: the library never
                                    parses JSON) carried on RUN_STARTED as "metadata"; NULL = none;
                                    at most max_event_bytes - 1024 bytes. Copied. */
} rf_run_options;

#define RF_RUN_OPTIONS_SIZE_V1 24u

/* Zeroes the caller's struct of struct_size bytes (every field 0/NULL) and sets its
 * struct_size; pass sizeof(rf_run_options).
 * Returns RF_OK; RF_E_INVALID_ARGUMENT if options is NULL; RF_E_STRUCT_SIZE if struct_size is
 * below RF_RUN_OPTIONS_SIZE_V1. */
RF_API rf_status rf_run_options_init_v2(rf_run_options *options, uint32_t struct_size);

/* The 1.0 form of rf_run_options_init_v2(): fills only RF_RUN_OPTIONS_SIZE_V1 bytes and sets
 * struct_size to that (fields added since are then ignored). New code calls the _v2 form.
 * Returns RF_OK, or RF_E_INVALID_ARGUMENT if options is NULL. */
RF_API rf_status rf_run_options_init(rf_run_options *options);

/* Creates a manual run: a run without a workflow, whose events the host emits itself with
 * rf_run_emit() and which it ends with rf_run_end(). This is how code that runs its own steps
 * streams through Rillflow. The run starts pending; attach subscriptions, then rf_run_start().
 * workflow_name (at most 255 bytes, copied) names it on every event; options may be NULL.
 * On success *out_run is a new handle the caller owns and passes to rf_run_release() once.
 * Returns RF_OK; RF_E_INVALID_HANDLE for engine; RF_E_INVALID_ARGUMENT for a NULL
 * workflow_name or out_run, a name too long or not UTF-8, a trace id that is not hex of the
 * allowed length, metadata too long (over max_event_bytes - 1024), a non-zero reserved field,
 * or a step_budget or timeout_ms (workflow runs only); RF_E_STRUCT_SIZE; RF_E_NO_MEMORY. */
RF_API rf_status rf_run_create_manual(rf_engine *engine, const char *workflow_name,
                                      const rf_run_options *options, rf_run **out_run);

/* Starts a pending run and emits RUN_STARTED. input (input_len bytes, copied; NULL if 0) is
 * the run's input: a workflow run delivers it as the "start" event's payload to the steps that
 * accept "start"; a manual run only reports its size. A workflow run's timeout starts now.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if input is NULL and input_len
 * is not 0; RF_E_STATE if the run is not pending (a run starts once; a cancelled run never). */
RF_API rf_status rf_run_start(rf_run *run, const void *input, uint32_t input_len);

/* The run's id, unique in the process, carried as run_id on its events.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if out_id is NULL. */
RF_API rf_status rf_run_get_id(rf_run *run, uint64_t *out_id);

/* The run's current status (RF_RUN_*).
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if out_status is NULL. */
RF_API rf_status rf_run_get_status(rf_run *run, rf_run_status *out_status);

/* What a manual run's host emits. */
typedef struct rf_emit {
    uint32_t struct_size;        /* sizeof(rf_emit) */
    rf_event_kind kind;          /* any kind but RUN_STARTED, the terminal kinds and LAGGED */
    const char *step_name;       /* NULL or "" = none; at most 255 bytes */
    const char *topic;           /* custom events' stream name; NULL or "" = none; <= 255 bytes */
    const void *data;            /* data_len bytes (JSON, or text for RF_EVENT_TOKEN); NULL if 0 */
    uint32_t data_len;           /* at most the engine's max_event_bytes */
    uint32_t attempt;
    uint64_t token_index;
} rf_emit;

#define RF_EMIT_SIZE_V1 48u

/* Appends one event to a running (or suspended) manual run's stream. Everything is copied
 * before the call returns. Lock-free; any number of threads may emit into one run at once,
 * and each thread's events keep their order. When a non-lossy subscriber is a whole log
 * behind, the call waits for it (spin, yield, then sleep), up to the engine's
 * emit_timeout_ms. If out_seq is not NULL it receives the event's seq.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT for a NULL event, a kind not
 * allowed here, NULL data with data_len > 0, or a name over 255 bytes; RF_E_STRUCT_SIZE;
 * RF_E_TOO_LARGE if data_len exceeds max_event_bytes; RF_E_STATE if the run is pending or
 * has ended, or if it is a workflow run (its steps emit through rf_step_ctx); RF_E_TIMEOUT
 * if the log stayed full for emit_timeout_ms. */
RF_API rf_status rf_run_emit(rf_run *run, const rf_emit *event, uint64_t *out_seq);

/* Since 1.3. Appends count events, events[0 .. count - 1], to a running (or suspended) manual
 * run's stream, in order, in one call: the fast way to emit when the host has several events
 * at hand (a chunk of token deltas, the progress of many items). Set every element's
 * struct_size to sizeof(rf_emit): the first element's is also the array's stride (a multiple
 * of 8), and an element whose struct_size differs is refused. Each event is refused as
 * rf_run_emit() would refuse it, and all are checked before any is appended: if one is
 * refused, none is. They are then appended in pieces of consecutive seqs sharing one
 * timestamp: at most 32 events, as many as fit before the end of the log's buffer, and at
 * most a quarter of log_capacity (an event larger than that, or one that must start again at
 * the beginning of the buffer, is a piece of its own). Other threads' events may come between
 * two pieces. Each piece waits for room like rf_run_emit(), so a call may wait several times
 * emit_timeout_ms in all. Everything is copied before the call returns. Any thread may call it.
 * out_seqs: NULL, or an array of count entries that receives each appended event's seq.
 * out_emitted: NULL, or receives how many events were appended, on success (count) and on
 * every error: 0, unless the run ended or the log stayed full partway through, in which case
 * the first *out_emitted events are in the stream (and in out_seqs).
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if events is NULL, count is 0, or
 * an event is refused (the message names its index, as in "events[3]: ..."); RF_E_STRUCT_SIZE
 * for a bad events[0].struct_size or an element whose struct_size differs from it;
 * RF_E_TOO_LARGE if an event's data_len exceeds max_event_bytes; RF_E_STATE and RF_E_TIMEOUT
 * as for rf_run_emit(). */
RF_API rf_status rf_run_emit_batch(rf_run *run, const rf_emit *events, uint32_t count,
                                   uint64_t *out_seqs, uint32_t *out_emitted);

/* Ends a manual run with its terminal event: RF_EVENT_RUN_COMPLETED, _FAILED, _TIMED_OUT or
 * _CANCELLED, with data (JSON, data_len bytes; NULL if 0) as its data. A pending run can only
 * be cancelled. The log always keeps room for a terminal event with up to 1 KiB of data, so
 * such a call never waits, even while a subscriber is not reading; with more data it may wait
 * like rf_run_emit(). On any error the run is left as it was, so the call can be retried.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT for a kind that is not terminal
 * or NULL data with data_len > 0; RF_E_STATE if the run has already ended (or is pending and
 * kind is not RUN_CANCELLED), or if it is a workflow run (use rf_run_cancel()); RF_E_TOO_LARGE;
 * RF_E_TIMEOUT as for rf_run_emit(). */
RF_API rf_status rf_run_end(rf_run *run, rf_event_kind kind, const void *data, uint32_t data_len);

/* Waits until the run has ended or is suspended (waiting for input: see rf_run_resume()), at
 * most timeout_ms milliseconds (-1 = without limit, 0 = do not wait), and stores its status in
 * *out_status (if not NULL) in every case. Any number of threads may wait on one run. An ended
 * status is reported (here and by rf_run_get_status()) only once the terminal event is in the
 * run's log, and a suspended one once INPUT_REQUIRED is, so a subscription read after this
 * finds it; until then the status before is reported (asking never waits for that write).
 * Returns RF_OK when the run has ended or is suspended; RF_E_TIMEOUT (or RF_E_AGAIN for
 * timeout_ms 0) if it has not; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT for a timeout_ms
 * below -1. A step that waits without limit on its own run waits until the run times out or
 * is cancelled: the run cannot end while that step runs. */
RF_API rf_status rf_run_wait(rf_run *run, int32_t timeout_ms, rf_run_status *out_status);

/* The result of a completed run: the bytes a step passed to rf_step_ctx_stop() (for a manual
 * run, the data given to rf_run_end() with RF_EVENT_RUN_COMPLETED). *out_data points to
 * *out_len bytes followed by a NUL byte (not counted); the memory belongs to the run and stays
 * valid until rf_run_release().
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if out_data or out_len is NULL;
 * RF_E_STATE if the run has not ended, or ended without completing: then rf_last_error() says
 * how it ended and why (the failing step and its error, the timeout and the steps still
 * active, or the cancel reason). */
RF_API rf_status rf_run_get_result(rf_run *run, const void **out_data, uint32_t *out_len);

/* Token usage, as steps report it (rf_step_ctx_report_usage()) and runs sum it. */
typedef struct rf_token_usage {
    uint32_t struct_size;          /* sizeof(rf_token_usage) */
    uint32_t reserved0;            /* must be 0 */
    uint64_t input_tokens;
    uint64_t output_tokens;
    uint64_t total_tokens;
    uint64_t reasoning_tokens;
    uint64_t cached_input_tokens;
} rf_token_usage;

#define RF_TOKEN_USAGE_SIZE_V1 48u

/* The token usage the run's steps have reported so far, summed (RUN_COMPLETED carries the
 * final totals as "usage"). The caller sets out_usage->struct_size first. A manual run reports
 * zeros. A run reopened from the durable history (rf_engine_open_run()) reports the totals
 * its RUN_COMPLETED event recorded; zeros if it ended otherwise (the other terminal events do
 * not record usage).
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if out_usage is NULL;
 * RF_E_STRUCT_SIZE. */
RF_API rf_status rf_run_get_usage(rf_run *run, rf_token_usage *out_usage);

/* Cancels a run that has not ended: RUN_CANCELLED with data {"reason": reason} ends its stream.
 * A workflow run starts no more steps and drops retries that wait; running steps see
 * RF_E_CANCELLED from rf_step_ctx_check_cancelled() and whatever they send afterwards is
 * ignored; its sub-workflows are cancelled too. reason (NULL = "cancelled", at most 255 bytes)
 * is copied. A pending run can be cancelled (it then never starts).
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT for a reason over 255 bytes;
 * RF_E_STATE if the run has already ended. */
RF_API rf_status rf_run_cancel(rf_run *run, const char *reason);

/* Continues a run suspended for human input (a step called rf_step_ctx_request_input()):
 * emits RUN_RESUMED, then delivers answer (answer_len bytes, copied; NULL if 0) as an event of
 * the type that step named, to the steps that accept it.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if answer is NULL and answer_len is
 * not 0; RF_E_STATE if the run is not waiting for input (not suspended, ended, already resumed,
 * or a manual run). */
RF_API rf_status rf_run_resume(rf_run *run, const void *answer, uint32_t answer_len);

/* Releases the caller's run handle. A run that has not ended is cancelled first
 * (RUN_CANCELLED with data {"reason":"released"}), so its subscribers reach the end of the
 * stream; this never waits (see rf_run_end()). A workflow run's steps that are still running
 * finish on their threads (their contexts stay valid until they return) but change nothing.
 * Subscriptions stay readable after the run handle is released. Pointers from
 * rf_run_get_result() become invalid.
 * Returns RF_OK or RF_E_INVALID_HANDLE. */
RF_API rf_status rf_run_release(rf_run *run);

/* =======================================================================================
 * Subscriptions
 *
 * A subscription is a cursor over one run's events with its own filter, start position,
 * policy for falling behind, and file descriptor. Any number may read one run at once, each
 * at its own pace; none sees another's reads.
 *
 * Threads: one thread at a time reads a subscription (rf_subscription_read, _read_batch,
 * _poll); a read that overlaps another on the same subscription fails with RF_E_STATE.
 * rf_subscription_fd() and rf_subscription_release() may be called from any thread, and a
 * release wakes a thread blocked in a read on it, which returns RF_E_CLOSED.
 *
 * Backpressure: a non-lossy subscription (the default) never misses an event: producers
 * wait when it is a whole log behind. A lossy one (RF_SUBSCRIBE_LOSSY) is moved forward
 * instead, and its next read first returns one RF_EVENT_LAGGED event with the exact count of
 * events skipped: the seqs first_seq to last_seq of the run's log, whatever their kind (its
 * filter did not see them), never one before its start seq. Usually a read returns the LAGGED
 * event together with the next event its filter passes; a read that was already waiting may
 * also return it alone, as soon as it notices the skip.
 * ======================================================================================= */

typedef struct rf_subscription rf_subscription;

/* Stream modes: named filters over kinds. Terminal and lagged events always pass. */
typedef uint32_t rf_stream_mode;
#define RF_STREAM_TOKENS    0  /* everything, token deltas included */
#define RF_STREAM_MESSAGES  1  /* everything but token deltas */
#define RF_STREAM_UPDATES   2  /* step completions, state changes, input required */
#define RF_STREAM_VALUES    3  /* state changes */
#define RF_STREAM_CUSTOM    4  /* the kinds in `kinds`, custom events only on `topics` */

#define RF_SUBSCRIBE_LOSSY  1u /* flags: skip ahead (with a LAGGED event) instead of making
                                   producers wait */
#define RF_SUBSCRIBE_END_AT_SUSPENSION 2u /* flags: the stream ends (RF_E_END_OF_STREAM) after
                                   the first INPUT_REQUIRED event, when the run waits for a
                                   human; without it the stream stays open until the run ends.
                                   A lossy subscription skipped past that event ends after the
                                   LAGGED event, whose count then stops at it */

typedef struct rf_subscription_options {
    uint32_t struct_size;        /* sizeof(rf_subscription_options) */
    rf_stream_mode mode;         /* RF_STREAM_*; 0 = RF_STREAM_TOKENS */
    uint32_t kinds;              /* RF_STREAM_CUSTOM only: RF_KIND_BIT(RF_EVENT_...) | ...;
                                    0 = every kind */
    uint32_t flags;              /* RF_SUBSCRIBE_* */
    uint64_t start_seq;          /* 0 = the live tail (events emitted from now on);
                                    1 = from the first event; n = from seq n */
    const char *const *topics;   /* RF_STREAM_CUSTOM only: custom events pass only if their
                                    topic is one of these; NULL = every topic. Copied. */
    uint32_t topic_count;        /* entries in topics */
    uint32_t reserved0;          /* must be 0 */
} rf_subscription_options;

#define RF_SUBSCRIPTION_OPTIONS_SIZE_V1 40u

/* Fills *options with struct_size = sizeof(rf_subscription_options) and every other field 0:
 * every event, from the live tail, non-lossy.
 * Returns RF_OK, or RF_E_INVALID_ARGUMENT if options is NULL. */
RF_API rf_status rf_subscription_options_init(rf_subscription_options *options);

/* Subscribes to a run. options may be NULL (every event from the live tail, non-lossy).
 * Events still in the run's log are replayed from it; older ones come from the run's
 * retained history (history_bytes), and older still from the durable history when the engine
 * has one (see "Durable history"); the splice into live events has no gap and no duplicate.
 * A start_seq past the last event delivers from that seq on, when it comes. The subscription
 * keeps the run's events readable even after the run handle is released.
 * On success *out_subscription is a new handle the caller owns and passes to
 * rf_subscription_release() once.
 * Returns RF_OK; RF_E_INVALID_HANDLE for run; RF_E_INVALID_ARGUMENT for a NULL
 * out_subscription, an unknown mode, kind bit or flag, topics NULL with topic_count > 0, a
 * NULL or over-long topic, or reserved0 not 0; RF_E_STRUCT_SIZE; RF_E_SEQ_UNAVAILABLE if
 * start_seq is older than the oldest event still retained (the message says which is);
 * RF_E_SYSTEM if a durable history file cannot be opened; RF_E_NO_MEMORY if the handle table
 * is full. */
RF_API rf_status rf_subscription_create(rf_run *run, const rf_subscription_options *options,
                                        rf_subscription **out_subscription);

/* Reads the next event that passes the subscription's filter into *out_event (whose
 * struct_size the caller sets). timeout_ms: 0 = do not wait, -1 = wait without limit, n > 0 =
 * wait at most n milliseconds. The event's pointers are valid until the next read, poll or
 * release of this subscription. A read that waits keeps looking for up to 20 microseconds
 * (yielding the CPU between looks) while events have lately come faster than that, so a
 * consumer of a burst costs its producers no wake-up; otherwise it sleeps in the kernel at once.
 * Before it waits it may copy up to 64 KiB of the events it has read into the run's retained
 * history (a few microseconds), work a producer would otherwise do when it needs their space.
 * Returns RF_OK; RF_E_AGAIN (timeout 0, nothing ready); RF_E_TIMEOUT; RF_E_END_OF_STREAM
 * after the terminal event has been read (or at once for a subscription that starts after it:
 * at the live tail of an ended run, or from a later seq); RF_E_CLOSED if the subscription was released while waiting;
 * RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT for a NULL out_event or a timeout below -1;
 * RF_E_STRUCT_SIZE; RF_E_STATE if another read on it is in progress; while reading from the
 * durable history, RF_E_CORRUPT once per damaged record (the next read goes on after it) and
 * RF_E_SEQ_UNAVAILABLE if events it needs were deleted by retention or could not be written
 * (once per gap between events still on disk, the next read going on after it),
 * RF_E_SYSTEM if a segment file cannot be opened or mapped (the message has the errno text);
 * while replaying the run's retained history, RF_E_NO_MEMORY once if memory ran out and events
 * it had not read were dropped from it (the message names them; the next read goes on after
 * them). */
RF_API rf_status rf_subscription_read(rf_subscription *subscription, rf_event *out_event,
                                      int32_t timeout_ms);

/* Reads up to `capacity` events in one call into events[0 .. *out_count - 1]: the way to
 * read fast. Set events[0].struct_size; every element has that size. Waits like
 * rf_subscription_read() for the first event only, then takes what is ready.
 * Returns what rf_subscription_read() returns (RF_OK with *out_count >= 1), and
 * RF_E_INVALID_ARGUMENT if events or out_count is NULL or capacity is 0. On any error
 * *out_count is 0. */
RF_API rf_status rf_subscription_read_batch(rf_subscription *subscription, rf_event *events,
                                            uint32_t capacity, int32_t timeout_ms,
                                            uint32_t *out_count);

/* One event as rf_subscription_read_packed() writes it: this header, then its workflow name,
 * step name, topic and data bytes, in that order, with no NULs between them; the next event
 * starts `size` bytes after this one (8-byte aligned). */
typedef struct rf_packed_event {
    uint32_t size;               /* bytes of this entry: header, names and data, padded to 8 */
    rf_event_kind kind;
    uint64_t seq;
    int64_t timestamp_ns;
    uint64_t run_id;
    uint64_t parent_run_id;
    uint64_t root_run_id;
    uint64_t token_index;
    uint32_t attempt;
    uint32_t data_len;
    uint16_t workflow_len;
    uint16_t step_len;
    uint16_t topic_len;
    uint16_t reserved0;
} rf_packed_event;

/* The largest entry rf_subscription_read_packed() can write for an engine whose
 * max_event_bytes is `max_event_bytes`: a packed buffer must be at least this big. */
#define RF_PACKED_EVENT_MAX_SIZE(max_event_bytes) \
    ((uint32_t)sizeof(rf_packed_event) + 3u * 255u + (uint32_t)(max_event_bytes) + 7u)

/* Reads the ready events that fit into `buffer` (capacity bytes) as packed entries
 * (rf_packed_event): the way for a binding that copies every event out (Python, Java) to make
 * one copy per batch instead of one per string. Nothing points into the subscription: the
 * entries stay valid as long as the caller keeps the buffer. Waits like rf_subscription_read()
 * for the first event only. *out_count gets the number of events, *out_bytes the bytes used.
 * Returns what rf_subscription_read() returns (RF_OK with *out_count >= 1); RF_E_TOO_LARGE if
 * capacity is below RF_PACKED_EVENT_MAX_SIZE(the engine's max_event_bytes, or, for a run
 * reopened from a history an engine with a larger limit wrote, its largest event's data size):
 * then *out_bytes is that size (call with buffer NULL and capacity 0 to learn it); it is the
 * same for every read of the subscription; RF_E_INVALID_ARGUMENT if
 * out_count or out_bytes is NULL, or buffer is NULL with capacity > 0. On every error but
 * RF_E_TOO_LARGE, *out_count and *out_bytes (those not NULL) are 0. */
RF_API rf_status rf_subscription_read_packed(rf_subscription *subscription, void *buffer, uint32_t capacity,
                                             int32_t timeout_ms, uint32_t *out_count, uint32_t *out_bytes);

/* Called by rf_subscription_poll() once per event, on the polling thread. The event is valid
 * during the call only. Return 0 to go on, anything else to stop after this event. It must
 * not read the same subscription (that returns RF_E_STATE). */
typedef int32_t (*rf_event_handler)(void *user_data, const rf_event *event);

/* Hands up to `limit` ready events to handler(user_data, event), without waiting, like
 * Aeron's poll(handler, limit). *out_count (if not NULL) receives how many were handled.
 * Returns RF_OK (also when no event was ready: *out_count is 0); RF_E_END_OF_STREAM;
 * RF_E_CLOSED; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if handler is NULL or limit 0;
 * RF_E_STATE if another read on it is in progress; RF_E_CORRUPT, RF_E_SEQ_UNAVAILABLE,
 * RF_E_NO_MEMORY and RF_E_SYSTEM as rf_subscription_read() does while it replays history. */
RF_API rf_status rf_subscription_poll(rf_subscription *subscription, rf_event_handler handler,
                                      void *user_data, uint32_t limit, uint32_t *out_count);

/* A file descriptor that is readable while a read would not block (events are ready, the
 * stream has ended, or the subscription was released), for epoll, poll, libuv or asyncio's
 * loop.add_reader(). Read the subscription with timeout 0 until RF_E_AGAIN, then wait on the
 * fd again; never read() the fd yourself. The same fd is returned every time; it belongs to
 * the subscription and is closed when the subscription is released: remove it from your
 * poller first. Waking it costs producers nothing while the consumer is busy reading.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if out_fd is NULL;
 * RF_E_SYSTEM if the descriptor cannot be created. */
RF_API rf_status rf_subscription_fd(rf_subscription *subscription, int32_t *out_fd);

/* Releases the caller's subscription handle. A thread blocked reading it wakes with
 * RF_E_CLOSED; its producers stop waiting for it; its fd is closed once no read is using it.
 * Pointers from its reads become invalid.
 * Returns RF_OK or RF_E_INVALID_HANDLE. */
RF_API rf_status rf_subscription_release(rf_subscription *subscription);

/* =======================================================================================
 * Workflows
 *
 * A workflow is a named set of steps. Steps accept named event types and send named events;
 * the built-in "start" event carries a run's input to the steps that accept it, and sending
 * "stop" (rf_step_ctx_stop()) ends the run with a result. That one model gives chains,
 * branches (send one of several types), loops (send a type an earlier step accepts), fan-out
 * (send many events; the accepting step runs up to its concurrency limit at once), fan-in
 * (collect N events into one invocation) and foreach (one invocation per item of a list, with
 * a PROGRESS event per item, then the outputs together, in item order, to the next step).
 *
 * Events a step sends, the stop, a question for a human and a sub-workflow take effect when the
 * step completes, right after its STEP_COMPLETED: the stream reads step by step, and a failed
 * try changes nothing (its retry starts clean). Token, custom, progress and state events are
 * written at once.
 *
 * Build a workflow with rf_workflow_create(), rf_workflow_add_step() for each step and
 * rf_workflow_build(); then create runs of it with rf_run_create(). A built workflow is frozen
 * and may run any number of times, concurrently.
 * ======================================================================================= */

typedef struct rf_workflow rf_workflow;
typedef struct rf_step_ctx rf_step_ctx;

/* A step's code. Called on one of the engine's worker threads with the step's user_data and
 * a context that is valid until the step ends. Return:
 *   RF_OK            the step completed (what it sent now takes effect);
 *   RF_STEP_PENDING  the step goes on elsewhere: it ends when some thread calls
 *                    rf_step_ctx_complete(ctx, ...), which must happen exactly once;
 *   a negative rf_status: the try failed. The error is the message given to
 *                    rf_step_ctx_set_error(), or else "the step returned <status name>". It is
 *                    retried if its retry policy allows (STEP_RETRYING), or else it fails
 *                    (STEP_FAILED, then RUN_FAILED with the step, error, tries and time).
 * Any other value fails the try. The callback may block (an LLM call) and may call any rf_
 * function, but a long one should check rf_step_ctx_check_cancelled() now and then. */
typedef rf_status (*rf_step_fn)(void *user_data, rf_step_ctx *ctx);

#define RF_STEP_PENDING 1

/* Frees a step's user_data. Called once, on any thread, when the workflow has been released
 * and no run uses the step any more. */
typedef void (*rf_destructor)(void *user_data);

#define RF_STEP_HOST_RUN 1u  /* rf_step_options.flags: the host runs the step (see "Host-run
                                steps" below); its fn must be NULL */

typedef struct rf_step_options {
    uint32_t struct_size;               /* sizeof(rf_step_options) */
    uint32_t flags;                     /* RF_STEP_* */
    uint32_t concurrency;               /* invocations of this step that may run at once, per
                                           run; 0 = no limit */
    uint32_t collect;                   /* fan-in: events of an accepted type gathered into one
                                           invocation (its inputs, in arrival order); 0 = 1. A
                                           list (rf_step_ctx_send_each) counts as its items, and
                                           what is left over waits for the next invocation */
    const char *foreach_done;           /* foreach: each event this step accepts carries a list
                                           (sent with rf_step_ctx_send_each()); the step runs once
                                           per item, each item's try is followed by a PROGRESS
                                           event, and when all are done their outputs
                                           (rf_step_ctx_set_output()) are sent together, in
                                           item order, as one event of this type, which the step
                                           must list in its sends. NULL = not a foreach step */
    uint32_t timeout_ms;                /* longest a try may take before it fails (and may be
                                           retried); 0 = no limit */
    uint32_t retry_attempts;            /* tries in all; 0 or 1 = no retry; at most 1000 */
    uint32_t retry_initial_backoff_ms;  /* wait before the second try */
    uint32_t retry_max_backoff_ms;      /* longest wait between tries; 0 = no cap (a wait is
                                           still never over about 292 years) */
    double retry_multiplier;            /* each wait is the previous one times this; 0 = 2.0;
                                           1 to 100 */
    double retry_jitter;                /* 0 to 1: the fraction of each wait randomized, so many
                                           runs' retries spread out; 0 = none */
} rf_step_options;

#define RF_STEP_OPTIONS_SIZE_V1 56u

/* Zeroes the caller's struct of struct_size bytes (pass sizeof(rf_step_options)) and sets its
 * struct_size: no concurrency limit, no fan-in, no foreach, no timeout, no retry.
 * Returns RF_OK; RF_E_INVALID_ARGUMENT if options is NULL; RF_E_STRUCT_SIZE if struct_size is
 * below RF_STEP_OPTIONS_SIZE_V1. */
RF_API rf_status rf_step_options_init(rf_step_options *options, uint32_t struct_size);

/* Creates an empty workflow named `name` (1 to 255 bytes, copied; the workflow_name of its
 * runs' events). On success *out_workflow is a new handle the caller owns and passes to
 * rf_workflow_release() once.
 * Returns RF_OK; RF_E_INVALID_HANDLE for engine; RF_E_INVALID_ARGUMENT for a NULL
 * out_workflow or a NULL, empty or over-long name; RF_E_NO_MEMORY. */
RF_API rf_status rf_workflow_create(rf_engine *engine, const char *name, rf_workflow **out_workflow);

/* Adds a step to a workflow that is not built yet.
 *   name     1 to 255 bytes, unique in the workflow; copied.
 *   accepts  the event types that start it, comma-separated ("start", "draft,revise"); spaces
 *            around names are ignored; names are 1 to 255 bytes. Copied.
 *   sends    the event types it may send, the same way, "stop" among them if it ends the run
 *            with a result; NULL or "" = none. A step can only send, ask for an answer of, or
 *            receive a sub-workflow's result as, a type listed here.
 *   fn       its code, called with user_data; NULL only with RF_STEP_HOST_RUN.
 *   destroy  NULL, or called with user_data once nothing uses the step any more.
 *   options  NULL for the defaults; read during the call only.
 * Ownership of user_data passes to the workflow only when the call succeeds: on an error
 * destroy is not called.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT for a NULL name or accepts, an
 * empty or over-long name, a duplicate step name, fn NULL without RF_STEP_HOST_RUN or not NULL
 * with it, unknown flags, foreach_done not among sends, foreach with collect, or retry values out
 * of range (the message names the step and the field); RF_E_STRUCT_SIZE; RF_E_STATE if the
 * workflow is already built; RF_E_SYSTEM if a host-run step's task queue (the engine's
 * threads, started by the first one) cannot be set up. */
RF_API rf_status rf_workflow_add_step(rf_workflow *workflow, const char *name, const char *accepts,
                                      const char *sends, rf_step_fn fn, void *user_data,
                                      rf_destructor destroy, const rf_step_options *options);

/* Checks the workflow and freezes it. Each problem has its own message: a workflow with no
 * steps, an event type a step sends that no step accepts, an unknown event type (accepted but
 * never sent), a step that no path of events from "start" reaches, no step accepting "start",
 * no step sending "stop". A workflow that fails to build can be fixed with more steps and built
 * again.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT with the problem in
 * rf_last_error(); RF_E_STATE if it is already built. */
RF_API rf_status rf_workflow_build(rf_workflow *workflow);

/* Releases the caller's workflow handle. Runs already created from it go on; the steps'
 * destructors run once the last of them is released.
 * Returns RF_OK or RF_E_INVALID_HANDLE. */
RF_API rf_status rf_workflow_release(rf_workflow *workflow);

/* Creates a pending run of a built workflow: attach subscriptions, then rf_run_start() with the
 * input. options may be NULL (no timeout, a budget of 10000 steps, no trace, no metadata).
 * On success *out_run is a new handle the caller owns and passes to rf_run_release() once.
 * Returns RF_OK; RF_E_INVALID_HANDLE for workflow; RF_E_INVALID_ARGUMENT for a NULL out_run, a
 * trace id that is not hex of the allowed length, metadata too long, a non-zero reserved field,
 * or a timeout_ms past what the engine's clock can hold; RF_E_STRUCT_SIZE;
 * RF_E_STATE if the workflow is not built; RF_E_SYSTEM if the engine's threads cannot be
 * started (the first run starts them); RF_E_NO_MEMORY. */
RF_API rf_status rf_run_create(rf_workflow *workflow, const rf_run_options *options, rf_run **out_run);

/* =======================================================================================
 * Inside a step: rf_step_ctx
 *
 * A step's context is valid from the moment its code gets it until its code lets go of it:
 * its callback returns (RF_OK or an error), or rf_step_ctx_complete() ends a pending or
 * host-run step. After that every call with it returns RF_E_INVALID_HANDLE. Any thread may
 * use a valid context, concurrently.
 *
 * A try that outlives its step's timeout_ms ends there (it fails, and may be retried), but
 * its context stays valid, with its info and input, until its code lets go as above: a
 * callback still running or a host still working is never left holding freed memory. From
 * then on its calls change nothing: they return RF_E_CANCELLED, except rf_step_ctx_get_info()
 * and rf_step_ctx_input() (which keep working) and rf_step_ctx_complete() (RF_OK, ignored).
 * A pending or host-run step must therefore still be completed after its timeout.
 *
 * Every function here returns RF_E_INVALID_HANDLE for a context that is not valid,
 * RF_E_CANCELLED as above, and RF_E_INVALID_ARGUMENT for a NULL pointer where a value is
 * required (or NULL data with a non-zero length); the others each function names.
 * ======================================================================================= */

/* What a step invocation is. */
typedef struct rf_step_info {
    uint32_t struct_size;        /* set by the caller: sizeof(rf_step_info) */
    uint32_t attempt;            /* 1 for the first try */
    uint64_t run_id;             /* the run it belongs to */
    const char *workflow_name;
    const char *step_name;
    const char *event_type;      /* the event type that started it ("start" for the first step) */
    uint32_t input_count;        /* inputs (rf_step_ctx_input()): 1, or collect for a fan-in
                                    step, or the items' count for the step after a foreach */
    uint32_t input_len;          /* bytes of the first input (0 if there is none) */
    void *user_data;             /* the step's user_data (host-run steps: to find their code) */
    const void *input;           /* the first input, as rf_step_ctx_input(ctx, 0, ...) gives it
                                    (saves a call for the common one-input step) */
} rf_step_info;

#define RF_STEP_INFO_SIZE_V1 64u

/* Fills *out_info (whose struct_size the caller sets). Its strings and input stay valid while
 * the context is (also after the try has timed out, until its code lets go: see above).
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT; RF_E_STRUCT_SIZE. */
RF_API rf_status rf_step_ctx_get_info(rf_step_ctx *ctx, rf_step_info *out_info);

/* Input number `index` (0-based, below input_count): the payload of the event that started the
 * step (the run's input for "start"). *out_data points to *out_len bytes followed by a NUL byte
 * (not counted), valid while the context is.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT; RF_E_NOT_FOUND if index >=
 * input_count. */
RF_API rf_status rf_step_ctx_input(rf_step_ctx *ctx, uint32_t index, const void **out_data,
                                   uint32_t *out_len);

/* Streams a token delta: a TOKEN event with text (len bytes of UTF-8, copied) and its index in
 * the step's output (0, 1, 2, ... as the caller counts them).
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT; RF_E_TOO_LARGE (over
 * max_event_bytes); RF_E_STATE if the run has ended; RF_E_TIMEOUT as for rf_run_emit(). */
RF_API rf_status rf_step_ctx_emit_token(rf_step_ctx *ctx, const char *text, uint32_t len,
                                        uint64_t token_index);

/* Writes a CUSTOM event on the named stream `topic` (1 to 255 bytes) with json (len bytes of
 * JSON, copied, not checked), like LlamaIndex's write_event_to_stream or a Mistral topic.
 * Returns what rf_step_ctx_emit_token() returns, and RF_E_INVALID_ARGUMENT for an empty or
 * over-long topic. */
RF_API rf_status rf_step_ctx_emit_custom(rf_step_ctx *ctx, const char *topic, const void *json,
                                         uint32_t len);

/* Reports the step's own progress: a PROGRESS event {"completed": completed, "total": total,
 * "status": status}. status (NULL = "running", at most 255 bytes) is copied.
 * Returns what rf_step_ctx_emit_token() returns, and RF_E_INVALID_ARGUMENT for an over-long
 * status or completed > total. */
RF_API rf_status rf_step_ctx_emit_progress(rf_step_ctx *ctx, uint64_t completed, uint64_t total,
                                           const char *status);

/* Sends an event of `event_type`, carrying data (len bytes, copied), to the steps that accept
 * it, when this step completes. Each call sends one event; call it many times to fan out.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if the step did not list
 * event_type in its sends; RF_E_STATE for a second "stop". */
RF_API rf_status rf_step_ctx_send(rf_step_ctx *ctx, const char *event_type, const void *data,
                                  uint32_t len);

/* Sends a list of `count` items (items[i] is item_lens[i] bytes; all copied) as one event of
 * `event_type`, when this step completes: a foreach step that accepts it runs once per item.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT (also for "stop", a count of 0,
 * items or item_lens NULL, or an items[i] NULL with a non-zero length). */
RF_API rf_status rf_step_ctx_send_each(rf_step_ctx *ctx, const char *event_type,
                                       const void *const *items, const uint32_t *item_lens,
                                       uint32_t count);

/* Sets this invocation's output (JSON, len bytes, copied): for a foreach item, what its PROGRESS
 * event shows as "output" and what goes on, in item order, when every item is done.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT. */
RF_API rf_status rf_step_ctx_set_output(rf_step_ctx *ctx, const void *json, uint32_t len);

/* Ends the run with `result` (JSON, len bytes, copied) when this step completes: RUN_COMPLETED
 * carries it with the run's usage, and rf_run_get_result() returns it. The step must list
 * "stop" in its sends.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if "stop" is not among its sends;
 * RF_E_STATE if it already stopped the run. */
RF_API rf_status rf_step_ctx_stop(rf_step_ctx *ctx, const void *result, uint32_t len);

/* Sets `key` (1 to 255 bytes) of the run's state to a JSON value (len bytes, copied) and emits
 * STATE_CHANGED {"key": key, "value": value} at once (an empty value shows as null there).
 * Every step of the run sees it. If the event cannot be written, the state is left as it was.
 * Returns what rf_step_ctx_emit_token() returns; RF_E_INVALID_ARGUMENT also for a NULL, empty,
 * over-long or non-UTF-8 key. */
RF_API rf_status rf_step_ctx_set_state(rf_step_ctx *ctx, const char *key, const void *json,
                                       uint32_t len);

/* Copies the JSON value of `key` of the run's state into buffer (capacity bytes) and sets
 * *out_len to its length; a NUL is added when it fits (capacity > *out_len). To measure, pass
 * buffer NULL and capacity 0.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT (buffer NULL with capacity > 0,
 * out_len NULL, or a NULL, empty, over-long or non-UTF-8 key); RF_E_NOT_FOUND if the key was
 * never set; RF_E_TOO_LARGE if capacity < *out_len (then
 * *out_len is the length needed and nothing is copied). */
RF_API rf_status rf_step_ctx_get_state(rf_step_ctx *ctx, const char *key, void *buffer,
                                       uint32_t capacity, uint32_t *out_len);

/* Adds an LLM call's token counts (struct_size set by the caller) to the run's totals.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT; RF_E_STRUCT_SIZE. */
RF_API rf_status rf_step_ctx_report_usage(rf_step_ctx *ctx, const rf_token_usage *usage);

/* Whether the step should stop working: RF_OK while it should go on; RF_E_CANCELLED once its
 * run has ended (cancelled, timed out, failed, or stopped by another step) or its try has
 * outlived its timeout (then its other calls return RF_E_CANCELLED too: return, or complete
 * the step, to let go of the context). */
RF_API rf_status rf_step_ctx_check_cancelled(rf_step_ctx *ctx);

/* Asks a human for input, when this step completes: the run suspends (RF_RUN_SUSPENDED) with
 * INPUT_REQUIRED {"prompt": prompt}, and rf_run_resume() later delivers the answer as an
 * event of `answer_type`, which this step must list in its sends. prompt is JSON (len bytes,
 * copied). One question per invocation; a run waits for one answer at a time.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if answer_type is not among its
 * sends; RF_E_TOO_LARGE if the event would pass max_event_bytes (len + 11 bytes);
 * RF_E_STATE if this invocation already asked. */
RF_API rf_status rf_step_ctx_request_input(rf_step_ctx *ctx, const void *prompt, uint32_t len,
                                           const char *answer_type);

/* Starts a sub-workflow, when this step completes: a child run of the built workflow `child`
 * with input (len bytes, copied). Its events appear in this run's stream too, with their own
 * run_id and this run as parent_run_id and root_run_id's run as root; its end does not end this
 * stream. When it completes, its result arrives as an event of `result_type` (which this step
 * must list in its sends); when it fails, times out or is cancelled, this run fails; when this
 * run ends first, the child is cancelled. `child` may be released once this returns.
 * Returns RF_OK; RF_E_INVALID_HANDLE (ctx or child); RF_E_INVALID_ARGUMENT if result_type is
 * not among its sends; RF_E_STATE if child is not built. */
RF_API rf_status rf_step_ctx_start_child(rf_step_ctx *ctx, rf_workflow *child, const void *input,
                                         uint32_t len, const char *result_type);

/* Sets the message the try fails with when the callback returns an error status (at most
 * 4096 bytes, copied). The last call wins.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT. */
RF_API rf_status rf_step_ctx_set_error(rf_step_ctx *ctx, const char *message);

/* Ends a step whose callback returned (or is about to return) RF_STEP_PENDING, or a host-run
 * step, from any thread: result RF_OK completes it, a negative rf_status fails the try with
 * error_message (NULL = the status name, at most 4096 bytes, copied). The context becomes
 * invalid when the step has ended: for a host-run step, and for a callback that has already
 * returned RF_STEP_PENDING, by the time this returns RF_OK; for a callback still running, when
 * it returns. Complete every pending step exactly once, even when its run has ended or its try
 * has timed out (the completion is then ignored): until then its context stays allocated.
 * Returns RF_OK; RF_E_INVALID_HANDLE (also for a step that was already completed and has
 * ended); RF_E_INVALID_ARGUMENT for RF_STEP_PENDING or another positive result, or an
 * over-long message; RF_E_STATE if it was already completed (its callback has not returned
 * yet). */
RF_API rf_status rf_step_ctx_complete(rf_step_ctx *ctx, rf_status result, const char *error_message);

/* =======================================================================================
 * Host-run steps
 *
 * A step added with RF_STEP_HOST_RUN is not called on a worker thread: each invocation waits
 * in the engine's task queue until a host thread takes it, runs it with the rf_step_ctx_*
 * functions and ends it with rf_step_ctx_complete(). This is how a language whose callbacks are
 * costly from foreign threads (Python) or that has its own event loop runs steps: one thread, no
 * callbacks into it. rf_step_info.user_data tells which step's code to run.
 * ======================================================================================= */

/* Takes the next waiting host-run step invocation, waiting at most timeout_ms milliseconds
 * (-1 = without limit, 0 = do not wait). *out_ctx is valid until rf_step_ctx_complete() ends
 * the step: complete it exactly once, also after its try has timed out. An invocation whose
 * try timed out before any host took it is skipped. Any number of threads may take from one
 * engine.
 * Returns RF_OK; RF_E_AGAIN (timeout_ms 0, none waiting); RF_E_TIMEOUT; RF_E_CLOSED if the
 * engine was released while the call waited; RF_E_INVALID_HANDLE (also once it was released); RF_E_INVALID_ARGUMENT
 * for a NULL out_ctx or a timeout_ms below -1; RF_E_SYSTEM if the engine's threads cannot be
 * started; RF_E_NO_MEMORY if the handle table is full (the step taken then fails). */
RF_API rf_status rf_engine_take_task(rf_engine *engine, int32_t timeout_ms, rf_step_ctx **out_ctx);

/* A file descriptor that is readable whenever host-run invocations wait to be taken (and once
 * the engine was released), for epoll, poll, libuv or asyncio's loop.add_reader(): take with
 * timeout 0 until RF_E_AGAIN, then wait on it again; never read() it yourself. A busy host pays
 * no system call per task: the fd is emptied only when a take finds nothing, so it may still be
 * readable for a while after the last task was taken (a take then returns RF_E_AGAIN). It
 * belongs to the engine: it stays open until the engine's last run is released after the
 * engine.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if out_fd is NULL; RF_E_SYSTEM. */
RF_API rf_status rf_engine_task_fd(rf_engine *engine, int32_t *out_fd);

/* =======================================================================================
 * Sinks
 *
 * A sink receives every event of every run the engine creates after it was added (a run's
 * sub-workflows included, inside their parent's stream), like a subscription to all of them at
 * once: per run in seq order, in batches, on a thread of the engine's (never a step's thread),
 * one call at a time. It is how the same events reach logs, audit records and databases beside
 * the live streams. A slow non-lossy sink holds a run's producers at the log's bound, like a
 * non-lossy subscriber (nothing lost, memory bounded); a lossy one is moved forward instead and
 * counts what it missed. A failing callback is retried with the same batch after a backoff, and
 * disabled after max_failures failures in a row; it never takes the engine down.
 * ======================================================================================= */

typedef struct rf_sink rf_sink;

/* Takes `count` events (valid during the call only). Return RF_OK, or any negative status to
 * have the same batch offered again after the backoff. This callback, run_ended, and a destroy
 * the sink thread runs cannot release a sink or the engine of that thread (the release would
 * wait for the thread it runs on): rf_sink_release() and rf_engine_release() return RF_E_STATE
 * there and change nothing. */
typedef rf_status (*rf_sink_fn)(void *user_data, const rf_event *events, uint32_t count);

/* Called after the last event of run `run_id` (its terminal event) was delivered: the moment
 * to flush, e.g. commit a transaction. */
typedef void (*rf_sink_run_ended_fn)(void *user_data, uint64_t run_id);

#define RF_SINK_LOSSY 1u  /* rf_sink_options.flags: skip ahead instead of holding producers */

typedef struct rf_sink_options {
    uint32_t struct_size;            /* sizeof(rf_sink_options) */
    uint32_t flags;                  /* RF_SINK_* */
    uint32_t kinds;                  /* RF_KIND_BIT(RF_EVENT_...) | ...; 0 = every kind; terminal
                                        events always pass */
    uint32_t max_failures;           /* failed deliveries in a row after which the sink is
                                        disabled; 0 = never */
    uint32_t retry_backoff_ms;       /* wait before a failed batch is offered again; 0 = 100 */
    uint32_t reserved0;              /* must be 0 */
    rf_sink_run_ended_fn run_ended;  /* NULL = not called */
} rf_sink_options;

#define RF_SINK_OPTIONS_SIZE_V1 32u

/* What a sink has done so far. */
typedef struct rf_sink_stats {
    uint32_t struct_size;            /* set by the caller: sizeof(rf_sink_stats) */
    uint32_t disabled;               /* 1 once disabled after max_failures */
    uint64_t delivered;              /* events delivered (callbacks that returned RF_OK) */
    uint64_t dropped;                /* events a lossy sink skipped, counted as its runs end */
    uint64_t failures;               /* callbacks that failed */
    uint64_t runs;                   /* runs it was given */
    char last_error[256];            /* the last failure ("" if none), NUL-terminated */
} rf_sink_stats;

#define RF_SINK_STATS_SIZE_V1 296u

/* Zeroes the caller's struct of struct_size bytes (pass sizeof(rf_sink_options)) and sets its
 * struct_size: every kind, non-lossy, retried every 100 ms without limit.
 * Returns RF_OK; RF_E_INVALID_ARGUMENT if options is NULL; RF_E_STRUCT_SIZE if struct_size is
 * below RF_SINK_OPTIONS_SIZE_V1. */
RF_API rf_status rf_sink_options_init(rf_sink_options *options, uint32_t struct_size);

/* Adds a sink to the engine: fn(user_data, events, count) gets every event of each run created
 * from now on. destroy (NULL = none) is called with user_data once the sink is released and no
 * longer called: by rf_sink_release() before it returns; if the engine was released first, on
 * the sink thread as it stops. On any error user_data stays the caller's (destroy is not called).
 * options may be NULL (every kind, non-lossy, retried forever every 100 ms).
 * On success *out_sink is a new handle the caller owns and passes to rf_sink_release() once.
 * Returns RF_OK; RF_E_INVALID_HANDLE for engine; RF_E_INVALID_ARGUMENT for a NULL fn or
 * out_sink, unknown flags or kind bits, reserved0 not 0; RF_E_STRUCT_SIZE; RF_E_STATE if
 * rf_engine_release() of this engine, on another thread, stopped its sinks during the call;
 * RF_E_SYSTEM if the sink thread cannot start; RF_E_NO_MEMORY. */
RF_API rf_status rf_engine_add_sink(rf_engine *engine, rf_sink_fn fn, void *user_data, rf_destructor destroy,
                                    const rf_sink_options *options, rf_sink **out_sink);

/* Copies the sink's counters into *out_stats (whose struct_size the caller sets). Any thread.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if out_stats is NULL;
 * RF_E_STRUCT_SIZE. */
RF_API rf_status rf_sink_get_stats(rf_sink *sink, rf_sink_stats *out_stats);

/* Releases the sink: it first gets what was emitted so far, waiting at most timeout_ms (-1 =
 * without limit; other sinks, failing ones included, do not hold it up), then is detached
 * from every run; destroy runs once it is no longer called
 * (see rf_engine_add_sink). Any thread but the engine's sink thread.
 * Returns RF_OK; RF_E_TIMEOUT if the sink had not caught up in time (it is released anyway);
 * RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT for a timeout_ms below -1; RF_E_STATE when called
 * on the engine's sink thread (from a sink callback): the handle stays valid. */
RF_API rf_status rf_sink_release(rf_sink *sink, int32_t timeout_ms);

/* =======================================================================================
 * Durable history (since 1.2)
 *
 * An engine created with history_dir writes every root run's events to local disk, in its own
 * sink (on the sink thread, never a step's): one directory per run, "run-<id>", of segment
 * files of length-prefixed records with a CRC-32C each (the format is described in
 * docs/history-format.md). A sub-workflow's events are in its root run's history.
 *
 * What it gives:
 * - rf_subscribe() with a start_seq older than the run keeps in memory (history_bytes) reads
 *   the older events from disk and then goes on in memory and live, with no gap and no
 *   duplicate.
 * - rf_engine_open_run() opens a run by id from the history, in this process or a later one,
 *   and reads it from any seq.
 * - Nothing is lost: the history writer is a non-lossy sink, so producers wait at the log's
 *   bound if the disk is slower than they are; a batch that fails to write (disk full) is
 *   written again every 100 ms until it succeeds (rf_run_get_history_info() counts failures).
 * - Crash safety: records are written with large write() calls and synced per history_fsync.
 *   Whatever was written survives a crash of the process; what was synced survives a crash of
 *   the machine. Reopening a run checks every record: a torn tail (a write the crash cut short)
 *   ends the history at the last intact record, and damaged records are skipped; both are
 *   counted in rf_history_info, and reading over a damaged record returns RF_E_CORRUPT once,
 *   over seqs missing from the files (a segment deleted by hand) RF_E_SEQ_UNAVAILABLE once.
 * - Retention by size and age (history_max_bytes, history_max_age_ms), applied when the
 *   engine opens the directory and whenever a segment is closed; whole segments are deleted,
 *   oldest first, never the one being written.
 * - Run ids stay unique across processes that use the directory one after the other: a
 *   writing engine locks it (a second one gets RF_E_STATE) until rf_engine_release(), and
 *   hands out ids above every run it has seen, sub-workflow runs included. Releasing the engine stops its history writer
 *   (after the sink drain): events its runs emit later are not written. RF_HISTORY_READ_ONLY
 *   opens a directory another engine writes, to read runs.
 * Do not change segment files while a process reads them: truncating one that is being read
 * can kill the reader (SIGBUS), since readers map the files into memory.
 * ======================================================================================= */

#define RF_HISTORY_FSYNC_RUN_END 0u /* sync when a run ends and when a segment is closed */
#define RF_HISTORY_FSYNC_NEVER   1u /* leave it to the kernel: survives process crashes only */
#define RF_HISTORY_FSYNC_BATCH   2u /* sync after every batch the writer writes (slowest) */

#define RF_HISTORY_READ_ONLY     1u   /* open runs another engine wrote: no lock, no writing,
                                         no retention; rf_engine_open_run() only */

/* What a run's durable history holds. */
typedef struct rf_history_info {
    uint32_t struct_size;       /* set by the caller: sizeof(rf_history_info) */
    uint32_t reserved0;
    uint64_t first_seq;         /* oldest event seq on disk; 0 when there is none */
    uint64_t last_seq;          /* newest event seq written (live run) or found (reopened) */
    uint64_t synced_seq;        /* newest seq the fsync policy has synced (reopened: last_seq) */
    uint64_t records;           /* event records written (live run) or found intact (reopened;
                                   below last_seq - first_seq + 1 when seqs are missing) */
    uint64_t bytes;             /* bytes of those records */
    uint64_t segments;          /* segment files started (live run) or read (reopened) */
    uint64_t corrupt_records;   /* reopened: damaged records (or headers) found and skipped */
    uint64_t torn_bytes;        /* reopened: bytes of torn tails cut off */
    uint64_t write_failures;    /* live run: batches that failed to write and were retried,
                                   syncs that failed (synced_seq then stays where it was for
                                   good: the kernel may have dropped what it held), and
                                   failures to record the run's id as used (run-ids) */
    /* 1.4 */
    char last_error[256];       /* live run: why the latest of those failures happened (the
                                   file and the system's error), "" if none; NUL-terminated,
                                   cut at 255 bytes */
} rf_history_info;

#define RF_HISTORY_INFO_SIZE_V1 80u
#define RF_HISTORY_INFO_SIZE_V2 336u /* with last_error (1.4) */

/* Opens run run_id from the engine's durable history as a finished run, in its own new
 * handle (rf_run_release() once). Its status is the one its terminal event gives, or
 * RF_RUN_INTERRUPTED without one. rf_run_get_result() of a completed one gives its terminal
 * event's data (the JSON object the event carries, e.g. {"result":...,"usage":...}); for any
 * other ending it returns RF_E_STATE, as for a live run, and rf_last_error() says how it ended
 * with that event's data (or, interrupted, why there is no terminal event).
 * rf_subscribe() on it reads the history: from any seq it still holds, with every stream
 * mode and filter, ending after the terminal event (or the last record). Emitting, starting,
 * cancelling or resuming it returns RF_E_STATE. The whole history of the run is read and
 * checked during the call (rf_run_get_history_info() reports what was found).
 * Returns RF_OK; RF_E_INVALID_HANDLE for engine; RF_E_INVALID_ARGUMENT if out_run is NULL;
 * RF_E_STATE if the engine has no history_dir, or if it is still writing that run (use the
 * run's own handle); RF_E_NOT_FOUND if the history has no such run (sub-workflows have none
 * of their own); RF_E_SYSTEM if a file cannot be read; RF_E_NO_MEMORY. */
RF_API rf_status rf_engine_open_run(rf_engine *engine, uint64_t run_id, rf_run **out_run);

/* Copies what the run's durable history holds into *out_info (whose struct_size the caller
 * sets, at least RF_HISTORY_INFO_SIZE_V1; only that many bytes are written, so a 1.2 caller
 * gets no last_error). For a live run the counts move as the writer goes.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if out_info is NULL;
 * RF_E_STRUCT_SIZE; RF_E_NOT_FOUND if the run has no durable history (its engine has no
 * history_dir, or it is a sub-workflow). */
RF_API rf_status rf_run_get_history_info(rf_run *run, rf_history_info *out_info);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RILLFLOW_H */

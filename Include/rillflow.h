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
 * Handles. rf_engine (and the handles later sections add) are opaque. A handle is not an
 * address: a NULL, released, stale or foreign handle is detected and refused with
 * RF_E_INVALID_HANDLE; it never crashes the process. A handle of one type passed where
 * another type is expected is refused the same way.
 *
 * Options structs. Every options struct starts with `uint32_t struct_size`, which the
 * caller sets to sizeof(the struct) as its header declared it (the *_options_init()
 * functions do this). A caller built against an older, smaller version gets defaults for
 * the fields it does not know. A struct_size of 0, or smaller than the struct's first
 * published version, is refused with RF_E_STRUCT_SIZE; so is a larger struct_size (a
 * newer header) whose bytes beyond the fields this library knows are not all zero. In
 * every options struct a field left at 0 means "the default".
 *
 * Threads. Unless a function's block says otherwise, any thread may call any function, at
 * any time, concurrently with any other call.
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
#define RF_VERSION_MINOR 0
#define RF_VERSION_PATCH 0
#define RF_VERSION_STRING "1.0.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, e.g. 10000 for 1.0.0. */
#define RF_VERSION_NUMBER (RF_VERSION_MAJOR * 10000 + RF_VERSION_MINOR * 100 + RF_VERSION_PATCH)

/* The library's version as RF_VERSION_NUMBER computes it. Compare it with the header's
 * RF_VERSION_NUMBER at run time: a library whose major version differs is not compatible,
 * one whose minor version is lower lacks functions this header declares.
 * Never fails. */
RF_API uint32_t rf_version(void);

/* The library's version as a string, e.g. "1.0.0". The pointer is static: valid for the
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

/* An engine owns worker threads, limits and defaults. Usually one per process. */
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
                                   at most 64 MiB */
    uint64_t history_bytes;     /* bytes of older events each run retains in memory beyond
                                   its log, for subscribers that start at an early seq;
                                   0 = 4 MiB; UINT64_MAX = keep everything */
    uint32_t emit_timeout_ms;   /* how long an emit waits for room in a full log before it
                                   fails with RF_E_TIMEOUT; 0 = wait without limit */
    uint32_t reserved0;         /* must be 0 */
} rf_engine_options;

/* The size of the first published rf_engine_options; smaller struct_size values are refused. */
#define RF_ENGINE_OPTIONS_SIZE_V1 32u

/* Fills *options with struct_size = sizeof(rf_engine_options) and every other field 0
 * (meaning: defaults). Call it, then set the fields you care about.
 * Returns RF_OK, or RF_E_INVALID_ARGUMENT if options is NULL. */
RF_API rf_status rf_engine_options_init(rf_engine_options *options);

/* Creates an engine. options may be NULL for all defaults; it is only read during the call.
 * On success *out_engine is a new handle the caller owns and must pass to
 * rf_engine_release() once.
 * Returns RF_OK; RF_E_INVALID_ARGUMENT if out_engine is NULL or a field is out of range
 * (the message names the field); RF_E_STRUCT_SIZE for a bad options->struct_size;
 * RF_E_NO_MEMORY if the handle table is full. */
RF_API rf_status rf_engine_create(const rf_engine_options *options, rf_engine **out_engine);

/* Copies the engine's effective options (defaults resolved: no field is 0 except
 * emit_timeout_ms when it waits without limit) into *out_options. The caller sets
 * out_options->struct_size first; only that many bytes are written, so an older caller gets
 * the fields it knows.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if out_options is NULL;
 * RF_E_STRUCT_SIZE if out_options->struct_size is 0 or below RF_ENGINE_OPTIONS_SIZE_V1. */
RF_API rf_status rf_engine_get_options(rf_engine *engine, rf_engine_options *out_options);

/* Releases the caller's engine handle. The handle is invalid as soon as the call starts:
 * every later call with it, including a second release, returns RF_E_INVALID_HANDLE. Runs
 * and subscriptions created from the engine stay valid until they are released themselves.
 * Returns RF_OK or RF_E_INVALID_HANDLE. */
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
 * the same shape, and it must be JSON: the library renders JSON, it never parses it). */
#define RF_EVENT_RUN_STARTED     1  /* {"trace_id": string|null, "parent_span_id": string|null,
                                        "input_bytes": n} */
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
    int64_t timestamp_ns;        /* wall clock, nanoseconds since the Unix epoch */
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

typedef struct rf_run_options {
    uint32_t struct_size;        /* sizeof(rf_run_options) */
    uint32_t reserved0;          /* must be 0 */
    const char *trace_id;        /* tracing: 1 to 32 hex digits, carried on RUN_STARTED; NULL = none */
    const char *parent_span_id;  /* tracing: 1 to 16 hex digits; NULL = none */
} rf_run_options;

#define RF_RUN_OPTIONS_SIZE_V1 24u

/* Fills *options with struct_size = sizeof(rf_run_options) and every other field 0/NULL.
 * Returns RF_OK, or RF_E_INVALID_ARGUMENT if options is NULL. */
RF_API rf_status rf_run_options_init(rf_run_options *options);

/* Creates a manual run: a run without a workflow, whose events the host emits itself with
 * rf_run_emit() and which it ends with rf_run_end(). This is how code that runs its own steps
 * streams through Rillflow. The run starts pending; attach subscriptions, then rf_run_start().
 * workflow_name (at most 255 bytes, copied) names it on every event; options may be NULL.
 * On success *out_run is a new handle the caller owns and passes to rf_run_release() once.
 * Returns RF_OK; RF_E_INVALID_HANDLE for engine; RF_E_INVALID_ARGUMENT for a NULL
 * workflow_name or out_run, a name too long, or a trace id that is not hex of the allowed
 * length; RF_E_STRUCT_SIZE; RF_E_NO_MEMORY. */
RF_API rf_status rf_run_create_manual(rf_engine *engine, const char *workflow_name,
                                      const rf_run_options *options, rf_run **out_run);

/* Starts a pending run and emits RUN_STARTED. input (input_len bytes; NULL if 0) is the run's
 * input; a manual run only reports its size.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if input is NULL and input_len
 * is not 0; RF_E_STATE if the run is not pending (a run starts once). */
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
 * has ended; RF_E_TIMEOUT if the log stayed full for emit_timeout_ms. */
RF_API rf_status rf_run_emit(rf_run *run, const rf_emit *event, uint64_t *out_seq);

/* Ends a manual run with its terminal event: RF_EVENT_RUN_COMPLETED, _FAILED, _TIMED_OUT or
 * _CANCELLED, with data (JSON, data_len bytes; NULL if 0) as its data. A pending run can only
 * be cancelled. The log always keeps room for a terminal event with up to 1 KiB of data, so
 * such a call never waits, even while a subscriber is not reading; with more data it may wait
 * like rf_run_emit(). On any error the run is left as it was, so the call can be retried.
 * Returns RF_OK; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT for a kind that is not terminal
 * or NULL data with data_len > 0; RF_E_STATE if the run has already ended (or is pending and
 * kind is not RUN_CANCELLED); RF_E_TOO_LARGE; RF_E_TIMEOUT as for rf_run_emit(). */
RF_API rf_status rf_run_end(rf_run *run, rf_event_kind kind, const void *data, uint32_t data_len);

/* Releases the caller's run handle. A manual run that has not ended is cancelled first
 * (RUN_CANCELLED with data {"reason":"released"}), so its subscribers reach the end of the
 * stream; this never waits (see rf_run_end()). Subscriptions stay readable after the run
 * handle is released.
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
 * events skipped.
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
 * retained history (history_bytes); the splice into live events has no gap and no duplicate.
 * A start_seq past the last event delivers from that seq on, when it comes. The subscription
 * keeps the run's events readable even after the run handle is released.
 * On success *out_subscription is a new handle the caller owns and passes to
 * rf_subscription_release() once.
 * Returns RF_OK; RF_E_INVALID_HANDLE for run; RF_E_INVALID_ARGUMENT for a NULL
 * out_subscription, an unknown mode, kind bit or flag, topics NULL with topic_count > 0, a
 * NULL or over-long topic, or reserved0 not 0; RF_E_STRUCT_SIZE; RF_E_SEQ_UNAVAILABLE if
 * start_seq is older than the oldest event still retained (the message says which is). */
RF_API rf_status rf_subscription_create(rf_run *run, const rf_subscription_options *options,
                                        rf_subscription **out_subscription);

/* Reads the next event that passes the subscription's filter into *out_event (whose
 * struct_size the caller sets). timeout_ms: 0 = do not wait, -1 = wait without limit, n > 0 =
 * wait at most n milliseconds. The event's pointers are valid until the next read, poll or
 * release of this subscription.
 * Returns RF_OK; RF_E_AGAIN (timeout 0, nothing ready); RF_E_TIMEOUT; RF_E_END_OF_STREAM
 * after the terminal event has been read (or, for a live-tail subscription created after the
 * run ended, at once); RF_E_CLOSED if the subscription was released while waiting;
 * RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT for a NULL out_event or a timeout below -1;
 * RF_E_STRUCT_SIZE; RF_E_STATE if another read on it is in progress. */
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

/* Called by rf_subscription_poll() once per event, on the polling thread. The event is valid
 * during the call only. Return 0 to go on, anything else to stop after this event. It must
 * not read the same subscription (that returns RF_E_STATE). */
typedef int32_t (*rf_event_handler)(void *user_data, const rf_event *event);

/* Hands up to `limit` ready events to handler(user_data, event), without waiting, like
 * Aeron's poll(handler, limit). *out_count (if not NULL) receives how many were handled.
 * Returns RF_OK (also when no event was ready: *out_count is 0); RF_E_END_OF_STREAM;
 * RF_E_CLOSED; RF_E_INVALID_HANDLE; RF_E_INVALID_ARGUMENT if handler is NULL or limit 0;
 * RF_E_STATE if another read on it is in progress. */
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

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RILLFLOW_H */

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
    uint32_t log_capacity;      /* bytes of each run's in-memory event log; 0 = 1 MiB;
                                   rounded up to a power of two; 64 KiB to 1 GiB */
    uint32_t max_event_bytes;   /* largest data payload of one event; 0 = 1 MiB (1048576);
                                   at most 64 MiB */
    uint64_t history_bytes;     /* bytes of older events each run retains beyond its log,
                                   for subscribers that start at an early seq; 0 = 64 MiB;
                                   UINT64_MAX = keep everything */
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
 * every later call with it, including a second release, returns RF_E_INVALID_HANDLE.
 * Returns RF_OK or RF_E_INVALID_HANDLE. */
RF_API rf_status rf_engine_release(rf_engine *engine);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RILLFLOW_H */

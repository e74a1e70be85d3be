"""The C API of librillflow.so.1 for ctypes: every struct, constant and function of
Include/rillflow.h, declared in one place (argtypes and restype for each function).

Everything else in the package calls the library through the `lib` this module loads.
"""
from __future__ import annotations

import ctypes
from ctypes import (
    POINTER, Structure, c_char, c_char_p, c_double, c_int32, c_size_t, c_uint32, c_uint64, c_int64, c_void_p,
)

from ._library import load_library

# ---- status codes ----
RF_OK = 0
RF_E_INVALID_ARGUMENT = -1
RF_E_STRUCT_SIZE = -2
RF_E_INVALID_HANDLE = -3
RF_E_NO_MEMORY = -4
RF_E_STATE = -5
RF_E_TIMEOUT = -6
RF_E_AGAIN = -7
RF_E_CLOSED = -8
RF_E_END_OF_STREAM = -9
RF_E_TOO_LARGE = -10

UINT32_MAX = 2**32 - 1


def text(value: str, name: str) -> bytes:
    """`value` as the NUL-terminated UTF-8 a C string argument takes. ValueError naming `name`
    for a NUL byte (C would stop reading there: "a\\0b" would quietly become "a") or a lone
    surrogate (no UTF-8 at all)."""
    try:
        raw = value.encode()
    except UnicodeEncodeError as error:
        raise ValueError(f"{name} is not valid text: {error.reason} at index {error.start}") from None
    if b"\0" in raw:
        raise ValueError(f"{name} contains a NUL byte")
    return raw


def in_range(value: int, limit: int, name: str) -> int:
    """`value` if 0 <= value <= limit; ctypes would silently keep only its low bits."""
    if not 0 <= value <= limit:
        raise ValueError(f"{name} is {value}; it must be 0 to {limit}")
    return value
RF_E_NOT_FOUND = -11
RF_E_SEQ_UNAVAILABLE = -12
RF_E_SYSTEM = -13
RF_E_INTERNAL = -14
RF_E_CANCELLED = -15
RF_E_CORRUPT = -16

# ---- event kinds ----
RF_EVENT_RUN_STARTED = 1
RF_EVENT_STEP_STARTED = 2
RF_EVENT_TOKEN = 3
RF_EVENT_CUSTOM = 4
RF_EVENT_PROGRESS = 5
RF_EVENT_STATE_CHANGED = 6
RF_EVENT_STEP_COMPLETED = 7
RF_EVENT_STEP_RETRYING = 8
RF_EVENT_STEP_FAILED = 9
RF_EVENT_INPUT_REQUIRED = 10
RF_EVENT_RUN_RESUMED = 11
RF_EVENT_RUN_COMPLETED = 12
RF_EVENT_RUN_FAILED = 13
RF_EVENT_RUN_TIMED_OUT = 14
RF_EVENT_RUN_CANCELLED = 15
RF_EVENT_LAGGED = 16

# ---- run statuses ----
RF_RUN_PENDING = 1
RF_RUN_RUNNING = 2
RF_RUN_SUSPENDED = 3
RF_RUN_COMPLETED = 4
RF_RUN_FAILED = 5
RF_RUN_TIMED_OUT = 6
RF_RUN_CANCELLED = 7
RF_RUN_INTERRUPTED = 8

# ---- durable history ----
RF_HISTORY_FSYNC_RUN_END = 0
RF_HISTORY_FSYNC_NEVER = 1
RF_HISTORY_FSYNC_BATCH = 2
RF_HISTORY_READ_ONLY = 1

# ---- stream modes and subscription flags ----
RF_STREAM_TOKENS = 0
RF_STREAM_MESSAGES = 1
RF_STREAM_UPDATES = 2
RF_STREAM_VALUES = 3
RF_STREAM_CUSTOM = 4
RF_SUBSCRIBE_LOSSY = 1
RF_SUBSCRIBE_END_AT_SUSPENSION = 2

# ---- steps ----
RF_STEP_PENDING = 1
RF_STEP_HOST_RUN = 1
RF_SINK_LOSSY = 1


def kind_bit(kind: int) -> int:
    """RF_KIND_BIT: the bit of a kind in a kind set."""
    return 1 << kind


class rf_engine_options(Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("worker_threads", c_uint32), ("log_capacity", c_uint32),
        ("max_event_bytes", c_uint32), ("history_bytes", c_uint64), ("emit_timeout_ms", c_uint32),
        ("reserved0", c_uint32), ("sink_drain_timeout_ms", c_uint32), ("reserved1", c_uint32),
        ("history_dir", c_char_p), ("history_max_bytes", c_uint64), ("history_max_age_ms", c_uint64),
        ("history_segment_bytes", c_uint32), ("history_fsync", c_uint32), ("history_flags", c_uint32),
        ("reserved2", c_uint32),
    ]


class rf_history_info(Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("reserved0", c_uint32), ("first_seq", c_uint64), ("last_seq", c_uint64),
        ("synced_seq", c_uint64), ("records", c_uint64), ("bytes", c_uint64), ("segments", c_uint64),
        ("corrupt_records", c_uint64), ("torn_bytes", c_uint64), ("write_failures", c_uint64),
        ("last_error", c_char * 256),
    ]


class rf_event(Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("kind", c_uint32), ("seq", c_uint64), ("timestamp_ns", c_int64),
        ("run_id", c_uint64), ("parent_run_id", c_uint64), ("root_run_id", c_uint64),
        ("workflow_name", c_void_p), ("step_name", c_void_p), ("topic", c_void_p),
        ("attempt", c_uint32), ("data_len", c_uint32), ("token_index", c_uint64), ("data", c_void_p),
    ]


class rf_run_options(Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("reserved0", c_uint32), ("trace_id", c_char_p),
        ("parent_span_id", c_char_p), ("step_budget", c_uint32), ("reserved1", c_uint32),
        ("timeout_ms", c_uint64), ("metadata", c_char_p),
    ]


class rf_emit(Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("kind", c_uint32), ("step_name", c_char_p), ("topic", c_char_p),
        ("data", c_void_p), ("data_len", c_uint32), ("attempt", c_uint32), ("token_index", c_uint64),
    ]


class rf_token_usage(Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("reserved0", c_uint32), ("input_tokens", c_uint64),
        ("output_tokens", c_uint64), ("total_tokens", c_uint64), ("reasoning_tokens", c_uint64),
        ("cached_input_tokens", c_uint64),
    ]


class rf_packed_event(Structure):
    _fields_ = [
        ("size", c_uint32), ("kind", c_uint32), ("seq", c_uint64), ("timestamp_ns", c_int64), ("run_id", c_uint64),
        ("parent_run_id", c_uint64), ("root_run_id", c_uint64), ("token_index", c_uint64), ("attempt", c_uint32),
        ("data_len", c_uint32), ("workflow_len", ctypes.c_uint16), ("step_len", ctypes.c_uint16),
        ("topic_len", ctypes.c_uint16), ("reserved0", ctypes.c_uint16),
    ]


class rf_subscription_options(Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("mode", c_uint32), ("kinds", c_uint32), ("flags", c_uint32),
        ("start_seq", c_uint64), ("topics", POINTER(c_char_p)), ("topic_count", c_uint32),
        ("reserved0", c_uint32),
    ]


class rf_step_options(Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("flags", c_uint32), ("concurrency", c_uint32), ("collect", c_uint32),
        ("foreach_done", c_char_p), ("timeout_ms", c_uint32), ("retry_attempts", c_uint32),
        ("retry_initial_backoff_ms", c_uint32), ("retry_max_backoff_ms", c_uint32),
        ("retry_multiplier", c_double), ("retry_jitter", c_double),
    ]


rf_sink_run_ended_fn = ctypes.CFUNCTYPE(None, c_void_p, c_uint64)


class rf_sink_options(Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("flags", c_uint32), ("kinds", c_uint32), ("max_failures", c_uint32),
        ("retry_backoff_ms", c_uint32), ("reserved0", c_uint32), ("run_ended", rf_sink_run_ended_fn),
    ]


class rf_sink_stats(Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("disabled", c_uint32), ("delivered", c_uint64), ("dropped", c_uint64),
        ("failures", c_uint64), ("runs", c_uint64), ("last_error", ctypes.c_char * 256),
    ]


class rf_step_info(Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("attempt", c_uint32), ("run_id", c_uint64),
        ("workflow_name", c_char_p), ("step_name", c_char_p), ("event_type", c_char_p),
        ("input_count", c_uint32), ("input_len", c_uint32), ("user_data", c_void_p), ("input", c_void_p),
    ]


# Handles are opaque pointers; the library never dereferences them, so c_void_p is exact.
handle = c_void_p
rf_status = c_int32
rf_event_handler = ctypes.CFUNCTYPE(c_int32, c_void_p, POINTER(rf_event))
rf_sink_fn = ctypes.CFUNCTYPE(c_int32, c_void_p, POINTER(rf_event), c_uint32)
rf_step_fn = ctypes.CFUNCTYPE(c_int32, c_void_p, c_void_p)
rf_destructor = ctypes.CFUNCTYPE(None, c_void_p)
# NULL function pointers (ctypes does not take None for a CFUNCTYPE argument).
NO_STEP_FN = rf_step_fn()
NO_DESTRUCTOR = rf_destructor()

# name: (restype, argtypes), in the header's order.
PROTOTYPES = {
    "rf_version": (c_uint32, []),
    "rf_version_string": (c_char_p, []),
    "rf_status_name": (c_char_p, [rf_status]),
    "rf_status_describe": (c_char_p, [rf_status]),
    "rf_last_error": (c_char_p, []),
    "rf_engine_options_init_v2": (rf_status, [POINTER(rf_engine_options), c_uint32]),
    "rf_engine_options_init": (rf_status, [POINTER(rf_engine_options)]),
    "rf_engine_create": (rf_status, [POINTER(rf_engine_options), POINTER(handle)]),
    "rf_engine_get_options": (rf_status, [handle, POINTER(rf_engine_options)]),
    "rf_engine_release": (rf_status, [handle]),
    "rf_event_kind_name": (c_char_p, [c_uint32]),
    "rf_event_to_json": (rf_status, [POINTER(rf_event), c_void_p, c_size_t, POINTER(c_size_t)]),
    "rf_run_options_init_v2": (rf_status, [POINTER(rf_run_options), c_uint32]),
    "rf_run_options_init": (rf_status, [POINTER(rf_run_options)]),
    "rf_run_create_manual": (rf_status, [handle, c_char_p, POINTER(rf_run_options), POINTER(handle)]),
    "rf_run_start": (rf_status, [handle, c_void_p, c_uint32]),
    "rf_run_get_id": (rf_status, [handle, POINTER(c_uint64)]),
    "rf_run_get_status": (rf_status, [handle, POINTER(c_uint32)]),
    "rf_run_emit": (rf_status, [handle, POINTER(rf_emit), POINTER(c_uint64)]),
    "rf_run_emit_batch": (rf_status, [handle, POINTER(rf_emit), c_uint32, POINTER(c_uint64), POINTER(c_uint32)]),
    "rf_run_end": (rf_status, [handle, c_uint32, c_void_p, c_uint32]),
    "rf_run_wait": (rf_status, [handle, c_int32, POINTER(c_uint32)]),
    "rf_run_get_result": (rf_status, [handle, POINTER(c_void_p), POINTER(c_uint32)]),
    "rf_run_get_usage": (rf_status, [handle, POINTER(rf_token_usage)]),
    "rf_run_cancel": (rf_status, [handle, c_char_p]),
    "rf_run_resume": (rf_status, [handle, c_void_p, c_uint32]),
    "rf_run_release": (rf_status, [handle]),
    "rf_subscription_options_init": (rf_status, [POINTER(rf_subscription_options)]),
    "rf_subscription_create": (rf_status, [handle, POINTER(rf_subscription_options), POINTER(handle)]),
    "rf_subscription_read": (rf_status, [handle, POINTER(rf_event), c_int32]),
    "rf_subscription_read_batch": (rf_status, [handle, c_void_p, c_uint32, c_int32, POINTER(c_uint32)]),
    "rf_subscription_read_packed": (rf_status, [handle, c_void_p, c_uint32, c_int32, POINTER(c_uint32),
                                                POINTER(c_uint32)]),
    "rf_subscription_poll": (rf_status, [handle, rf_event_handler, c_void_p, c_uint32, POINTER(c_uint32)]),
    "rf_subscription_fd": (rf_status, [handle, POINTER(c_int32)]),
    "rf_subscription_release": (rf_status, [handle]),
    "rf_step_options_init": (rf_status, [POINTER(rf_step_options), c_uint32]),
    "rf_workflow_create": (rf_status, [handle, c_char_p, POINTER(handle)]),
    "rf_workflow_add_step": (rf_status, [handle, c_char_p, c_char_p, c_char_p, rf_step_fn, c_void_p,
                                         rf_destructor, POINTER(rf_step_options)]),
    "rf_workflow_build": (rf_status, [handle]),
    "rf_workflow_release": (rf_status, [handle]),
    "rf_run_create": (rf_status, [handle, POINTER(rf_run_options), POINTER(handle)]),
    "rf_step_ctx_get_info": (rf_status, [handle, POINTER(rf_step_info)]),
    "rf_step_ctx_input": (rf_status, [handle, c_uint32, POINTER(c_void_p), POINTER(c_uint32)]),
    "rf_step_ctx_emit_token": (rf_status, [handle, c_char_p, c_uint32, c_uint64]),
    "rf_step_ctx_emit_custom": (rf_status, [handle, c_char_p, c_char_p, c_uint32]),
    "rf_step_ctx_emit_progress": (rf_status, [handle, c_uint64, c_uint64, c_char_p]),
    "rf_step_ctx_send": (rf_status, [handle, c_char_p, c_char_p, c_uint32]),
    "rf_step_ctx_send_each": (rf_status, [handle, c_char_p, POINTER(c_void_p), POINTER(c_uint32), c_uint32]),
    "rf_step_ctx_set_output": (rf_status, [handle, c_char_p, c_uint32]),
    "rf_step_ctx_stop": (rf_status, [handle, c_char_p, c_uint32]),
    "rf_step_ctx_set_state": (rf_status, [handle, c_char_p, c_char_p, c_uint32]),
    "rf_step_ctx_get_state": (rf_status, [handle, c_char_p, c_void_p, c_uint32, POINTER(c_uint32)]),
    "rf_step_ctx_report_usage": (rf_status, [handle, POINTER(rf_token_usage)]),
    "rf_step_ctx_check_cancelled": (rf_status, [handle]),
    "rf_step_ctx_request_input": (rf_status, [handle, c_char_p, c_uint32, c_char_p]),
    "rf_step_ctx_start_child": (rf_status, [handle, handle, c_char_p, c_uint32, c_char_p]),
    "rf_step_ctx_set_error": (rf_status, [handle, c_char_p]),
    "rf_step_ctx_complete": (rf_status, [handle, rf_status, c_char_p]),
    "rf_sink_options_init": (rf_status, [POINTER(rf_sink_options), c_uint32]),
    "rf_engine_add_sink": (rf_status, [handle, rf_sink_fn, c_void_p, rf_destructor, POINTER(rf_sink_options), POINTER(handle)]),
    "rf_sink_get_stats": (rf_status, [handle, POINTER(rf_sink_stats)]),
    "rf_sink_release": (rf_status, [handle, c_int32]),
    "rf_engine_open_run": (rf_status, [handle, c_uint64, POINTER(handle)]),
    "rf_run_get_history_info": (rf_status, [handle, POINTER(rf_history_info)]),
    "rf_engine_take_task": (rf_status, [handle, c_int32, POINTER(handle)]),
    "rf_engine_task_fd": (rf_status, [handle, POINTER(c_int32)]),
}


def _declare(library: ctypes.CDLL) -> ctypes.CDLL:
    for name, (restype, argtypes) in PROTOTYPES.items():
        function = getattr(library, name)
        function.restype = restype
        function.argtypes = argtypes
    return library


lib = _declare(load_library())

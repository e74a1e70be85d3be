/* Pins the size and field offsets of every public struct: changing one fails the build. */
#include <stddef.h>
#include "check.h"

#define PIN_SIZE(type, size) _Static_assert(sizeof(type) == (size), "sizeof(" #type ") changed")
#define PIN_OFFSET(type, field, offset) \
    _Static_assert(offsetof(type, field) == (offset), "offsetof(" #type ", " #field ") changed")

PIN_SIZE(rf_status, 4);

PIN_SIZE(rf_engine_options, 80);
PIN_OFFSET(rf_engine_options, struct_size, 0);
PIN_OFFSET(rf_engine_options, worker_threads, 4);
PIN_OFFSET(rf_engine_options, log_capacity, 8);
PIN_OFFSET(rf_engine_options, max_event_bytes, 12);
PIN_OFFSET(rf_engine_options, history_bytes, 16);
PIN_OFFSET(rf_engine_options, emit_timeout_ms, 24);
PIN_OFFSET(rf_engine_options, reserved0, 28);
PIN_OFFSET(rf_engine_options, sink_drain_timeout_ms, 32);
PIN_OFFSET(rf_engine_options, reserved1, 36);
PIN_OFFSET(rf_engine_options, history_dir, 40);
PIN_OFFSET(rf_engine_options, history_max_bytes, 48);
PIN_OFFSET(rf_engine_options, history_max_age_ms, 56);
PIN_OFFSET(rf_engine_options, history_segment_bytes, 64);
PIN_OFFSET(rf_engine_options, history_fsync, 68);
PIN_OFFSET(rf_engine_options, history_flags, 72);
PIN_OFFSET(rf_engine_options, reserved2, 76);
_Static_assert(RF_ENGINE_OPTIONS_SIZE_V1 == 32, "the first published size never changes");

PIN_SIZE(rf_history_info, 336);
PIN_OFFSET(rf_history_info, struct_size, 0);
PIN_OFFSET(rf_history_info, first_seq, 8);
PIN_OFFSET(rf_history_info, last_seq, 16);
PIN_OFFSET(rf_history_info, synced_seq, 24);
PIN_OFFSET(rf_history_info, records, 32);
PIN_OFFSET(rf_history_info, bytes, 40);
PIN_OFFSET(rf_history_info, segments, 48);
PIN_OFFSET(rf_history_info, corrupt_records, 56);
PIN_OFFSET(rf_history_info, torn_bytes, 64);
PIN_OFFSET(rf_history_info, write_failures, 72);
PIN_OFFSET(rf_history_info, last_error, 80);
_Static_assert(RF_HISTORY_INFO_SIZE_V1 == 80, "the first published size never changes");
_Static_assert(RF_HISTORY_INFO_SIZE_V2 == sizeof(rf_history_info), "1.4's size is the struct's");

PIN_SIZE(rf_event, 96);
PIN_OFFSET(rf_event, struct_size, 0);
PIN_OFFSET(rf_event, kind, 4);
PIN_OFFSET(rf_event, seq, 8);
PIN_OFFSET(rf_event, timestamp_ns, 16);
PIN_OFFSET(rf_event, run_id, 24);
PIN_OFFSET(rf_event, parent_run_id, 32);
PIN_OFFSET(rf_event, root_run_id, 40);
PIN_OFFSET(rf_event, workflow_name, 48);
PIN_OFFSET(rf_event, step_name, 56);
PIN_OFFSET(rf_event, topic, 64);
PIN_OFFSET(rf_event, attempt, 72);
PIN_OFFSET(rf_event, data_len, 76);
PIN_OFFSET(rf_event, token_index, 80);
PIN_OFFSET(rf_event, data, 88);
_Static_assert(RF_EVENT_SIZE_V1 == 96, "the first published size never changes");

PIN_SIZE(rf_run_options, 48);
PIN_OFFSET(rf_run_options, struct_size, 0);
PIN_OFFSET(rf_run_options, reserved0, 4);
PIN_OFFSET(rf_run_options, trace_id, 8);
PIN_OFFSET(rf_run_options, parent_span_id, 16);
PIN_OFFSET(rf_run_options, step_budget, 24);
PIN_OFFSET(rf_run_options, reserved1, 28);
PIN_OFFSET(rf_run_options, timeout_ms, 32);
PIN_OFFSET(rf_run_options, metadata, 40);
_Static_assert(RF_RUN_OPTIONS_SIZE_V1 == 24, "the first published size never changes");

PIN_SIZE(rf_token_usage, 48);
PIN_OFFSET(rf_token_usage, struct_size, 0);
PIN_OFFSET(rf_token_usage, reserved0, 4);
PIN_OFFSET(rf_token_usage, input_tokens, 8);
PIN_OFFSET(rf_token_usage, output_tokens, 16);
PIN_OFFSET(rf_token_usage, total_tokens, 24);
PIN_OFFSET(rf_token_usage, reasoning_tokens, 32);
PIN_OFFSET(rf_token_usage, cached_input_tokens, 40);
_Static_assert(RF_TOKEN_USAGE_SIZE_V1 == 48, "the first published size never changes");

PIN_SIZE(rf_step_options, 56);
PIN_OFFSET(rf_step_options, struct_size, 0);
PIN_OFFSET(rf_step_options, flags, 4);
PIN_OFFSET(rf_step_options, concurrency, 8);
PIN_OFFSET(rf_step_options, collect, 12);
PIN_OFFSET(rf_step_options, foreach_done, 16);
PIN_OFFSET(rf_step_options, timeout_ms, 24);
PIN_OFFSET(rf_step_options, retry_attempts, 28);
PIN_OFFSET(rf_step_options, retry_initial_backoff_ms, 32);
PIN_OFFSET(rf_step_options, retry_max_backoff_ms, 36);
PIN_OFFSET(rf_step_options, retry_multiplier, 40);
PIN_OFFSET(rf_step_options, retry_jitter, 48);
_Static_assert(RF_STEP_OPTIONS_SIZE_V1 == 56, "the first published size never changes");

PIN_SIZE(rf_step_info, 64);
PIN_OFFSET(rf_step_info, struct_size, 0);
PIN_OFFSET(rf_step_info, attempt, 4);
PIN_OFFSET(rf_step_info, run_id, 8);
PIN_OFFSET(rf_step_info, workflow_name, 16);
PIN_OFFSET(rf_step_info, step_name, 24);
PIN_OFFSET(rf_step_info, event_type, 32);
PIN_OFFSET(rf_step_info, input_count, 40);
PIN_OFFSET(rf_step_info, input_len, 44);
PIN_OFFSET(rf_step_info, user_data, 48);
PIN_OFFSET(rf_step_info, input, 56);
_Static_assert(RF_STEP_INFO_SIZE_V1 == 64, "the first published size never changes");

PIN_SIZE(rf_emit, 48);
PIN_OFFSET(rf_emit, struct_size, 0);
PIN_OFFSET(rf_emit, kind, 4);
PIN_OFFSET(rf_emit, step_name, 8);
PIN_OFFSET(rf_emit, topic, 16);
PIN_OFFSET(rf_emit, data, 24);
PIN_OFFSET(rf_emit, data_len, 32);
PIN_OFFSET(rf_emit, attempt, 36);
PIN_OFFSET(rf_emit, token_index, 40);
_Static_assert(RF_EMIT_SIZE_V1 == 48, "the first published size never changes");

PIN_SIZE(rf_subscription_options, 40);
PIN_OFFSET(rf_subscription_options, struct_size, 0);
PIN_OFFSET(rf_subscription_options, mode, 4);
PIN_OFFSET(rf_subscription_options, kinds, 8);
PIN_OFFSET(rf_subscription_options, flags, 12);
PIN_OFFSET(rf_subscription_options, start_seq, 16);
PIN_OFFSET(rf_subscription_options, topics, 24);
PIN_OFFSET(rf_subscription_options, topic_count, 32);
PIN_OFFSET(rf_subscription_options, reserved0, 36);
_Static_assert(RF_SUBSCRIPTION_OPTIONS_SIZE_V1 == 40, "the first published size never changes");

PIN_SIZE(rf_packed_event, 72);
PIN_OFFSET(rf_packed_event, size, 0);
PIN_OFFSET(rf_packed_event, kind, 4);
PIN_OFFSET(rf_packed_event, seq, 8);
PIN_OFFSET(rf_packed_event, timestamp_ns, 16);
PIN_OFFSET(rf_packed_event, run_id, 24);
PIN_OFFSET(rf_packed_event, parent_run_id, 32);
PIN_OFFSET(rf_packed_event, root_run_id, 40);
PIN_OFFSET(rf_packed_event, token_index, 48);
PIN_OFFSET(rf_packed_event, attempt, 56);
PIN_OFFSET(rf_packed_event, data_len, 60);
PIN_OFFSET(rf_packed_event, workflow_len, 64);
PIN_OFFSET(rf_packed_event, step_len, 66);
PIN_OFFSET(rf_packed_event, topic_len, 68);
PIN_OFFSET(rf_packed_event, reserved0, 70);
_Static_assert(RF_PACKED_EVENT_MAX_SIZE(1024) == 72 + 765 + 1024 + 7, "the packed size formula never changes");

PIN_SIZE(rf_sink_options, 32);
PIN_OFFSET(rf_sink_options, struct_size, 0);
PIN_OFFSET(rf_sink_options, flags, 4);
PIN_OFFSET(rf_sink_options, kinds, 8);
PIN_OFFSET(rf_sink_options, max_failures, 12);
PIN_OFFSET(rf_sink_options, retry_backoff_ms, 16);
PIN_OFFSET(rf_sink_options, reserved0, 20);
PIN_OFFSET(rf_sink_options, run_ended, 24);
_Static_assert(RF_SINK_OPTIONS_SIZE_V1 == 32, "the first published size never changes");

PIN_SIZE(rf_sink_stats, 296);
PIN_OFFSET(rf_sink_stats, struct_size, 0);
PIN_OFFSET(rf_sink_stats, disabled, 4);
PIN_OFFSET(rf_sink_stats, delivered, 8);
PIN_OFFSET(rf_sink_stats, dropped, 16);
PIN_OFFSET(rf_sink_stats, failures, 24);
PIN_OFFSET(rf_sink_stats, runs, 32);
PIN_OFFSET(rf_sink_stats, last_error, 40);
_Static_assert(RF_SINK_STATS_SIZE_V1 == 296 && RF_SINK_LOSSY == 1, "the first published size never changes");

/* Status codes and enumeration values are part of the ABI too. */
_Static_assert(RF_E_INTERNAL == -14 && RF_EVENT_LAGGED == 16 && RF_RUN_CANCELLED == 7 && RF_STREAM_CUSTOM == 4,
               "published values never change");
_Static_assert(RF_E_CANCELLED == -15 && RF_STEP_PENDING == 1 && RF_STEP_HOST_RUN == 1 &&
               RF_SUBSCRIBE_LOSSY == 1 && RF_SUBSCRIBE_END_AT_SUSPENSION == 2, "published values never change");
_Static_assert(RF_E_CORRUPT == -16 && RF_RUN_INTERRUPTED == 8 && RF_HISTORY_FSYNC_RUN_END == 0 &&
               RF_HISTORY_FSYNC_NEVER == 1 && RF_HISTORY_FSYNC_BATCH == 2 && RF_HISTORY_READ_ONLY == 1,
               "published values never change");

int main(void) {
    /* The asserts above are the test; this confirms the binary ran. */
    CHECK(sizeof(rf_event) == RF_EVENT_SIZE_V1);
    return check_finish();
}

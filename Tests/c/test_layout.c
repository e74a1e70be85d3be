/* Pins the size and field offsets of every public struct: changing one fails the build. */
#include <stddef.h>
#include "check.h"

#define PIN_SIZE(type, size) _Static_assert(sizeof(type) == (size), "sizeof(" #type ") changed")
#define PIN_OFFSET(type, field, offset) \
    _Static_assert(offsetof(type, field) == (offset), "offsetof(" #type ", " #field ") changed")

PIN_SIZE(rf_status, 4);

PIN_SIZE(rf_engine_options, 32);
PIN_OFFSET(rf_engine_options, struct_size, 0);
PIN_OFFSET(rf_engine_options, worker_threads, 4);
PIN_OFFSET(rf_engine_options, log_capacity, 8);
PIN_OFFSET(rf_engine_options, max_event_bytes, 12);
PIN_OFFSET(rf_engine_options, history_bytes, 16);
PIN_OFFSET(rf_engine_options, emit_timeout_ms, 24);
PIN_OFFSET(rf_engine_options, reserved0, 28);
_Static_assert(RF_ENGINE_OPTIONS_SIZE_V1 == 32, "the first published size never changes");

int main(void) {
    /* The asserts above are the test; this confirms the binary ran. */
    CHECK(sizeof(rf_engine_options) == RF_ENGINE_OPTIONS_SIZE_V1);
    return check_finish();
}

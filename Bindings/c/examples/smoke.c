/* smoke: the smallest program that uses Rillflow. It checks the library matches the header,
 * creates an engine, prints its effective options, and shows what an error looks like. */
#include <inttypes.h>
#include <stdio.h>
#include "rillflow.h"

int main(void) {
    /* Same major version (the ABI), and a minor at least the header's (it has every function). */
    if (rf_version() / 10000 != RF_VERSION_MAJOR || rf_version() / 100 % 100 < RF_VERSION_MINOR) {
        fprintf(stderr, "librillflow %s does not match rillflow.h %s\n", rf_version_string(), RF_VERSION_STRING);
        return 1;
    }
    printf("rillflow %s\n", rf_version_string());

    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.worker_threads = 2;

    rf_engine *engine = NULL;
    rf_status status = rf_engine_create(&options, &engine);
    if (status != RF_OK) {
        fprintf(stderr, "rf_engine_create: %s: %s\n", rf_status_name(status), rf_last_error());
        return 1;
    }

    rf_engine_options effective = {.struct_size = sizeof effective};
    status = rf_engine_get_options(engine, &effective);
    if (status != RF_OK) {
        fprintf(stderr, "rf_engine_get_options: %s: %s\n", rf_status_name(status), rf_last_error());
        rf_engine_release(engine);
        return 1;
    }
    printf("engine: %" PRIu32 " worker threads, %" PRIu32 "-byte run logs, events up to %" PRIu32 " bytes\n",
           effective.worker_threads, effective.log_capacity, effective.max_event_bytes);

    rf_engine_release(engine);

    /* Using a released handle is an error, never a crash. */
    status = rf_engine_release(engine);
    printf("second release: %s (%s)\n", rf_status_name(status), rf_last_error());
    return status == RF_E_INVALID_HANDLE ? 0 : 1;
}

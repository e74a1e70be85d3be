/* retries: a step that fails and is tried again, and one that fails for good.
 *
 * A step's rf_step_options carry its retry policy: retry_attempts tries in all, the first wait
 * retry_initial_backoff_ms, each next wait retry_multiplier times longer. A try fails when the
 * callback returns an error status; rf_step_ctx_set_error() gives the reason. Each failed try
 * that will be retried is a STEP_RETRYING event (its attempt is the failed one, its data the
 * error and the wait); the retry starts clean: what a failed try sent is dropped.
 *
 * Workflow "flaky": step "fetch" fails twice ("upstream returned 503") and succeeds on its
 * third try (rf_step_info.attempt tells which try it is). Workflow "doomed": its "fetch" always
 * fails; after its two tries STEP_FAILED and RUN_FAILED end the run, rf_run_get_result() returns
 * RF_E_STATE and rf_last_error() says how the run ended and why.
 *
 *   retries          each try "calls upstream" for ~20 ms
 *   retries --fast   no delays (the test suite runs this); the backoff is 5 ms either way
 */
#include "example.h"

/* "fetch": accepts "start", sends "stop". Succeeds from try number *user_data on (0 = never). */
static rf_status fetch(void *user_data, rf_step_ctx *ctx) {
    const uint32_t *succeed_on = user_data;
    rf_step_info info = {.struct_size = sizeof info};
    rf_status status = rf_step_ctx_get_info(ctx, &info);
    if (status != RF_OK) return status;
    pause_ms(20);
    if (*succeed_on == 0 || info.attempt < *succeed_on) {
        rf_step_ctx_set_error(ctx, "upstream returned 503");
        return RF_E_SYSTEM;
    }
    char result[64];
    int n = snprintf(result, sizeof result, "{\"fetched\":true,\"attempt\":%u}", info.attempt);
    return rf_step_ctx_stop(ctx, result, (uint32_t)n);
}

/* A one-step workflow whose step is tried `attempts` times and succeeds on try *succeed_on. */
static rf_workflow *make_workflow(rf_engine *engine, const char *name, uint32_t attempts, uint32_t *succeed_on) {
    rf_workflow *workflow;
    check(rf_workflow_create(engine, name, &workflow), "rf_workflow_create");
    rf_step_options retry;
    check(rf_step_options_init(&retry, sizeof retry), "rf_step_options_init");
    retry.retry_attempts = attempts;
    retry.retry_initial_backoff_ms = 5;
    retry.retry_multiplier = 2.0;
    check(rf_workflow_add_step(workflow, "fetch", "start", "stop", fetch, succeed_on, NULL, &retry), "add fetch");
    check(rf_workflow_build(workflow), "rf_workflow_build");
    return workflow;
}

/* Runs a workflow to its end, printing the events about tries and how the run ended. */
static rf_run *run_and_watch(rf_workflow *workflow) {
    rf_run *run;
    check(rf_run_create(workflow, NULL, &run), "rf_run_create");
    rf_subscription *stream;
    check(rf_subscription_create(run, NULL, &stream), "rf_subscription_create");
    check(rf_run_start(run, NULL, 0), "rf_run_start");
    rf_event event = {.struct_size = sizeof event};
    rf_status status;
    while ((status = rf_subscription_read(stream, &event, -1)) == RF_OK) {
        switch (event.kind) {
        case RF_EVENT_STEP_RETRYING:
        case RF_EVENT_STEP_FAILED:
        case RF_EVENT_RUN_FAILED:
        case RF_EVENT_RUN_COMPLETED:
            printf("  %-14s", rf_event_kind_name(event.kind));
            if (event.attempt > 0) printf(" attempt %u", event.attempt);  /* step events only */
            printf(" %s\n", event.data);
            break;
        default: break;
        }
    }
    if (status != RF_E_END_OF_STREAM) check(status, "rf_subscription_read");
    rf_subscription_release(stream);
    return run;
}

int main(int argc, char **argv) {
    example_init(argc, argv);
    rf_engine *engine;
    check(rf_engine_create(NULL, &engine), "rf_engine_create");
    static uint32_t third_try = 3, never = 0;
    rf_workflow *flaky = make_workflow(engine, "flaky", 3, &third_try);
    rf_workflow *doomed = make_workflow(engine, "doomed", 2, &never);

    /* Fails twice, then succeeds. */
    printf("flaky:\n");
    rf_run *run = run_and_watch(flaky);
    const char *result;
    uint32_t length;
    check(rf_run_get_result(run, (const void **)&result, &length), "rf_run_get_result");
    printf("  result: %s\n", result);
    rf_run_release(run);

    /* Fails on every try: the run fails, and there is no result. */
    printf("doomed:\n");
    run = run_and_watch(doomed);
    rf_status status = rf_run_get_result(run, (const void **)&result, &length);
    printf("  rf_run_get_result: %s: %s\n", rf_status_name(status), rf_last_error());
    rf_run_release(run);

    rf_workflow_release(doomed);
    rf_workflow_release(flaky);
    rf_engine_release(engine);
    return 0;
}

/* stream_modes: one run watched through the five stream modes side by side.
 *
 * A subscription's mode is a named filter over event kinds, like .NET's StreamMode or
 * LangGraph's stream_mode. The same run, read five times:
 *
 *   RF_STREAM_TOKENS    everything, token deltas included (a chat UI typing the answer)
 *   RF_STREAM_MESSAGES  everything but token deltas (a log of what happened)
 *   RF_STREAM_UPDATES   step completions, state changes, input required (a progress view)
 *   RF_STREAM_VALUES    state changes only (the run's state as it evolves)
 *   RF_STREAM_CUSTOM    the kinds you pick in `kinds` (here: step completions only)
 *
 * Whatever the mode, the run's terminal event always passes, so every reader learns how the run
 * ended. Step "plan" sets state "plan" and sends "planned"; step "answer" streams six tokens,
 * sets state "answer" and ends the run. All five subscriptions are created before the run
 * starts, so none misses anything; each is read after the run has ended (the run keeps its
 * events for its subscribers) and printed as one line: the kinds it saw, in stream order.
 *
 *   stream_modes          tokens arrive ~20 ms apart
 *   stream_modes --fast   no delays (the test suite runs this)
 */
#include "example.h"

/* Step one: accepts "start", records a plan in the run's state, sends "planned". */
static rf_status plan(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const char *value = "[\"look it up\",\"answer briefly\"]";
    rf_status status = rf_step_ctx_set_state(ctx, "plan", value, (uint32_t)strlen(value));
    if (status != RF_OK) return status;
    return rf_step_ctx_send(ctx, "planned", NULL, 0);
}

/* Step two: accepts "planned", streams the answer, stores it in the state, ends the run. */
static rf_status answer(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    static const char *tokens[] = {"The", " capital", " of", " Norway", " is", " Oslo."};
    char text[128] = "";
    rf_status status = stream_deltas(ctx, tokens, sizeof tokens / sizeof tokens[0], text, sizeof text, 20);
    if (status != RF_OK) return status;
    char json[160];
    int n = snprintf(json, sizeof json, "\"%s\"", text);
    status = rf_step_ctx_set_state(ctx, "answer", json, (uint32_t)n);
    if (status != RF_OK) return status;
    return rf_step_ctx_stop(ctx, json, (uint32_t)n);
}

int main(int argc, char **argv) {
    example_init(argc, argv);
    rf_engine *engine;
    check(rf_engine_create(NULL, &engine), "rf_engine_create");
    rf_workflow *workflow;
    check(rf_workflow_create(engine, "modes", &workflow), "rf_workflow_create");
    check(rf_workflow_add_step(workflow, "plan", "start", "planned", plan, NULL, NULL, NULL), "add plan");
    check(rf_workflow_add_step(workflow, "answer", "planned", "stop", answer, NULL, NULL, NULL), "add answer");
    check(rf_workflow_build(workflow), "rf_workflow_build");

    rf_run *run;
    check(rf_run_create(workflow, NULL, &run), "rf_run_create");

    /* One subscription per mode, all attached while the run is pending. */
    static const struct { rf_stream_mode mode; const char *name; } modes[] = {
        {RF_STREAM_TOKENS, "tokens"}, {RF_STREAM_MESSAGES, "messages"}, {RF_STREAM_UPDATES, "updates"},
        {RF_STREAM_VALUES, "values"}, {RF_STREAM_CUSTOM, "custom"},
    };
    enum { MODES = 5 };
    rf_subscription *streams[MODES];
    for (int m = 0; m < MODES; m++) {
        rf_subscription_options options;
        check(rf_subscription_options_init(&options), "rf_subscription_options_init");
        options.mode = modes[m].mode;
        if (modes[m].mode == RF_STREAM_CUSTOM) options.kinds = RF_KIND_BIT(RF_EVENT_STEP_COMPLETED);
        check(rf_subscription_create(run, &options, &streams[m]), "rf_subscription_create");
    }

    const char *question = "\"What is the capital of Norway?\"";
    check(rf_run_start(run, question, (uint32_t)strlen(question)), "rf_run_start");
    rf_run_status run_status;
    check(rf_run_wait(run, -1, &run_status), "rf_run_wait");

    /* Each mode's view of the same run. */
    for (int m = 0; m < MODES; m++) {
        char kinds[1024] = "";
        int count = 0;
        rf_event event = {.struct_size = sizeof event};
        rf_status status;
        while ((status = rf_subscription_read(streams[m], &event, -1)) == RF_OK) {
            if (count++ > 0) strncat(kinds, " ", sizeof kinds - strlen(kinds) - 1);
            strncat(kinds, rf_event_kind_name(event.kind), sizeof kinds - strlen(kinds) - 1);
        }
        if (status != RF_E_END_OF_STREAM) check(status, "rf_subscription_read");
        printf("%-9s %2d: %s\n", modes[m].name, count, kinds);
    }

    const char *result;
    uint32_t length;
    check(rf_run_get_result(run, (const void **)&result, &length), "rf_run_get_result");
    printf("result: %s\n", result);

    for (int m = 0; m < MODES; m++) rf_subscription_release(streams[m]);
    rf_run_release(run);
    rf_workflow_release(workflow);
    rf_engine_release(engine);
    return 0;
}

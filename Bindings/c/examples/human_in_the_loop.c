/* human_in_the_loop: a run that stops to ask a person, then goes on with the answer.
 *
 * Step "draft" writes a draft (streamed as tokens), then asks for a review with
 * rf_step_ctx_request_input(): when the step completes, the run emits INPUT_REQUIRED with the
 * prompt and suspends (RF_RUN_SUSPENDED). Nothing runs while it waits, for as long as it takes.
 * rf_run_resume() delivers the answer as an event of the type the step named ("review"), and
 * step "publish", which accepts "review", decides with it.
 *
 * The watcher is a request/response client: its subscription has RF_SUBSCRIBE_END_AT_SUSPENSION,
 * so the stream ends right after INPUT_REQUIRED (instead of staying open while the run waits)
 * and the client can go and ask the human. To follow the rest, it subscribes again from the
 * seq after the question, so it neither misses nor repeats an event. Resuming a run that is not
 * waiting for an answer is refused with RF_E_STATE.
 *
 *   human_in_the_loop          the draft is written ~25 ms per token
 *   human_in_the_loop --fast   no delays (the test suite runs this)
 */
#include "example.h"

/* Step one: accepts "start", writes a draft, asks whether to publish it ("review"). */
static rf_status draft(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    static const char *tokens[] = {"Rillflow", " 1.2", " adds", " workflows."};
    char text[128] = "";
    rf_status status = stream_deltas(ctx, tokens, sizeof tokens / sizeof tokens[0], text, sizeof text, 25);
    if (status != RF_OK) return status;
    char prompt[256];
    int n = snprintf(prompt, sizeof prompt, "{\"question\":\"Publish this draft?\",\"draft\":\"%s\"}", text);
    return rf_step_ctx_request_input(ctx, prompt, (uint32_t)n, "review");
}

/* Step two: accepts "review", whose input is the human's answer (JSON). */
static rf_status publish(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const char *answer;
    uint32_t length;
    rf_status status = rf_step_ctx_input(ctx, 0, (const void **)&answer, &length);
    if (status != RF_OK) return status;
    char result[256];
    int n;
    if (length == 5 && memcmp(answer, "\"yes\"", 5) == 0)
        n = snprintf(result, sizeof result, "{\"published\":true,\"answer\":%.*s}", (int)length, answer);
    else
        n = snprintf(result, sizeof result, "{\"published\":false}");
    return rf_step_ctx_stop(ctx, result, (uint32_t)n);
}

/* One line per event: seq, kind, step (if any), and the data of the kinds this page is about. */
static void show(const rf_event *event) {
    printf("seq %llu %s", (unsigned long long)event->seq, rf_event_kind_name(event->kind));
    if (event->step_name[0] != '\0') printf(" %s", event->step_name);
    switch (event->kind) {
    case RF_EVENT_TOKEN: printf(" \"%s\"", event->data); break;
    case RF_EVENT_INPUT_REQUIRED:
    case RF_EVENT_RUN_RESUMED:
    case RF_EVENT_RUN_COMPLETED: printf(" %s", event->data); break;
    default: break;
    }
    printf("\n");
}

int main(int argc, char **argv) {
    example_init(argc, argv);
    rf_engine *engine;
    check(rf_engine_create(NULL, &engine), "rf_engine_create");
    rf_workflow *workflow;
    check(rf_workflow_create(engine, "review", &workflow), "rf_workflow_create");
    check(rf_workflow_add_step(workflow, "draft", "start", "review", draft, NULL, NULL, NULL), "add draft");
    check(rf_workflow_add_step(workflow, "publish", "review", "stop", publish, NULL, NULL, NULL), "add publish");
    check(rf_workflow_build(workflow), "rf_workflow_build");

    rf_run *run;
    check(rf_run_create(workflow, NULL, &run), "rf_run_create");
    rf_subscription_options options;
    check(rf_subscription_options_init(&options), "rf_subscription_options_init");
    options.flags = RF_SUBSCRIBE_END_AT_SUSPENSION;
    rf_subscription *first;
    check(rf_subscription_create(run, &options, &first), "rf_subscription_create");
    check(rf_run_start(run, NULL, 0), "rf_run_start");

    /* Part one: the stream ends at the question. */
    rf_event event = {.struct_size = sizeof event};
    rf_status status;
    uint64_t question_seq = 0;
    while ((status = rf_subscription_read(first, &event, -1)) == RF_OK) {
        show(&event);
        if (event.kind == RF_EVENT_INPUT_REQUIRED) question_seq = event.seq;
    }
    if (status != RF_E_END_OF_STREAM) check(status, "rf_subscription_read");
    rf_run_status run_status;
    check(rf_run_wait(run, -1, &run_status), "rf_run_wait");
    printf("run status %u (%s)\n", run_status, run_status == RF_RUN_SUSPENDED ? "suspended" : "not suspended!");

    /* Part two: the human says yes; follow the run from just after the question. */
    options.flags = 0;
    options.start_seq = question_seq + 1;
    rf_subscription *second;
    check(rf_subscription_create(run, &options, &second), "rf_subscription_create (after the question)");
    const char *answer = "\"yes\"";
    check(rf_run_resume(run, answer, (uint32_t)strlen(answer)), "rf_run_resume");
    while ((status = rf_subscription_read(second, &event, -1)) == RF_OK) show(&event);
    if (status != RF_E_END_OF_STREAM) check(status, "rf_subscription_read (after the question)");

    const char *result;
    uint32_t length;
    check(rf_run_get_result(run, (const void **)&result, &length), "rf_run_get_result");
    printf("result: %s\n", result);

    /* The run no longer waits for an answer: a second resume is refused. */
    status = rf_run_resume(run, answer, (uint32_t)strlen(answer));
    printf("resume again: %s\n", rf_status_name(status));

    rf_subscription_release(second);
    rf_subscription_release(first);
    rf_run_release(run);
    rf_workflow_release(workflow);
    rf_engine_release(engine);
    return 0;
}

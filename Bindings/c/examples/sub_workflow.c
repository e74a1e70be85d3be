/* sub_workflow: a step that runs a whole other workflow and goes on with its result.
 *
 * Workflow "summarize" is a workflow of its own (one step that streams a summary and stops).
 * Workflow "research" uses it as a sub-workflow: its step "gather" calls
 * rf_step_ctx_start_child(), which starts a child run of "summarize" when "gather" completes.
 * When the child completes, its result arrives in the parent as an event of the type "gather"
 * named ("summary"), which step "report" accepts. If the child failed, the parent would fail.
 *
 * The child's events appear in the parent's stream too: one subscription to the parent sees
 * everything, and each event says which run emitted it (run_id), that run's parent and the
 * top-level run (root_run_id), so a UI can nest them. The child's run_completed is in the
 * stream, but it does not end it: only the parent's own terminal event does.
 *
 *   sub_workflow          summary tokens arrive ~25 ms apart
 *   sub_workflow --fast   no delays (the test suite runs this)
 */
#include "example.h"

/* The child's only step: accepts "start", streams a summary, stops with it (a JSON string). */
static rf_status summarize(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    static const char *tokens[] = {"Rivers", " carve", " their", " valleys."};
    char text[128] = "";
    rf_status status = stream_deltas(ctx, tokens, sizeof tokens / sizeof tokens[0], text, sizeof text, 25);
    if (status != RF_OK) return status;
    char result[160];
    int n = snprintf(result, sizeof result, "\"%s\"", text);
    return rf_step_ctx_stop(ctx, result, (uint32_t)n);
}

/* The parent's first step: accepts "start", hands its input to a child run of the workflow in
 * user_data; the child's result comes back as "summary". */
static rf_status gather(void *user_data, rf_step_ctx *ctx) {
    rf_workflow *child = user_data;
    const char *input;
    uint32_t length;
    rf_status status = rf_step_ctx_input(ctx, 0, (const void **)&input, &length);
    if (status != RF_OK) return status;
    return rf_step_ctx_start_child(ctx, child, input, length, "summary");
}

/* The parent's second step: accepts "summary", whose input is the child's result. */
static rf_status report(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const char *summary;
    uint32_t length;
    rf_status status = rf_step_ctx_input(ctx, 0, (const void **)&summary, &length);
    if (status != RF_OK) return status;
    char result[256];
    int n = snprintf(result, sizeof result, "{\"report\":%.*s}", (int)length, summary);
    return rf_step_ctx_stop(ctx, result, (uint32_t)n);
}

int main(int argc, char **argv) {
    example_init(argc, argv);
    rf_engine *engine;
    check(rf_engine_create(NULL, &engine), "rf_engine_create");

    /* The child workflow, built on its own. */
    rf_workflow *child;
    check(rf_workflow_create(engine, "summarize", &child), "rf_workflow_create (child)");
    check(rf_workflow_add_step(child, "summarize", "start", "stop", summarize, NULL, NULL, NULL), "add summarize");
    check(rf_workflow_build(child), "rf_workflow_build (child)");

    /* The parent: gather (runs the child) -> report. */
    rf_workflow *parent;
    check(rf_workflow_create(engine, "research", &parent), "rf_workflow_create (parent)");
    check(rf_workflow_add_step(parent, "gather", "start", "summary", gather, child, NULL, NULL), "add gather");
    check(rf_workflow_add_step(parent, "report", "summary", "stop", report, NULL, NULL, NULL), "add report");
    check(rf_workflow_build(parent), "rf_workflow_build (parent)");

    rf_run *run;
    check(rf_run_create(parent, NULL, &run), "rf_run_create");
    rf_subscription *stream;
    check(rf_subscription_create(run, NULL, &stream), "rf_subscription_create");
    const char *input = "\"How do rivers shape land?\"";
    check(rf_run_start(run, input, (uint32_t)strlen(input)), "rf_run_start");

    /* One subscription, to the parent only: the child's events come through it too. */
    rf_event event = {.struct_size = sizeof event};
    rf_status status;
    uint64_t last_run_id = 0;
    while ((status = rf_subscription_read(stream, &event, -1)) == RF_OK) {
        printf("run %llu (parent %llu, root %llu) %s", (unsigned long long)event.run_id,
               (unsigned long long)event.parent_run_id, (unsigned long long)event.root_run_id,
               rf_event_kind_name(event.kind));
        if (event.step_name[0] != '\0') printf(" %s", event.step_name);
        if (event.kind == RF_EVENT_TOKEN) printf(" \"%s\"", event.data);
        printf("\n");
        last_run_id = event.run_id;
    }
    if (status != RF_E_END_OF_STREAM) check(status, "rf_subscription_read");
    uint64_t parent_id;
    check(rf_run_get_id(run, &parent_id), "rf_run_get_id");
    printf("the stream ended with run %llu's terminal event (the parent is run %llu)\n",
           (unsigned long long)last_run_id, (unsigned long long)parent_id);

    const char *result;
    uint32_t length;
    check(rf_run_get_result(run, (const void **)&result, &length), "rf_run_get_result");
    printf("result: %s\n", result);

    rf_subscription_release(stream);
    rf_run_release(run);
    rf_workflow_release(parent);
    rf_workflow_release(child);
    rf_engine_release(engine);
    return 0;
}

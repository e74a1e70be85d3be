/* three_step: a three-step workflow that streams progress and LLM tokens, live.
 *
 * The C version of the streaming page every workflow library has: step one reports progress
 * as it reads three sources, step two "calls an LLM" and streams its answer token by token (and
 * reports token usage), step three finishes the run with a result. The main thread watches the run's stream: tokens
 * appear as they are written, progress as it moves, and at the end the run's timeline (each
 * step's start and duration) and its token usage.
 *
 *   three_step          tokens arrive ~25 ms apart, like a model writing
 *   three_step --fast   no delays (the test suite runs this)
 */
#include "example.h"

/* Step one: accepts "start", sends "researched". */
static rf_status research(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const char *input;
    uint32_t length;
    rf_status status = rf_step_ctx_input(ctx, 0, (const void **)&input, &length);
    if (status != RF_OK) return status;
    const char *msg = "{\"msg\":\"Step one is happening\"}";
    rf_step_ctx_emit_custom(ctx, "progress", msg, (uint32_t)strlen(msg));
    /* Three sources to read: progress moves 1/3, 2/3, 3/3. */
    for (uint64_t source = 1; source <= 3; source++) {
        pause_ms(150);
        rf_step_ctx_emit_progress(ctx, source, 3, "reading sources");
    }
    return rf_step_ctx_send(ctx, "researched", input, length);
}

/* Step two: accepts "researched", streams an answer, sends "written". */
static rf_status write_answer(void *user_data, rf_step_ctx *ctx) {
    const char *const *deltas = user_data;
    uint64_t count = 0;
    while (deltas[count] != NULL) count++;
    char answer[512] = "";
    rf_status status = stream_deltas(ctx, deltas, count, answer, sizeof answer, 25);  /* stops if cancelled */
    if (status != RF_OK) return status;
    rf_token_usage usage = {.struct_size = sizeof usage, .input_tokens = 18, .output_tokens = count,
                            .total_tokens = 18 + count};
    rf_step_ctx_report_usage(ctx, &usage);
    char state[600];
    int n = snprintf(state, sizeof state, "\"%s\"", answer);
    rf_step_ctx_set_state(ctx, "answer", state, (uint32_t)n);
    return rf_step_ctx_send(ctx, "written", answer, (uint32_t)strlen(answer));
}

/* Step three: accepts "written", ends the run with a result. */
static rf_status finish(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const char *msg = "{\"msg\":\"Step three is happening\"}";
    rf_step_ctx_emit_custom(ctx, "progress", msg, (uint32_t)strlen(msg));
    const char *result = "\"Workflow complete.\"";
    return rf_step_ctx_stop(ctx, result, (uint32_t)strlen(result));
}

static const char *deltas[] = {"Call", " me", " Ish", "mael.", " Some", " years", " ago", ",", " never",
                               " mind", " how", " long", " precisely", ".", NULL};

int main(int argc, char **argv) {
    example_init(argc, argv);
    rf_engine *engine;
    check(rf_engine_create(NULL, &engine), "rf_engine_create");

    /* The workflow: research -> write -> finish. */
    rf_workflow *workflow;
    check(rf_workflow_create(engine, "three-step", &workflow), "rf_workflow_create");
    check(rf_workflow_add_step(workflow, "research", "start", "researched", research, NULL, NULL, NULL), "add research");
    check(rf_workflow_add_step(workflow, "write", "researched", "written", write_answer, deltas, NULL, NULL), "add write");
    check(rf_workflow_add_step(workflow, "finish", "written", "stop", finish, NULL, NULL, NULL), "add finish");
    check(rf_workflow_build(workflow), "rf_workflow_build");

    /* A run is created pending: subscribe first, then start it, and nothing is missed. */
    rf_run *run;
    check(rf_run_create(workflow, NULL, &run), "rf_run_create");
    rf_subscription *stream;
    check(rf_subscription_create(run, NULL, &stream), "rf_subscription_create");
    const char *input = "Please give me the first paragraph of Moby Dick.";
    check(rf_run_start(run, input, (uint32_t)strlen(input)), "rf_run_start");

    struct { char step[32]; int64_t started_ns, duration_ns; } timeline[8];
    int steps = 0;
    int64_t run_started_ns = 0;
    rf_event event = {.struct_size = sizeof event};
    rf_status status;
    while ((status = rf_subscription_read(stream, &event, -1)) == RF_OK) {
        switch (event.kind) {
        case RF_EVENT_RUN_STARTED: run_started_ns = event.timestamp_ns; break;
        case RF_EVENT_STEP_STARTED:
            if (steps < 8) {
                snprintf(timeline[steps].step, sizeof timeline[steps].step, "%s", event.step_name);
                timeline[steps++].started_ns = event.timestamp_ns;
            }
            break;
        case RF_EVENT_STEP_COMPLETED:
            if (steps > 0) timeline[steps - 1].duration_ns = event.timestamp_ns - timeline[steps - 1].started_ns;
            break;
        case RF_EVENT_CUSTOM: printf("[%s] %s\n", event.topic, event.data); break;
        case RF_EVENT_PROGRESS: printf("[progress] %s %s\n", event.step_name, event.data); break;
        case RF_EVENT_TOKEN:  /* the delta's text, as it arrives */
            printf("%s", event.data);
            fflush(stdout);
            break;
        case RF_EVENT_STATE_CHANGED: printf("\n[state] %s\n", event.data); break;
        default: break;
        }
        if (event.kind == RF_EVENT_RUN_COMPLETED) printf("[run_completed] %s\n", event.data);
    }
    if (status != RF_E_END_OF_STREAM) check(status, "rf_subscription_read");

    printf("\ntimeline:\n");
    for (int i = 0; i < steps; i++) {
        printf("  %-9s +%7.3f ms  took %7.3f ms\n", timeline[i].step,
               (timeline[i].started_ns - run_started_ns) / 1e6, timeline[i].duration_ns / 1e6);
    }
    rf_token_usage usage = {.struct_size = sizeof usage};
    check(rf_run_get_usage(run, &usage), "rf_run_get_usage");
    printf("usage: input %llu, output %llu, total %llu tokens\n", (unsigned long long)usage.input_tokens,
           (unsigned long long)usage.output_tokens, (unsigned long long)usage.total_tokens);
    const char *result;
    uint32_t length;
    check(rf_run_get_result(run, (const void **)&result, &length), "rf_run_get_result");
    printf("result: %s\n", result);

    rf_subscription_release(stream);
    rf_run_release(run);
    rf_workflow_release(workflow);
    rf_engine_release(engine);
    return 0;
}

/* topic_progress: progress on a named topic, watched live, then replayed from a seq.
 *
 * A step can write JSON to any number of named streams ("topics") with rf_step_ctx_emit_custom(),
 * like Mistral Workflows' topics. Step "process" splits a sentence into words and, for each word,
 * writes {"progress_idx", "progress_total", "word"} on topic "progress-stream" and the word
 * itself on topic "token"; then it ends the run with the processed text.
 *
 * The main thread subscribes in RF_STREAM_CUSTOM mode with a filter: only CUSTOM events, and of
 * those only topic "progress-stream" (the run's terminal event always passes every filter). So
 * it sees progress lines, never the "token" topic.
 *
 * Every event has a seq (1, 2, 3, ... per run), and the run retains its log after it ends. A
 * client that lost its connection resumes where it was, like Mistral's broker_sequence: a new
 * subscription with start_seq = the first seq it has not seen (the last it saw + 1) replays
 * from there, with no gap and no duplicate. Here a second subscription, for a client whose
 * connection dropped just before the third progress event, starts at that event's seq after
 * the run has ended.
 *
 *   topic_progress          each word takes ~30 ms
 *   topic_progress --fast   no delays (the test suite runs this)
 */
#include "example.h"

/* The only step: accepts "start" (a sentence), reports each word on two topics, stops. */
static rf_status process(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const char *input;
    uint32_t length;
    rf_status status = rf_step_ctx_input(ctx, 0, (const void **)&input, &length);
    if (status != RF_OK) return status;
    char text[256], *words[32], *rest;
    int n = 0;
    snprintf(text, sizeof text, "%.*s", (int)length, input);
    for (char *p = strtok_r(text, " ", &rest); p && n < 32; p = strtok_r(NULL, " ", &rest)) words[n++] = p;

    char processed[256] = "", json[128];
    for (int i = 0; i < n; i++) {
        int len = snprintf(json, sizeof json, "{\"progress_idx\":%d,\"progress_total\":%d,\"word\":\"%s\"}", i, n, words[i]);
        if ((status = rf_step_ctx_emit_custom(ctx, "progress-stream", json, (uint32_t)len)) != RF_OK) return status;
        len = snprintf(json, sizeof json, "\"%s\"", words[i]);
        if ((status = rf_step_ctx_emit_custom(ctx, "token", json, (uint32_t)len)) != RF_OK) return status;
        for (char *c = words[i]; *c; c++) if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
        if (i > 0) strncat(processed, " ", sizeof processed - strlen(processed) - 1);
        strncat(processed, words[i], sizeof processed - strlen(processed) - 1);
        pause_ms(30);
    }
    char result[320];
    int len = snprintf(result, sizeof result, "{\"processed_text\":\"%s\",\"token_count\":%d}", processed, n);
    return rf_step_ctx_stop(ctx, result, (uint32_t)len);
}

int main(int argc, char **argv) {
    example_init(argc, argv);
    rf_engine *engine;
    check(rf_engine_create(NULL, &engine), "rf_engine_create");
    rf_workflow *workflow;
    check(rf_workflow_create(engine, "words", &workflow), "rf_workflow_create");
    check(rf_workflow_add_step(workflow, "process", "start", "stop", process, NULL, NULL, NULL), "add process");
    check(rf_workflow_build(workflow), "rf_workflow_build");

    /* Only CUSTOM events, and only those on topic "progress-stream". */
    const char *topics[] = {"progress-stream"};
    rf_subscription_options filter;
    check(rf_subscription_options_init(&filter), "rf_subscription_options_init");
    filter.mode = RF_STREAM_CUSTOM;
    filter.kinds = RF_KIND_BIT(RF_EVENT_CUSTOM);
    filter.topics = topics;
    filter.topic_count = 1;

    rf_run *run;
    check(rf_run_create(workflow, NULL, &run), "rf_run_create");
    rf_subscription *live;
    check(rf_subscription_create(run, &filter, &live), "rf_subscription_create");
    const char *sentence = "the quick brown fox jumps over the lazy dog";
    check(rf_run_start(run, sentence, (uint32_t)strlen(sentence)), "rf_run_start");

    rf_event event = {.struct_size = sizeof event};
    rf_status status;
    uint64_t third_seq = 0;
    int progress = 0;
    while ((status = rf_subscription_read(live, &event, -1)) == RF_OK) {
        if (event.kind != RF_EVENT_CUSTOM) {  /* the terminal event */
            printf("seq %llu %s\n", (unsigned long long)event.seq, rf_event_kind_name(event.kind));
            continue;
        }
        printf("seq %llu %s %s\n", (unsigned long long)event.seq, event.topic, event.data);
        if (++progress == 3) third_seq = event.seq;
    }
    if (status != RF_E_END_OF_STREAM) check(status, "rf_subscription_read");
    const char *result;
    uint32_t length;
    check(rf_run_get_result(run, (const void **)&result, &length), "rf_run_get_result");
    printf("result: %s\n", result);

    /* Resume: a client that lost its connection just before the third progress event starts
     * at that event's seq, the first it has not seen. */
    filter.start_seq = third_seq;
    rf_subscription *replay;
    check(rf_subscription_create(run, &filter, &replay), "rf_subscription_create (replay)");
    int replayed = 0, replayed_progress = 0;
    uint64_t first_seq = 0;
    rf_event_kind last_kind = 0;
    while ((status = rf_subscription_read(replay, &event, -1)) == RF_OK) {
        if (replayed++ == 0) first_seq = event.seq;
        if (event.kind == RF_EVENT_CUSTOM) replayed_progress++;
        last_kind = event.kind;
    }
    if (status != RF_E_END_OF_STREAM) check(status, "rf_subscription_read (replay)");
    printf("replay from seq %llu: %d events (%d progress + %s), first seq %llu\n", (unsigned long long)third_seq,
           replayed, replayed_progress, rf_event_kind_name(last_kind), (unsigned long long)first_seq);

    rf_subscription_release(replay);
    rf_subscription_release(live);
    rf_run_release(run);
    rf_workflow_release(workflow);
    rf_engine_release(engine);
    return 0;
}

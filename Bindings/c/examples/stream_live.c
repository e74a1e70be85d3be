/* stream_live: a run streaming what it does, live, to a watcher.
 *
 * A "writer" thread plays the part of a step calling an LLM: it streams token deltas, reports
 * progress per paragraph, updates run state, and posts status messages on a named topic. The
 * main thread subscribes before the run starts and prints everything as it arrives, then the
 * run's timeline and its terminal event as the JSON envelope every binding uses.
 *
 *   stream_live          tokens arrive ~20 ms apart, like a model writing
 *   stream_live --fast   no delays (the test suite runs this)
 */
#include "example.h"
#include <pthread.h>

static const char *paragraphs[] = {
    "Call me Ishmael. ",
    "Some years ago, never mind how long precisely, having little money in my purse, ",
    "I thought I would sail about a little and see the watery part of the world.",
};
enum { PARAGRAPHS = 3 };

static void emit(rf_run *run, rf_event_kind kind, const char *topic, const char *data, uint32_t length, uint64_t index) {
    rf_emit e = {.struct_size = sizeof e, .kind = kind, .step_name = "write", .topic = topic,
                 .data = data, .data_len = length, .attempt = 1, .token_index = index};
    check(rf_run_emit(run, &e, NULL), "rf_run_emit");
}

static void *writer(void *arg) {
    rf_run *run = arg;
    char json[160];
    uint64_t token = 0;
    emit(run, RF_EVENT_STEP_STARTED, NULL, "{\"input_bytes\":0}", 17, 0);
    emit(run, RF_EVENT_CUSTOM, "status", "{\"msg\":\"Step one is happening\"}", 31, 0);
    for (int p = 0; p < PARAGRAPHS; p++) {
        /* Token deltas: a few characters at a time, as a model streams them. */
        const char *text = paragraphs[p];
        for (size_t at = 0, length = strlen(text); at < length; at += 4) {
            uint32_t size = (uint32_t)(length - at < 4 ? length - at : 4);
            emit(run, RF_EVENT_TOKEN, NULL, text + at, size, token++);
            pause_ms(20);
        }
        int n = snprintf(json, sizeof json, "{\"completed\":%d,\"total\":%d,\"index\":%d,\"status\":\"success\"}", p + 1, PARAGRAPHS, p);
        emit(run, RF_EVENT_PROGRESS, NULL, json, (uint32_t)n, 0);
        n = snprintf(json, sizeof json, "{\"key\":\"paragraphs_written\",\"value\":%d}", p + 1);
        emit(run, RF_EVENT_STATE_CHANGED, NULL, json, (uint32_t)n, 0);
    }
    emit(run, RF_EVENT_STEP_COMPLETED, NULL, "{\"duration_ns\":1}", 17, 0);
    const char *result = "{\"result\":\"Workflow complete.\",\"usage\":{\"input_tokens\":12,\"output_tokens\":41,\"total_tokens\":53}}";
    check(rf_run_end(run, RF_EVENT_RUN_COMPLETED, result, (uint32_t)strlen(result)), "rf_run_end");
    return NULL;
}

int main(int argc, char **argv) {
    example_init(argc, argv);
    rf_engine *engine = NULL;
    check(rf_engine_create(NULL, &engine), "rf_engine_create");
    rf_run *run = NULL;
    check(rf_run_create_manual(engine, "moby-dick", NULL, &run), "rf_run_create_manual");

    /* Subscribe first: the run is pending, so nothing can be missed. */
    rf_subscription *subscription = NULL;
    check(rf_subscription_create(run, NULL, &subscription), "rf_subscription_create");
    check(rf_run_start(run, NULL, 0), "rf_run_start");
    pthread_t thread;
    pthread_create(&thread, NULL, writer, run);

    int counts[RF_EVENT_LAGGED + 1] = {0};
    int64_t first_ns = 0, last_ns = 0;
    rf_event event = {.struct_size = sizeof event};
    char json[1024];
    size_t json_length = 0;
    int mid_line = 0; /* tokens are printed without newlines; other events start a new line */
    rf_status status;
    while ((status = rf_subscription_read(subscription, &event, -1)) == RF_OK) {
        if (event.kind <= RF_EVENT_LAGGED) counts[event.kind]++;
        if (!first_ns) first_ns = event.timestamp_ns;
        last_ns = event.timestamp_ns;
        switch (event.kind) {
        case RF_EVENT_TOKEN:
            fwrite(event.data, 1, event.data_len, stdout); /* the text as it streams */
            fflush(stdout);
            mid_line = 1;
            continue;
        }
        if (mid_line) putchar('\n');
        mid_line = 0;
        switch (event.kind) {
        case RF_EVENT_PROGRESS:
        case RF_EVENT_STATE_CHANGED:
        case RF_EVENT_CUSTOM:
            printf("  [%s%s%s] %s\n", rf_event_kind_name(event.kind), *event.topic ? " " : "", event.topic, event.data);
            break;
        default:
            if (event.kind >= RF_EVENT_RUN_COMPLETED)
                check(rf_event_to_json(&event, json, sizeof json, &json_length), "rf_event_to_json");
            else
                printf("  [%s%s%s]\n", rf_event_kind_name(event.kind), *event.step_name ? " " : "", event.step_name);
        }
    }
    if (status != RF_E_END_OF_STREAM) check(status, "rf_subscription_read");
    pthread_join(thread, NULL);

    printf("\ntimeline of run \"moby-dick\" (%.1f ms):\n", (double)(last_ns - first_ns) / 1e6);
    for (int kind = 1; kind <= RF_EVENT_LAGGED; kind++)
        if (counts[kind]) printf("  %-15s %d\n", rf_event_kind_name((rf_event_kind)kind), counts[kind]);
    printf("terminal event: %s\n", json);

    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_engine_release(engine);
    return 0;
}

/* foreach_progress: one step run once per item of a list, with live progress per item.
 *
 * The foreach page of the tutorial (Mastra calls it workflow-step-progress). Step "split" turns
 * the run's input into a list of five cities and sends it with rf_step_ctx_send_each(). Step
 * "forecast" is a foreach step (rf_step_options.foreach_done): the engine runs it once per city,
 * two at a time (concurrency 2), and after each item's try writes a PROGRESS event carrying
 * {"completed", "total", "index", "status", "output"}, where "output" is what the item set with
 * rf_step_ctx_set_output(). When every item is done, the outputs go on together, in item order
 * (not completion order), as one "forecasts" event to step "summarize", which sees them as its
 * inputs 0 .. input_count - 1 and ends the run with all of them.
 *
 * The main thread prints each PROGRESS event as it comes. Items run concurrently, so which city
 * finishes first may change from run to run, but "completed" always counts up 1, 2, ... 5.
 *
 *   foreach_progress          each forecast takes ~40 ms, like a web call
 *   foreach_progress --fast   no delays (the test suite runs this)
 */
#include "example.h"

/* The "weather service" the forecast step calls. */
static const struct { const char *name; int temp_c; } cities[] = {
    {"Oslo", 3}, {"Lima", 19}, {"Cairo", 27}, {"Perth", 22}, {"Quito", 14},
};
enum { CITIES = 5 };

/* Step one: accepts "start", sends the list of cities as one "cities" event. */
static rf_status split(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const void *items[CITIES];
    uint32_t lens[CITIES];
    for (int i = 0; i < CITIES; i++) {
        items[i] = cities[i].name;
        lens[i] = (uint32_t)strlen(cities[i].name);
    }
    return rf_step_ctx_send_each(ctx, "cities", items, lens, CITIES);
}

/* Step two, once per city: its input is the one item; its output is the city's forecast. */
static rf_status forecast(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    const char *city;
    uint32_t length;
    rf_status status = rf_step_ctx_input(ctx, 0, (const void **)&city, &length);
    if (status != RF_OK) return status;
    pause_ms(40);
    int temp_c = 0;
    for (int i = 0; i < CITIES; i++)
        if (strlen(cities[i].name) == length && memcmp(cities[i].name, city, length) == 0) temp_c = cities[i].temp_c;
    char output[128];
    int n = snprintf(output, sizeof output, "{\"city\":\"%.*s\",\"temp_c\":%d}", (int)length, city, temp_c);
    return rf_step_ctx_set_output(ctx, output, (uint32_t)n);
}

/* Step three: accepts "forecasts", whose inputs are the items' outputs in item order. */
static rf_status summarize(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    rf_step_info info = {.struct_size = sizeof info};
    rf_status status = rf_step_ctx_get_info(ctx, &info);
    if (status != RF_OK) return status;
    char result[1024];
    int n = snprintf(result, sizeof result, "{\"forecasts\":[");
    for (uint32_t i = 0; i < info.input_count && n < (int)sizeof result; i++) {
        const char *output;
        uint32_t length;
        status = rf_step_ctx_input(ctx, i, (const void **)&output, &length);
        if (status != RF_OK) return status;
        n += snprintf(result + n, sizeof result - n, "%s%.*s", i > 0 ? "," : "", (int)length, output);
    }
    if (n < (int)sizeof result) n += snprintf(result + n, sizeof result - n, "]}");
    if (n >= (int)sizeof result) {
        rf_step_ctx_set_error(ctx, "the forecasts do not fit the result buffer");
        return RF_E_TOO_LARGE;
    }
    return rf_step_ctx_stop(ctx, result, (uint32_t)n);
}

int main(int argc, char **argv) {
    example_init(argc, argv);
    rf_engine *engine;
    check(rf_engine_create(NULL, &engine), "rf_engine_create");

    /* The workflow: split -> forecast (once per city, two at a time) -> summarize. */
    rf_workflow *workflow;
    check(rf_workflow_create(engine, "weather", &workflow), "rf_workflow_create");
    rf_step_options each;
    check(rf_step_options_init(&each, sizeof each), "rf_step_options_init");
    each.foreach_done = "forecasts";
    each.concurrency = 2;
    check(rf_workflow_add_step(workflow, "split", "start", "cities", split, NULL, NULL, NULL), "add split");
    check(rf_workflow_add_step(workflow, "forecast", "cities", "forecasts", forecast, NULL, NULL, &each), "add forecast");
    check(rf_workflow_add_step(workflow, "summarize", "forecasts", "stop", summarize, NULL, NULL, NULL), "add summarize");
    check(rf_workflow_build(workflow), "rf_workflow_build");

    rf_run *run;
    check(rf_run_create(workflow, NULL, &run), "rf_run_create");
    rf_subscription *stream;
    check(rf_subscription_create(run, NULL, &stream), "rf_subscription_create");
    check(rf_run_start(run, NULL, 0), "rf_run_start");

    /* One line per finished item: the data is JSON, printed as is. */
    rf_event event = {.struct_size = sizeof event};
    rf_status status;
    while ((status = rf_subscription_read(stream, &event, -1)) == RF_OK) {
        if (event.kind == RF_EVENT_PROGRESS && strcmp(event.step_name, "forecast") == 0)
            printf("progress %s %s\n", event.step_name, event.data);
    }
    if (status != RF_E_END_OF_STREAM) check(status, "rf_subscription_read");

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

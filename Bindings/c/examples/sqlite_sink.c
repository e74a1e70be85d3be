/* sqlite_sink: every event of every run, also written to a database — a sink beside the live
 * stream (streaming does not replace event sinks).
 *
 * The sink gets each run's events in order, in batches, on a thread of the engine's: it inserts
 * them inside one transaction per run and commits when the run's last event has arrived
 * (run_ended). Meanwhile a subscriber streams the same run live. Afterwards the database is
 * queried like any audit log:  SELECT kind, count(*) FROM events WHERE run_id = ? GROUP BY kind.
 *
 *   sqlite_sink [database]      default: a temporary file, removed at the end
 */
#include "example.h"
#include <sqlite3.h>
#include <unistd.h>

typedef struct database {
    sqlite3 *db;
    sqlite3_stmt *insert;
    int in_transaction;
} database;

/* The sink: called on the engine's sink thread with a batch of one run's events, in seq order. */
static rf_status write_events(void *user_data, const rf_event *events, uint32_t count) {
    database *d = user_data;
    if (!d->in_transaction) {
        if (sqlite3_exec(d->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) return RF_E_SYSTEM;
        d->in_transaction = 1;
    }
    for (uint32_t i = 0; i < count; i++) {
        const rf_event *e = &events[i];
        sqlite3_bind_int64(d->insert, 1, (sqlite3_int64)e->run_id);
        sqlite3_bind_int64(d->insert, 2, (sqlite3_int64)e->seq);
        sqlite3_bind_text(d->insert, 3, rf_event_kind_name(e->kind), -1, SQLITE_STATIC);
        sqlite3_bind_text(d->insert, 4, e->step_name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(d->insert, 5, e->data, (int)e->data_len, SQLITE_TRANSIENT);
        int rc = sqlite3_step(d->insert);
        sqlite3_reset(d->insert);
        /* A failed batch is offered again after the backoff: the primary key makes it idempotent. */
        if (rc != SQLITE_DONE && rc != SQLITE_CONSTRAINT) return RF_E_SYSTEM;
    }
    return RF_OK;
}

/* The run's last event was delivered: commit its rows. */
static void run_ended(void *user_data, uint64_t run_id) {
    database *d = user_data;
    (void)run_id;
    if (d->in_transaction) sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL);
    d->in_transaction = 0;
}

static rf_status write_answer(void *user_data, rf_step_ctx *ctx) {
    static const char *deltas[] = {"Events", " go", " to", " the", " stream", " and", " to", " the", " log."};
    char text[128] = "";
    (void)user_data;
    rf_status status = stream_deltas(ctx, deltas, 9, text, sizeof text, 10);
    if (status != RF_OK) return status;
    rf_step_ctx_set_state(ctx, "words", "9", 1);
    return rf_step_ctx_stop(ctx, "\"logged\"", 8);
}

int main(int argc, char **argv) {
    example_init(argc, argv);
    char path[256] = "";
    if (argc > 1 && argv[1][0] != '-') {
        snprintf(path, sizeof path, "%s", argv[1]);
    } else {
        snprintf(path, sizeof path, "/tmp/rillflow-sqlite-sink-%d.db", (int)getpid());
    }
    database d = {0};
    if (sqlite3_open(path, &d.db) != SQLITE_OK ||
        sqlite3_exec(d.db, "CREATE TABLE IF NOT EXISTS events (run_id INTEGER, seq INTEGER, kind TEXT, step TEXT, "
                           "data TEXT, PRIMARY KEY (run_id, seq))", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(d.db, "INSERT INTO events VALUES (?, ?, ?, ?, ?)", -1, &d.insert, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(d.db));
        return 1;
    }

    rf_engine *engine;
    check(rf_engine_create(NULL, &engine), "rf_engine_create");
    rf_sink_options options;
    check(rf_sink_options_init(&options, sizeof options), "rf_sink_options_init");
    options.run_ended = run_ended;
    rf_sink *sink;
    check(rf_engine_add_sink(engine, write_events, &d, NULL, &options, &sink), "rf_engine_add_sink");

    rf_workflow *workflow;
    check(rf_workflow_create(engine, "logged", &workflow), "rf_workflow_create");
    check(rf_workflow_add_step(workflow, "answer", "start", "stop", write_answer, NULL, NULL, NULL), "add answer");
    check(rf_workflow_build(workflow), "rf_workflow_build");
    rf_run *run;
    check(rf_run_create(workflow, NULL, &run), "rf_run_create");
    rf_subscription *live;
    check(rf_subscription_create(run, NULL, &live), "rf_subscription_create");
    check(rf_run_start(run, NULL, 0), "rf_run_start");

    /* The live stream, as a user would watch it. */
    rf_event event = {.struct_size = sizeof event};
    int streamed = 0;
    rf_status status;
    while ((status = rf_subscription_read(live, &event, -1)) == RF_OK) {
        streamed++;
        if (event.kind == RF_EVENT_TOKEN) printf("%s", event.data);
    }
    if (status != RF_E_END_OF_STREAM) check(status, "rf_subscription_read");
    printf("\nstreamed live: %d events\n", streamed);

    /* Releasing the sink waits until it has every event emitted so far (here: the whole run). */
    check(rf_sink_release(sink, 5000), "rf_sink_release");
    uint64_t run_id = 0;
    check(rf_run_get_id(run, &run_id), "rf_run_get_id");
    sqlite3_stmt *query;
    if (sqlite3_prepare_v2(d.db, "SELECT kind, count(*) FROM events WHERE run_id = ? GROUP BY kind ORDER BY min(seq)", -1,
                           &query, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(d.db));
        return 1;
    }
    sqlite3_bind_int64(query, 1, (sqlite3_int64)run_id);
    int logged = 0;
    printf("in the database:\n");
    while (sqlite3_step(query) == SQLITE_ROW) {
        printf("  %-15s %d\n", (const char *)sqlite3_column_text(query, 0), sqlite3_column_int(query, 1));
        logged += sqlite3_column_int(query, 1);
    }
    printf("logged: %d events\n", logged);
    sqlite3_finalize(query);
    sqlite3_finalize(d.insert);
    sqlite3_close(d.db);
    if (argc <= 1 || argv[1][0] == '-') unlink(path);

    rf_subscription_release(live);
    rf_run_release(run);
    rf_workflow_release(workflow);
    rf_engine_release(engine);
    return logged == streamed ? 0 : 1;
}

/* fork(): in the child, every handle made before the fork is refused with a message that says
 * why, and a new engine works (its own threads, workflows, streams); the parent goes on as if
 * nothing happened. Children fork while another thread keeps making and releasing handles,
 * and from inside a step's callback. Each child reports through its exit status and is killed
 * by an alarm if it hangs. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>
#include "workflow_helpers.h"

static rf_status answer(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    return stop_with(ctx, "\"done\"");
}

/* An engine with two worker threads, or NULL if it cannot be made. */
static rf_engine *two_worker_engine(void) {
    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.worker_threads = 2;
    rf_engine *engine = NULL;
    return rf_engine_create(&options, &engine) == RF_OK ? engine : NULL;
}

/* A one-step workflow on `engine`, run to its end: whether it completed with "done". */
static int run_one_workflow(rf_engine *engine) {
    rf_workflow *workflow = NULL;
    if (rf_workflow_create(engine, "after-fork", &workflow) != RF_OK) return 0;
    int ok = rf_workflow_add_step(workflow, "answer", "start", "stop", answer, NULL, NULL, NULL) == RF_OK &&
             rf_workflow_build(workflow) == RF_OK;
    rf_run *run = NULL;
    rf_subscription *subscription = NULL;
    ok = ok && rf_run_create(workflow, NULL, &run) == RF_OK && rf_subscription_create(run, NULL, &subscription) == RF_OK &&
         rf_run_start(run, NULL, 0) == RF_OK;
    rf_event event = {.struct_size = sizeof event};
    rf_event_kind last = 0;
    while (ok && rf_subscription_read(subscription, &event, 10000) == RF_OK) last = event.kind;
    ok = ok && last == RF_EVENT_RUN_COMPLETED && strstr(event.data, "done") != NULL;
    if (subscription) rf_subscription_release(subscription);
    if (run) rf_run_release(run);
    rf_workflow_release(workflow);
    return ok;
}

/* The handles a parent made before forking. */
typedef struct before_fork {
    rf_engine *engine;
    rf_workflow *workflow;
    rf_run *run;              /* a manual run, started */
    rf_subscription *subscription;
} before_fork;

/* In the child: the parent's handles are refused, each with the fork named; a new engine works.
 * Returns the child's exit status (0: every check held), reported through _exit so nothing
 * of the parent's (atexit handlers, stdio buffers) runs twice. */
static int child_checks(const before_fork *parent) {
    sigset_t alarm_only;  /* the forking thread may have it blocked */
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &alarm_only, NULL);
    alarm(20);  /* a hang is a failure the parent sees as SIGALRM */
    int failed = 0;
    rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_CUSTOM, .step_name = "s", .data = "{}", .data_len = 2};
    if (rf_run_emit(parent->run, &e, NULL) != RF_E_INVALID_HANDLE) failed |= 1;
    if (strstr(rf_last_error(), "handles made before the fork are refused") == NULL) failed |= 2;
    rf_run *run = NULL;
    if (rf_run_create(parent->workflow, NULL, &run) != RF_E_INVALID_HANDLE) failed |= 4;
    rf_event event = {.struct_size = sizeof event};
    if (rf_subscription_read(parent->subscription, &event, 0) != RF_E_INVALID_HANDLE) failed |= 8;
    if (rf_engine_release(parent->engine) != RF_E_INVALID_HANDLE) failed |= 16;
    rf_engine *engine = two_worker_engine();
    if (engine == NULL) return 32;
    if (!run_one_workflow(engine)) failed |= 64;
    if (rf_engine_release(engine) != RF_OK) failed |= 128;
    return failed;
}

static void expect_child_passed(pid_t child, const char *what) {
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s: child %s %d\n", what, WIFEXITED(status) ? "exited with" : "killed by signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* AddressSanitizer's allocator (GCC's, at least) does not lock itself around fork(): a child
 * forked while another thread is inside malloc finds the allocator's lock held for good, and
 * its new threads wait on it. glibc's malloc has no such problem, so the busy-parent forks run
 * with the churn thread only without the sanitizer. */
#if defined(__SANITIZE_ADDRESS__)
#define FORK_WITH_CHURN 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FORK_WITH_CHURN 0
#endif
#endif
#ifndef FORK_WITH_CHURN
#define FORK_WITH_CHURN 1
#endif

/* Makes and releases handles without pause, so forks come while the handle table is busy. */
static atomic_int churn_stop;
static void *churn(void *arg) {
    rf_engine *engine = arg;
    while (!atomic_load(&churn_stop)) {
        rf_run *run = NULL;
        if (rf_run_create_manual(engine, "churn", NULL, &run) == RF_OK) rf_run_release(run);
    }
    return NULL;
}

static void test_children_of_a_busy_process(const before_fork *parent) {
    pthread_t thread;
    if (FORK_WITH_CHURN) pthread_create(&thread, NULL, churn, parent->engine);
    for (int i = 0; i < 8; i++) {
        fflush(NULL);
        pid_t child = fork();
        if (child == 0) _exit(child_checks(parent));
        CHECK(child > 0);
        expect_child_passed(child, "busy parent");
    }
    atomic_store(&churn_stop, 1);
    if (FORK_WITH_CHURN) pthread_join(thread, NULL);
}

/* A step that forks, as one starting a helper program might: the child is a copy of a worker
 * thread inside the engine, in the middle of a step. */
static before_fork *forking_parent;
static rf_status fork_in_step(void *user_data, rf_step_ctx *ctx) {
    pid_t *child_out = user_data;
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        int failed = child_checks(forking_parent);
        if (rf_step_ctx_emit_progress(ctx, 1, 2, "in the child") != RF_E_INVALID_HANDLE) failed |= 256;
        _exit(failed);
    }
    *child_out = child;
    return stop_with(ctx, "\"forked\"");
}

static void test_fork_from_a_step(before_fork *parent) {
    forking_parent = parent;
    pid_t child = -1;
    rf_workflow *workflow = new_workflow(parent->engine, "forks");
    add_step(workflow, "fork", "start", "stop", fork_in_step, &child, NULL);
    must(rf_workflow_build(workflow), "build");
    rf_subscription *subscription = NULL;
    rf_run *run = start_run(workflow, NULL, NULL, &subscription);
    seen_event events[16];
    int count = read_events(subscription, events, 16);
    CHECK(count > 0 && events[count - 1].kind == RF_EVENT_RUN_COMPLETED);
    CHECK(child > 0);
    if (child > 0) expect_child_passed(child, "fork in a step");
    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
}

int main(void) {
    before_fork parent = {.engine = two_worker_engine()};
    if (parent.engine == NULL) {
        fprintf(stderr, "engine: %s\n", rf_last_error());
        return 2;
    }
    parent.workflow = new_workflow(parent.engine, "parent");
    add_step(parent.workflow, "answer", "start", "stop", answer, NULL, NULL);
    must(rf_workflow_build(parent.workflow), "build");
    must(rf_run_create_manual(parent.engine, "manual", NULL, &parent.run), "manual run");
    must(rf_subscription_create(parent.run, NULL, &parent.subscription), "subscribe");
    must(rf_run_start(parent.run, NULL, 0), "start");
    CHECK(run_one_workflow(parent.engine));  /* the engine's threads are running when it forks */

    test_children_of_a_busy_process(&parent);
    test_fork_from_a_step(&parent);

    /* The parent's handles are untouched by its children's forks. */
    rf_emit e = {.struct_size = sizeof e, .kind = RF_EVENT_CUSTOM, .step_name = "s", .data = "{}", .data_len = 2};
    CHECK_STATUS(rf_run_emit(parent.run, &e, NULL), RF_OK);
    rf_event event = {.struct_size = sizeof event};
    CHECK_STATUS(rf_subscription_read(parent.subscription, &event, 1000), RF_OK);  /* run_started */
    CHECK_STATUS(rf_subscription_read(parent.subscription, &event, 1000), RF_OK);
    CHECK(event.kind == RF_EVENT_CUSTOM);
    CHECK(run_one_workflow(parent.engine));
    rf_subscription_release(parent.subscription);
    rf_run_release(parent.run);
    rf_workflow_release(parent.workflow);
    CHECK_STATUS(rf_engine_release(parent.engine), RF_OK);
    return check_finish();
}

/* Signals: the library's threads block the host's asynchronous signals, so one sent to the
 * process reaches a host thread (here the main thread, which takes it with sigtimedwait), never
 * a library thread; the faults, SIGABRT and SIGPROF stay open on them; a step's callback runs
 * with the signals blocked (its write to a closed pipe fails with EPIPE); and the thread whose
 * call started the library's threads gets its own signal mask back. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include "workflow_helpers.h"

/* Asynchronous signals a host may send or take itself: each must be blocked on every library thread. */
static const int host_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGPIPE, SIGALRM, SIGWINCH};
/* Signals that must stay open on them: faults go to the thread that caused them, SIGABRT to
 * the one that aborts, and a profiler's SIGPROF to whichever thread runs. */
static const int open_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGPROF};
#define COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

static atomic_int handled;  /* SIGUSR1 handler calls */
static void count_signal(int signal) {
    (void)signal;
    atomic_fetch_add(&handled, 1);
}

/* How many of `signals` `mask` blocks. */
static int blocked_count(const sigset_t *mask, const int *signals, int count) {
    int blocked = 0;
    for (int i = 0; i < count; i++) blocked += sigismember(mask, signals[i]) == 1;
    return blocked;
}

static atomic_int step_host_blocked = -1, step_open_blocked = -1, step_write_errno = -1;

/* Records which signals its own thread blocks, and what a write to a pipe nobody reads gets
 * (SIGPIPE's default action would end the process instead). */
static rf_status inspect_mask(void *user_data, rf_step_ctx *ctx) {
    (void)user_data;
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    atomic_store(&step_host_blocked, blocked_count(&mask, host_signals, COUNT(host_signals)));
    atomic_store(&step_open_blocked, blocked_count(&mask, open_signals, COUNT(open_signals)));
    int ends[2];
    if (pipe(ends) == 0) {
        close(ends[0]);
        atomic_store(&step_write_errno, write(ends[1], "x", 1) < 0 ? errno : 0);
        close(ends[1]);
    }
    return stop_with(ctx, "\"inspected\"");
}

static rf_status accept_events(void *user_data, const rf_event *events, uint32_t count) {
    (void)user_data, (void)events, (void)count;
    return RF_OK;
}

/* Opens /proc/self/task/<tid>/<file> for reading; NULL if the thread is gone. */
static FILE *task_file(const char *tid, const char *file) {
    char path[320];
    snprintf(path, sizeof path, "/proc/self/task/%s/%s", tid, file);
    return fopen(path, "r");
}

/* Whether the SigBlk line of the thread's status was read into *mask, as a sigset. */
static int task_mask(const char *tid, sigset_t *mask) {
    FILE *file = task_file(tid, "status");
    if (file == NULL) return 0;
    char line[256];
    unsigned long long bits = 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, file)) found = sscanf(line, "SigBlk: %llx", &bits) == 1;
    fclose(file);
    sigemptyset(mask);
    for (int signal = 1; signal <= 64; signal++)
        if (bits >> (signal - 1) & 1) sigaddset(mask, signal);
    return found;
}

/* Whether the thread is asleep (state S or D in its stat line); a thread gone counts as asleep. */
static int task_sleeps(const char *tid) {
    FILE *file = task_file(tid, "stat");
    if (file == NULL) return 1;
    char line[512];
    int sleeps = 0;
    if (fgets(line, sizeof line, file)) {
        const char *after_name = strrchr(line, ')');
        sleeps = after_name != NULL && (after_name[2] == 'S' || after_name[2] == 'D');
    }
    fclose(file);
    return sleeps;
}

/* Calls visit(tid, name, state) for each of the library's threads (named rf-...). */
static void visit_library_threads(void (*visit)(const char *tid, const char *name, void *state), void *state) {
    DIR *tasks = opendir("/proc/self/task");
    CHECK(tasks != NULL);
    if (tasks == NULL) return;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char name[32] = "";
        FILE *comm = task_file(entry->d_name, "comm");
        if (comm == NULL) continue;
        if (fgets(name, sizeof name, comm)) name[strcspn(name, "\n")] = '\0';
        fclose(comm);
        if (strncmp(name, "rf-", 3) == 0) visit(entry->d_name, name, state);
    }
    closedir(tasks);
}

static void count_running(const char *tid, const char *name, void *running) {
    (void)name;
    *(int *)running += !task_sleeps(tid);
}

/* Waits (10 s at most) until every library thread sleeps. A thread the kernel has not run yet
 * shows every signal blocked (glibc creates it so and sets its mask as it starts); one asleep
 * has started and reached its wait for work. */
static void wait_until_library_threads_sleep(void) {
    for (int tries = 0; tries < 10000; tries++) {
        int running = 0;
        visit_library_threads(count_running, &running);
        if (running == 0) return;
        struct timespec pause = {.tv_nsec = 1000000};
        nanosleep(&pause, NULL);
    }
    CHECK(!"every library thread asleep within 10 s");
}

typedef struct thread_counts {
    int workers, timers, sinks;
} thread_counts;

/* Checks one library thread's mask and counts it by name. */
static void check_library_thread(const char *tid, const char *name, void *counts) {
    thread_counts *seen = counts;
    seen->workers += strcmp(name, "rf-worker") == 0;
    seen->timers += strcmp(name, "rf-timer") == 0;
    seen->sinks += strcmp(name, "rf-sinks") == 0;
    sigset_t mask;
    CHECK(task_mask(tid, &mask));
    CHECK(blocked_count(&mask, host_signals, COUNT(host_signals)) == COUNT(host_signals));
    CHECK(blocked_count(&mask, open_signals, COUNT(open_signals)) == 0);
    CHECK(sigismember(&mask, SIGRTMIN) == 1);  /* real-time signals too */
}

int main(void) {
    /* The host takes SIGUSR1 with sigtimedwait, later; a handler counts deliveries to any
     * thread that leaves it open. The library's threads start while the main thread, whose
     * calls start them, still leaves every signal open. */
    struct sigaction action = {.sa_handler = count_signal};
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, NULL);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    sigset_t before;
    pthread_sigmask(SIG_BLOCK, NULL, &before);

    rf_engine_options options;
    rf_engine_options_init_v2(&options, sizeof options);
    options.worker_threads = 2;
    rf_engine *engine = NULL;
    must(rf_engine_create(&options, &engine), "rf_engine_create");
    rf_sink *sink = NULL;
    must(rf_engine_add_sink(engine, accept_events, NULL, NULL, NULL, &sink), "rf_engine_add_sink");
    rf_workflow *workflow = new_workflow(engine, "signals");
    add_step(workflow, "inspect", "start", "stop", inspect_mask, NULL, NULL);
    must(rf_workflow_build(workflow), "rf_workflow_build");
    rf_subscription *subscription = NULL;
    rf_run *run = start_run(workflow, NULL, NULL, &subscription);
    seen_event events[8];
    int count = read_events(subscription, events, 8);
    CHECK(count >= 1 && events[count - 1].kind == RF_EVENT_RUN_COMPLETED);

    /* The callback ran on a worker with the host's signals blocked and the faults open. */
    CHECK(atomic_load(&step_host_blocked) == COUNT(host_signals));
    CHECK(atomic_load(&step_open_blocked) == 0);
    CHECK(atomic_load(&step_write_errno) == EPIPE);

    /* The main thread, whose calls started every library thread, has its own mask back. */
    sigset_t after;
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    for (int signal = 1; signal < SIGRTMIN; signal++) CHECK(sigismember(&after, signal) == sigismember(&before, signal));

    wait_until_library_threads_sleep();
    thread_counts counts = {0};
    visit_library_threads(check_library_thread, &counts);
    CHECK(counts.workers == 2);
    CHECK(counts.timers == 1);
    CHECK(counts.sinks == 1);

    /* Now the host blocks SIGUSR1 to take it itself. A signal sent to the process stays
     * pending for the one thread that takes it. (Had a library thread left it open, the kernel
     * would have woken that thread to deliver it, and the handler would run there whenever
     * that thread got to it before the wait: the masks above are the deterministic check.) */
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    CHECK(kill(getpid(), SIGUSR1) == 0);
    struct timespec limit = {.tv_sec = 10};
    CHECK(sigtimedwait(&usr1, NULL, &limit) == SIGUSR1);
    CHECK(atomic_load(&handled) == 0);

    rf_subscription_release(subscription);
    rf_run_release(run);
    rf_workflow_release(workflow);
    CHECK_STATUS(rf_sink_release(sink, 5000), RF_OK);
    CHECK_STATUS(rf_engine_release(engine), RF_OK);
    CHECK(atomic_load(&handled) == 0);
    return check_finish();
}

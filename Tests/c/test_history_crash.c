/* Crash safety of the durable history: a child process writes a run's history and reports,
 * as it goes, the newest seq the history writer says it has written (and, with the batch
 * policy, synced); the parent kills it with SIGKILL at a random moment, then reopens the run.
 * Every reported record must be there, intact, in order, with its data; nothing damaged may
 * be returned; a torn tail may be cut. Repeated with every fsync policy and many kill points.
 *
 * First, a child that finishes its run and exits normally: the parent reopens it complete.
 *
 *   test_history_crash [rounds]             the test (default 18 rounds)
 *   test_history_crash child DIR POLICY     the writing child (started by the test itself)
 *   test_history_crash complete DIR POLICY  a child that writes 5000 events, ends and exits */
#include "history_helpers.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

static int run_child(const char *dir, uint32_t policy) {
    rf_engine *engine = history_engine_with(dir, 64 << 10, 64 << 10, 64 << 10, policy, 0, 0, 0);
    rf_run *run = NULL;
    rf_run_create_manual(engine, "crash", NULL, &run);
    rf_run_start(run, NULL, 0);
    uint64_t id = 0;
    rf_run_get_id(run, &id);
    if (write(1, &id, sizeof id) != sizeof id) return 2;
    uint64_t reported = 0;
    for (uint64_t seq = 2;; seq++) {
        emit_until(run, seq, seq);
        if (seq % 32 == 0) {
            rf_history_info info = {.struct_size = sizeof info};
            rf_run_get_history_info(run, &info);
            uint64_t promised = policy == RF_HISTORY_FSYNC_BATCH ? info.synced_seq : info.last_seq;
            if (promised > reported) {
                reported = promised;
                if (write(1, &reported, sizeof reported) != sizeof reported) return 2;
            }
        }
    }
}

static int run_complete_child(const char *dir, uint32_t policy) {
    rf_engine *engine = history_engine_with(dir, 64 << 10, 64 << 10, 64 << 10, policy, 0, 0, 0);
    uint64_t id = write_completed_run(engine, 5000);
    rf_engine_release(engine);  /* drains the history writer */
    return write(1, &id, sizeof id) == sizeof id ? 0 : 2;
}

static int64_t now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Reads reports for `for_ms` milliseconds (0: what has arrived); returns the newest seq
 * reported (or `newest` if none was). With `until_first`, returns at the first report. */
static uint64_t read_reports(int fd, uint64_t newest, int for_ms, int until_first) {
    struct pollfd waiting = {.fd = fd, .events = POLLIN};
    int64_t deadline = now_ms() + for_ms;
    while (1) {
        int64_t left = deadline - now_ms();
        if (poll(&waiting, 1, left > 0 ? (int)left : 0) <= 0) break;
        uint64_t value = 0;
        if (read(fd, &value, sizeof value) != sizeof value) break;  /* the child is gone */
        if (value > newest) newest = value;
        if (until_first) break;
    }
    return newest;
}

static const char *self_path;

static void completed_in_another_process(void) {
    char *dir = scratch_directory("finished");
    int reports[2];
    if (pipe(reports) != 0) exit(2);
    pid_t child = fork();
    if (child == 0) {
        dup2(reports[1], 1);
        close(reports[0]);
        execl(self_path, self_path, "complete", dir, "0", (char *)NULL);
        _exit(127);
    }
    close(reports[1]);
    uint64_t id = 0;
    CHECK(read(reports[0], &id, sizeof id) == sizeof id);
    close(reports[0]);
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rf_engine *engine = history_engine(dir);
    rf_run *run = NULL;
    CHECK_STATUS(rf_engine_open_run(engine, id, &run), RF_OK);
    if (run != NULL) {
        rf_run_status run_status = 0;
        rf_run_get_status(run, &run_status);
        CHECK(run_status == RF_RUN_COMPLETED);
        rf_history_info info = history_info(run);
        CHECK(info.records == 5000 && info.last_seq == 5000 && info.corrupt_records == 0 && info.torn_bytes == 0);
        rf_subscription_options options;
        rf_subscription_options_init(&options);
        options.start_seq = 4321;
        rf_subscription *subscription = NULL;
        CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_OK);
        stream_check seen = read_and_check(subscription, 4321);
        CHECK(seen.count == 5000 - 4320 && seen.bad_seq == 0 && seen.bad_data == 0 && seen.last_kind == RF_EVENT_RUN_COMPLETED);
        rf_subscription_release(subscription);
        rf_run_release(run);
    }
    /* The new engine's runs get ids above the other process's. */
    uint64_t next = write_completed_run(engine, 3);
    CHECK(next > id);
    rf_engine_release(engine);
    remove_tree(dir);
    free(dir);
}

static void crash_round(int round, uint32_t policy) {
    char *dir = scratch_directory("crash");
    int reports[2];
    if (pipe(reports) != 0) exit(2);
    char policy_text[8];
    snprintf(policy_text, sizeof policy_text, "%u", policy);
    pid_t child = fork();
    if (child == 0) {
        dup2(reports[1], 1);
        close(reports[0]);
        execl(self_path, self_path, "child", dir, policy_text, (char *)NULL);
        _exit(127);
    }
    close(reports[1]);
    uint64_t id = 0;
    CHECK(read(reports[0], &id, sizeof id) == sizeof id);
    /* Wait for the first report, then a random while more: the kill lands anywhere. */
    uint64_t promised = read_reports(reports[0], 0, 10000, 1);
    CHECK(promised > 0);
    promised = read_reports(reports[0], promised, rand() % 60, 0);
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    promised = read_reports(reports[0], promised, 0, 0);
    close(reports[0]);

    /* The dead child's lock went with it: a new engine opens the directory and the run. */
    rf_engine *engine = history_engine(dir);
    rf_run *run = NULL;
    CHECK_STATUS(rf_engine_open_run(engine, id, &run), RF_OK);
    if (run != NULL) {
        rf_history_info info = history_info(run);
        rf_run_status run_status = 0;
        rf_run_get_status(run, &run_status);
        CHECK(run_status == RF_RUN_INTERRUPTED);
        CHECK(info.corrupt_records == 0);
        CHECK(info.records >= promised && info.first_seq == 1 && info.last_seq == info.records);
        rf_subscription_options options;
        rf_subscription_options_init(&options);
        options.start_seq = 1;
        rf_subscription *subscription = NULL;
        CHECK_STATUS(rf_subscription_create(run, &options, &subscription), RF_OK);
        stream_check seen = read_and_check(subscription, 1);
        CHECK(seen.count == info.records && seen.bad_seq == 0 && seen.bad_data == 0 && seen.corrupt == 0);
        CHECK(seen.end == RF_E_END_OF_STREAM);
        if (info.records < promised || seen.count != info.records) {
            fprintf(stderr, "round %d (policy %u): promised %" PRIu64 ", recovered %" PRIu64 ", read %" PRIu64 "\n",
                    round, policy, promised, info.records, seen.count);
        }
        printf("round %2d policy %u: promised %6" PRIu64 ", recovered %6" PRIu64 " records, %" PRIu64 " segments, torn bytes %" PRIu64 "\n",
               round, policy, promised, info.records, info.segments, info.torn_bytes);
        rf_subscription_release(subscription);
        rf_run_release(run);
    }
    rf_engine_release(engine);
    remove_tree(dir);
    free(dir);
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "child") == 0) return run_child(argv[2], (uint32_t)atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "complete") == 0) return run_complete_child(argv[2], (uint32_t)atoi(argv[3]));
    self_path = "/proc/self/exe";
    completed_in_another_process();
    int rounds = argc > 1 ? atoi(argv[1]) : 18;
    srand((unsigned)getpid());
    uint32_t policies[3] = {RF_HISTORY_FSYNC_NEVER, RF_HISTORY_FSYNC_BATCH, RF_HISTORY_FSYNC_RUN_END};
    for (int round = 0; round < rounds; round++) crash_round(round, policies[round % 3]);
    return check_finish();
}

/* Helpers for tests that must know another thread is really asleep in the library. */
#ifndef RILLFLOW_TEST_THREAD_HELPERS_H
#define RILLFLOW_TEST_THREAD_HELPERS_H

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* True once thread `tid` of this process sleeps in the futex syscall (number 202 on x86-64):
 * how a test knows a reader is really blocked before it acts on it. */
static int thread_is_in_futex(pid_t tid) {
    char path[64], text[64] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *file = fopen(path, "r");
    if (!file) return 0;
    size_t n = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    return n > 0 && strncmp(text, "202 ", 4) == 0;
}

static void wait_until_blocked(_Atomic pid_t *tid) {
    for (int i = 0; i < 500000; i++) {
        pid_t t = atomic_load(tid);
        if (t != 0 && thread_is_in_futex(t)) return;
        sched_yield();
    }
    fprintf(stderr, "reader never blocked\n");
}

#endif

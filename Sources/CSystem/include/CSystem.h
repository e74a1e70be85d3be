/* System calls that Swift's Glibc module does not expose (eventfd, epoll, futex). Internal to
 * the library: nothing here is part of the public API. */
#ifndef RILLFLOW_CSYSTEM_H
#define RILLFLOW_CSYSTEM_H
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleeps while *word == expected, at most timeout_ns (negative: no limit). Returns 0 when woken
 * or when *word already differed, ETIMEDOUT on timeout, EINTR on a signal. Process-private. */
static inline int rf_sys_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    long rc = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, tsp, NULL, 0);
    if (rc == 0) return 0;
    return errno == EAGAIN ? 0 : errno;
}

/* Wakes every thread sleeping on word. */
static inline void rf_sys_futex_wake_all(uint32_t *word) {
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static inline int rf_sys_errno(void) { return errno; }

/* Wall-clock time in nanoseconds since the Unix epoch. */
static inline int64_t rf_sys_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Monotonic time in nanoseconds, for timeouts and durations. */
static inline int64_t rf_sys_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The CPU's time-stamp counter, or 0 where there is none (then the TSC clock is not used). */
static inline uint64_t rf_sys_rdtsc(void) {
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#else
    return 0;
#endif
}
#endif

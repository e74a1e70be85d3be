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
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

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
/* CRC-32C (Castagnoli), the checksum of durable history records: the SSE4.2 instruction where
 * the CPU has it (about 8 bytes per cycle), a table otherwise. Standard form: initial value and
 * final xor 0xFFFFFFFF, so rf_sys_crc32c("123456789", 9) == 0xE3069283. */
#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static inline uint32_t rf_sys_crc32c_sse42(uint32_t crc, const uint8_t *bytes, size_t length) {
    uint64_t wide = crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        wide = __builtin_ia32_crc32di(wide, word);
        bytes += 8;
        length -= 8;
    }
    crc = (uint32_t)wide;
    while (length--) crc = __builtin_ia32_crc32qi(crc, *bytes++);
    return crc;
}
#endif

static inline uint32_t rf_sys_crc32c_table_update(uint32_t crc, const uint8_t *bytes, size_t length) {
    static uint32_t table[256];
    static int ready;  /* idempotent fill: a race writes the same values */
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t value = i;
            for (int bit = 0; bit < 8; bit++) value = (value >> 1) ^ (0x82F63B78u & (0u - (value & 1)));
            __atomic_store_n(&table[i], value, __ATOMIC_RELAXED);
        }
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    while (length--) crc = __atomic_load_n(&table[(crc ^ *bytes++) & 0xFF], __ATOMIC_RELAXED) ^ (crc >> 8);
    return crc;
}

static inline uint32_t rf_sys_crc32c(const void *data, size_t length) {
    const uint8_t *bytes = (const uint8_t *)data;
#if defined(__x86_64__)
    static int support = -1;  /* -1 unknown, 0 no, 1 yes; racing writers store the same value */
    int known = __atomic_load_n(&support, __ATOMIC_RELAXED);
    if (known < 0) {
        unsigned a, b, c, d;
        known = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2) ? 1 : 0;
        __atomic_store_n(&support, known, __ATOMIC_RELAXED);
    }
    if (known) return ~rf_sys_crc32c_sse42(0xFFFFFFFFu, bytes, length);
#endif
    return ~rf_sys_crc32c_table_update(0xFFFFFFFFu, bytes, length);
}
#endif

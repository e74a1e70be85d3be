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

/* glibc's, declared here because the system module is built without _GNU_SOURCE. */
extern int pthread_setname_np(pthread_t thread, const char *name);

/* Names `thread` (at most 15 bytes), for debuggers, top -H and /proc. Done by the thread that
 * creates it, so the name is there as soon as the creation returns. 0 or an errno value. */
static inline int rf_sys_name_thread(pthread_t thread, const char *name) { return pthread_setname_np(thread, name); }

/* Starts writing back the file's dirty pages in [offset, offset + length) without waiting for
 * them (sync_file_range with SYNC_FILE_RANGE_WRITE): a later fdatasync then waits only for what
 * is still in flight. Returns 0, or -1 with errno set; a no-op where the call does not exist. */
static inline int rf_sys_start_writeback(int fd, int64_t offset, int64_t length) {
#if defined(SYS_sync_file_range)
    return (int)syscall(SYS_sync_file_range, fd, offset, length, 2 /* SYNC_FILE_RANGE_WRITE */);
#else
    (void)fd, (void)offset, (void)length;
    return 0;
#endif
}

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
/* Whether rf_sys_prefetch_for_write does anything here: x86-64 processors that have the
 * instruction say so in CPUID (AMD's for decades, Intel's since Broadwell). */
static inline int rf_sys_can_prefetch_for_write(void) {
#if defined(__x86_64__)
    unsigned int a, b, c, d;
    return __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 8)) != 0;
#elif defined(__aarch64__)
    return 1;
#else
    return 0;
#endif
}
/* Starts fetching the cache line holding `address` in the state a write needs (exclusive to
 * this core), so the stores that come later do not wait for it. Only where
 * rf_sys_can_prefetch_for_write says so: older processors may not know the instruction. */
static inline void rf_sys_prefetch_for_write(const void *address) {
#if defined(__x86_64__)
    __asm__ __volatile__("prefetchw %0" : : "m"(*(const char *)address));
#else
    __builtin_prefetch(address, 1, 3);
#endif
}
/* A hint to the CPU that this thread is spinning on memory another thread will change. */
static inline void rf_sys_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Copies `length` bytes between buffers that do not overlap. Event names and token deltas are
 * mostly a few dozen bytes: those are copied with a handful of (overlapping) word moves instead
 * of a call into libc; longer ones go to memcpy. */
__attribute__((always_inline)) static inline void rf_sys_copy(void *destination, const void *source, size_t length) {
    unsigned char *d = (unsigned char *)destination;
    const unsigned char *s = (const unsigned char *)source;
    if (length > 32) {
        memcpy(d, s, length);
    } else if (length >= 16) {
        unsigned char head[16], tail[16];
        memcpy(head, s, 16);
        memcpy(tail, s + length - 16, 16);
        memcpy(d, head, 16);
        memcpy(d + length - 16, tail, 16);
    } else if (length >= 8) {
        uint64_t head, tail;
        memcpy(&head, s, 8);
        memcpy(&tail, s + length - 8, 8);
        memcpy(d, &head, 8);
        memcpy(d + length - 8, &tail, 8);
    } else if (length >= 4) {
        uint32_t head, tail;
        memcpy(&head, s, 4);
        memcpy(&tail, s + length - 4, 4);
        memcpy(d, &head, 4);
        memcpy(d + length - 4, &tail, 4);
    } else {
        for (size_t i = 0; i < length; i++) d[i] = s[i];
    }
}

/* The length of a NUL-terminated string if it is at most `limit` bytes, else `limit` + 1. Short
 * strings (names) are scanned inline; long ones by libc. */
__attribute__((always_inline)) static inline size_t rf_sys_bounded_length(const char *string, size_t limit) {
    size_t inline_scan = limit < 16 ? limit + 1 : 16;
    for (size_t i = 0; i < inline_scan; i++)
        if (string[i] == 0) return i;
    return inline_scan + strnlen(string + inline_scan, limit + 1 - inline_scan);
}

/* CRC-32C (Castagnoli), the checksum of durable history records: the SSE4.2 instruction where
 * the CPU has it (about 8 bytes per cycle), a table otherwise. Standard form: initial value and
 * final xor 0xFFFFFFFF, so rf_sys_crc32c("123456789", 9) == 0xE3069283. */
#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static inline uint32_t rf_sys_crc32c_sse42(uint32_t crc, const uint8_t *bytes, size_t length) {
    uint64_t wide = crc;
    while (length >= 32) { /* unrolled: fewer of the loop's own instructions per word */
        uint64_t words[4];
        memcpy(words, bytes, 32);
        wide = __builtin_ia32_crc32di(wide, words[0]);
        wide = __builtin_ia32_crc32di(wide, words[1]);
        wide = __builtin_ia32_crc32di(wide, words[2]);
        wide = __builtin_ia32_crc32di(wide, words[3]);
        bytes += 32;
        length -= 32;
    }
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        wide = __builtin_ia32_crc32di(wide, word);
        bytes += 8;
        length -= 8;
    }
    crc = (uint32_t)wide;
    if (length >= 4) { /* a history record's checksum covers 4 bytes past a multiple of 8 */
        uint32_t word;
        memcpy(&word, bytes, 4);
        crc = __builtin_ia32_crc32si(crc, word);
        bytes += 4;
        length -= 4;
    }
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

/* The CRC-32C of the bytes that `crc` (a previous result, 0 for none) covered followed by
 * these: rf_sys_crc32c_extend(rf_sys_crc32c(a, n), b, m) is the checksum of a's n bytes then
 * b's m bytes. Lets a writer checksum a field it has in a register without storing it first
 * (a load overlapping a fresh narrower store waits for that store to retire). */
static inline uint32_t rf_sys_crc32c_extend(uint32_t crc, const void *data, size_t length) {
    const uint8_t *bytes = (const uint8_t *)data;
#if defined(__x86_64__)
    static int support = -1;  /* -1 unknown, 0 no, 1 yes; racing writers store the same value */
    int known = __atomic_load_n(&support, __ATOMIC_RELAXED);
    if (known < 0) {
        unsigned a, b, c, d;
        known = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2) ? 1 : 0;
        __atomic_store_n(&support, known, __ATOMIC_RELAXED);
    }
    if (known) return ~rf_sys_crc32c_sse42(~crc, bytes, length);
#endif
    return ~rf_sys_crc32c_table_update(~crc, bytes, length);
}

static inline uint32_t rf_sys_crc32c(const void *data, size_t length) { return rf_sys_crc32c_extend(0, data, length); }
#endif

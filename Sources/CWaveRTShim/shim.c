#define _GNU_SOURCE
#include "CWaveRTShim.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <limits.h>

int wrt_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int wrt_punch_hole(int fd, off_t offset, off_t length) {
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
}

int wrt_set_timer_slack(unsigned long nanoseconds) {
    return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0);
}

int wrt_set_fifo_priority(int priority) {
    struct sched_param param = { .sched_priority = priority };
    return sched_setscheduler(0, SCHED_FIFO, &param) == 0 ? 0 : errno;
}

int wrt_sleep_until_monotonic_ns(uint64_t deadline) {
    struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000000ull),
                           .tv_nsec = (long)(deadline % 1000000000ull) };
    int rc;
    do { rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL); } while (rc == EINTR);
    return rc;
}

uint64_t wrt_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int wrt_set_thread_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }

/* Cached per thread: the spin-lock owner checks call it on every acquire. */
static _Thread_local int wrt_cached_tid;
int wrt_gettid(void) {
    if (wrt_cached_tid == 0) wrt_cached_tid = (int)gettid();
    return wrt_cached_tid;
}

uint32_t wrt_atomic_load_u32(const uint32_t *word) { return __atomic_load_n(word, __ATOMIC_SEQ_CST); }

uint32_t wrt_atomic_fetch_add_u32(uint32_t *word, uint32_t value) {
    return __atomic_fetch_add(word, value, __ATOMIC_SEQ_CST);
}

int wrt_atomic_cas_u32(uint32_t *word, uint32_t expected, uint32_t desired) {
    return __atomic_compare_exchange_n(word, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

int wrt_futex_wait_until(uint32_t *word, uint32_t expected, uint64_t deadline) {
    struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000000ull),
                           .tv_nsec = (long)(deadline % 1000000000ull) };
    long rc = syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected,
                      deadline ? &ts : NULL, NULL, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0) return 0;
    return errno == EAGAIN || errno == EINTR ? 0 : errno;
}

int wrt_futex_wake(uint32_t *word, int count) {
    return (int)syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, count, NULL, NULL, 0);
}

_Thread_local uint8_t wrt_tls_irql = 0;
_Thread_local const void *wrt_tls_pass = NULL;
_Thread_local const void *wrt_tls_vclock = NULL;
_Thread_local uint64_t wrt_tls_vclock_stall = 0;
_Thread_local const void *wrt_tls_machine = NULL;
_Thread_local uint32_t wrt_tls_spinlocks = 0;
_Thread_local const char *wrt_tls_ddi = NULL;
_Thread_local uint32_t wrt_tls_stream = 0;

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WRT_TSAN 1
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#endif
#endif

void wrt_tsan_acquire(const void *address) {
#ifdef WRT_TSAN
    __tsan_acquire((void *)address);
#else
    (void)address;
#endif
}

void wrt_tsan_release(const void *address) {
#ifdef WRT_TSAN
    __tsan_release((void *)address);
#else
    (void)address;
#endif
}

int wrt_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : errno;
}

int wrt_online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

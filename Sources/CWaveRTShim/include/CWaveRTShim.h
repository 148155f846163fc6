// Thin C shims for the libc calls Swift's Glibc module does not import
// (they sit behind _GNU_SOURCE or are macros). Each wrapper names the call it makes.
#ifndef CWAVERTSHIM_H
#define CWAVERTSHIM_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/// memfd_create(name, MFD_CLOEXEC): an anonymous, sparse, shareable file.
int wrt_memfd_create(const char *name);

/// fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length):
/// returns the range's host pages to the kernel; later reads see zeros.
int wrt_punch_hole(int fd, off_t offset, off_t length);

/// prctl(PR_SET_TIMERSLACK, nanoseconds).
int wrt_set_timer_slack(unsigned long nanoseconds);

/// sched_setscheduler(0, SCHED_FIFO, {priority}) for the calling thread.
/// Returns 0 or an errno value.
int wrt_set_fifo_priority(int priority);

/// clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, deadline): sleeps to an absolute
/// monotonic deadline in nanoseconds, resuming after signals. Returns 0 or an errno.
int wrt_sleep_until_monotonic_ns(uint64_t deadline);

/// clock_gettime(CLOCK_MONOTONIC) in nanoseconds.
uint64_t wrt_monotonic_ns(void);

/// prctl(PR_SET_NAME, name): the calling thread's name (15 bytes at most).
int wrt_set_thread_name(const char *name);

/// gettid().
int wrt_gettid(void);

/// Atomic operations on a plain 32-bit word (the futex word), sequentially consistent.
uint32_t wrt_atomic_load_u32(const uint32_t *word);
uint32_t wrt_atomic_fetch_add_u32(uint32_t *word, uint32_t value);
/// Compare-and-swap: stores `desired` if *word == expected; returns whether it did.
int wrt_atomic_cas_u32(uint32_t *word, uint32_t expected, uint32_t desired);

/// futex(word, FUTEX_WAIT_BITSET, expected, deadline): sleeps while *word == expected,
/// until woken or until the absolute CLOCK_MONOTONIC deadline in nanoseconds
/// (0: no deadline). Returns 0 when woken or when *word had changed, ETIMEDOUT at
/// the deadline, or another errno.
int wrt_futex_wait_until(uint32_t *word, uint32_t expected, uint64_t deadline);

/// futex(word, FUTEX_WAKE, count): wakes up to `count` waiters.
int wrt_futex_wake(uint32_t *word, int count);

/// sigaction(SIGINT, SIGTERM, SIGHUP): the first of them is recorded for
/// wrt_stop_signal() and the program winds down cleanly; a second one calls
/// _exit(128 + signo) at once. The handler is async-signal-safe (an atomic
/// exchange, then _exit), which a Swift closure cannot promise. The three
/// signals are unblocked in the calling thread (pthread_sigmask), since a
/// process may inherit them blocked. Returns 0 or an errno value.
int wrt_install_stop_signals(void);

/// The first stop signal received (SIGINT, SIGTERM or SIGHUP), or 0.
int wrt_stop_signal(void);

#endif

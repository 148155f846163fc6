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

/// gettid().
int wrt_gettid(void);

#endif

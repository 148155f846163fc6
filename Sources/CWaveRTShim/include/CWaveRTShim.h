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

/// sched_setaffinity(0, ...) to the one CPU `cpu`: 0, or the errno.
int wrt_pin_current_thread(int cpu);
/// sysconf(_SC_NPROCESSORS_ONLN), at least 1.
int wrt_online_cpus(void);

/// ThreadSanitizer's happens-before annotations (`__tsan_acquire`,
/// `__tsan_release`) on `address`; nothing in a build without TSan. Swift's
/// `Synchronization.Mutex` locks with futexes inside the uninstrumented
/// standard library, so TSan does not see it order anything: code that shares
/// state under a Mutex between threads calls these inside the lock (acquire
/// after taking it, release before leaving it) so TSan sees what the lock does.
void wrt_tsan_acquire(const void *address);
void wrt_tsan_release(const void *address);

/// sigaction(SIGINT, SIGTERM, SIGHUP): the first of them is recorded for
/// wrt_stop_signal() and the program winds down cleanly; a second one calls
/// _exit(128 + signo) at once. The handler is async-signal-safe (an atomic
/// exchange, then _exit), which a Swift closure cannot promise. The three
/// signals are unblocked in the calling thread (pthread_sigmask), since a
/// process may inherit them blocked. Returns 0 or an errno value.
int wrt_install_stop_signals(void);

/// The first stop signal received (SIGINT, SIGTERM or SIGHUP), or 0.
int wrt_stop_signal(void);


// ---- Thread-local state of the emulated processor ------------------------
// Each is one `_Thread_local` variable behind a static inline accessor, so a
// read costs a TLS load once Swift's Clang importer inlines it.

/// The calling thread's current IRQL (KeGetCurrentIrql). 0 = PASSIVE_LEVEL.
extern _Thread_local uint8_t wrt_tls_irql;
static inline uint8_t wrt_irql_get(void) { return wrt_tls_irql; }
static inline void wrt_irql_set(uint8_t irql) { wrt_tls_irql = irql; }

/// The pass guard of the scheduler pass running on this thread (NULL outside one).
extern _Thread_local const void *wrt_tls_pass;
static inline const void *wrt_pass_get(void) { return wrt_tls_pass; }
static inline void wrt_pass_set(const void *pass) { wrt_tls_pass = pass; }

/// The virtual clock this thread is advancing, and the time a
/// KeStallExecutionProcessor inside one of its passes has added for this thread.
extern _Thread_local const void *wrt_tls_vclock;
extern _Thread_local uint64_t wrt_tls_vclock_stall;
static inline const void *wrt_vclock_get(void) { return wrt_tls_vclock; }
static inline void wrt_vclock_set(const void *clock) { wrt_tls_vclock = clock; wrt_tls_vclock_stall = 0; }
static inline uint64_t wrt_vclock_stall_get(const void *clock) { return wrt_tls_vclock == clock ? wrt_tls_vclock_stall : 0; }
static inline void wrt_vclock_stall_add(uint64_t ns) { wrt_tls_vclock_stall += ns; }
static inline void wrt_vclock_stall_reset(void) { wrt_tls_vclock_stall = 0; }

/// The emulated machine whose code this thread is running (the kernel's
/// per-thread context: which verifier, which port I/O space).
extern _Thread_local const void *wrt_tls_machine;
static inline const void *wrt_machine_get(void) { return wrt_tls_machine; }
static inline void wrt_machine_set(const void *machine) { wrt_tls_machine = machine; }

/// Spin locks the calling thread holds (for the verifier's IRQL rules).
extern _Thread_local uint32_t wrt_tls_spinlocks;
static inline uint32_t wrt_spinlocks_get(void) { return wrt_tls_spinlocks; }
static inline void wrt_spinlocks_set(uint32_t n) { wrt_tls_spinlocks = n; }

/// The DDI the calling thread last crossed between emulator and miniport
/// (a static string), for crash reports.
extern _Thread_local const char *wrt_tls_ddi;
static inline const char *wrt_ddi_get(void) { return wrt_tls_ddi; }
static inline void wrt_ddi_set(const char *ddi) { wrt_tls_ddi = ddi; }


/// The stream (port-assigned number, 0 = none) whose DDI call this thread is making.
extern _Thread_local uint32_t wrt_tls_stream;
static inline uint32_t wrt_stream_get(void) { return wrt_tls_stream; }
static inline void wrt_stream_set(uint32_t id) { wrt_tls_stream = id; }

#endif

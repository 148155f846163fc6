// The crash guard around every call from the emulator into a miniport
// library (see wavert_host.h for what it does and why).
//
// Why in-process, with a recovery point per crossing, rather than a child
// process: the session (its report, the WAV the speaker writes, the
// verifier's findings, the pool's leak list) lives in this process and is
// finished by the ordinary code after a crash, on the virtual clock as on the
// real one, with no second copy of the session to serialise. What is skipped
// by the jump is the miniport's own frames (and, when it faulted inside a DDI
// it called, that DDI's: reported as such). The guard cannot undo a miniport
// that scribbled over the host's heap; that shows later as a fault outside
// any guard, which goes to the previous handler (the process dies with the
// usual report).
#define _GNU_SOURCE
#include "../abi/wavert_host.h"
#include "CWaveRTShim.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

_Thread_local const char *wrt_sdk_tls_last_ddi;
_Thread_local uint32_t wrt_sdk_tls_in_ddi;
static _Thread_local char tls_assertion[512];

typedef struct WrtGuard {
    sigjmp_buf env;
    WrtInstance *instance;
    const char *entry;
    struct WrtGuard *previous;
    uint8_t irql;
    uint32_t spinlocks;
    uint32_t inDdi;
    uint32_t stream;
    const char *ddi;
} WrtGuard;

static _Thread_local WrtGuard *tls_guard;
static _Thread_local int tls_altstack_ready;

static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
#define FAULT_SIGNAL_COUNT (sizeof fault_signals / sizeof fault_signals[0])
static struct sigaction previous_actions[65];
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_error;
static pthread_key_t altstack_key;

void wrt_sdk_note_assertion(const char *text) {
    snprintf(tls_assertion, sizeof tls_assertion, "%s", text ? text : "");
}

/// Hands a fault the guard does not own to the handler that was installed before.
static void pass_on(int signo, siginfo_t *info) {
    sigaction(signo, &previous_actions[signo], NULL);
    // A fault re-executes and meets the previous handler; a raised signal is raised again.
    if (info->si_code <= 0) raise(signo);
}

static void on_fault(int signo, siginfo_t *info, void *context) {
    WrtGuard *guard = tls_guard;
    if (!guard || !guard->instance) {
        pass_on(signo, info);
        return;
    }
    WrtInstance *instance = guard->instance;
    if (!atomic_exchange((_Atomic int32_t *)&instance->crashed, 1)) {
        WrtCrash *crash = &instance->crash;
        crash->signal = signo;
        crash->code = info->si_code;
        crash->faultAddress = (uint64_t)(uintptr_t)info->si_addr;
        crash->programCounter = (uint64_t)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP];
        crash->entry = guard->entry;
        crash->lastDdi = wrt_sdk_tls_last_ddi;
        crash->insideDdi = wrt_sdk_tls_in_ddi > guard->inDdi;
        memcpy(crash->assertion, tls_assertion, sizeof crash->assertion);
        crash->frameCount = 0;
        void *frames[WRT_CRASH_FRAMES];
        int n = backtrace(frames, WRT_CRASH_FRAMES);  // warmed up at install: no loading here
        for (int i = 0; i < n; i++) crash->frames[i] = (uint64_t)(uintptr_t)frames[i];
        crash->frameCount = (uint32_t)(n > 0 ? n : 0);
    }
    tls_assertion[0] = 0;
    siglongjmp(guard->env, 1);
}

static void free_altstack(void *stack) {
    stack_t off = {.ss_flags = SS_DISABLE};
    sigaltstack(&off, NULL);
    munmap(stack, SIGSTKSZ * 4 + 65536);
}

static void install(void) {
    void *warm[4];
    backtrace(warm, 4);  // loads the unwinder now, not in the handler
    pthread_key_create(&altstack_key, free_altstack);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    sigemptyset(&action.sa_mask);
    // NODEFER: the jump out of the handler leaves the signal unblocked without a
    // sigprocmask on every guarded call.
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    for (size_t i = 0; i < FAULT_SIGNAL_COUNT; i++) {
        if (sigaction(fault_signals[i], &action, &previous_actions[fault_signals[i]]) != 0) install_error = errno;
    }
}

int wrt_sdk_install_crash_handler(void) {
    pthread_once(&install_once, install);
    // A library loaded since (a sanitizer runtime's init, say) may have put its own handler
    // in front: take the front again, keeping that one as the handler faults we do not own go to.
    struct sigaction current;
    for (size_t i = 0; i < FAULT_SIGNAL_COUNT; i++) {
        int signo = fault_signals[i];
        if (sigaction(signo, NULL, &current) != 0) continue;
        if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_fault) continue;
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = on_fault;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        if (sigaction(signo, &action, &previous_actions[signo]) != 0) install_error = errno;
    }
    return install_error;
}

/// A stack of the thread's own for the handler, so a stack overflow in the miniport is caught too.
static void ensure_altstack(void) {
    if (tls_altstack_ready) return;
    tls_altstack_ready = 1;
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;  // the thread has one
    size_t size = SIGSTKSZ * 4 + 65536;
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) return;
    stack_t mine = {.ss_sp = stack, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&mine, NULL) != 0) {
        munmap(stack, size);
        return;
    }
    pthread_setspecific(altstack_key, stack);
}

static inline void guard_push(WrtGuard *guard, WrtInstance *instance, const char *entry) {
    ensure_altstack();
    guard->instance = instance;
    guard->entry = entry;
    guard->previous = tls_guard;
    guard->irql = wrt_irql_get();
    guard->spinlocks = wrt_spinlocks_get();
    guard->inDdi = wrt_sdk_tls_in_ddi;
    guard->stream = wrt_stream_get();
    guard->ddi = wrt_ddi_get();
    tls_guard = guard;
}

void *wrt_sdk_current_context(void) {
    WrtGuard *guard = tls_guard;
    return guard && guard->instance ? guard->instance->context : NULL;
}

static inline void guard_pop(WrtGuard *guard) { tls_guard = guard->previous; }

/// After the jump: the thread is back where the guard was set, as the emulator left it.
static void guard_crashed(WrtGuard *guard) {
    tls_guard = guard->previous;
    wrt_irql_set(guard->irql);
    wrt_spinlocks_set(guard->spinlocks);
    wrt_sdk_tls_in_ddi = guard->inDdi;
    wrt_stream_set(guard->stream);
    wrt_ddi_set(guard->ddi);
}

#define CRASHED WRT_STATUS_CRASHED

// A guarded call returning a value: FAIL once the instance is dead or when it dies in the call.
#define GUARDED(TYPE, FAIL, ENTRY, CALL)                        \
    WrtGuard guard;                                             \
    if (!instance || instance->crashed) return FAIL;            \
    if (sigsetjmp(guard.env, 0) != 0) {                         \
        guard_crashed(&guard);                                  \
        return FAIL;                                            \
    }                                                           \
    guard_push(&guard, instance, ENTRY);                        \
    TYPE result = CALL;                                         \
    guard_pop(&guard);                                          \
    return result;

#define GUARDED_VOID(ENTRY, CALL)                               \
    WrtGuard guard;                                             \
    if (!instance || instance->crashed) return;                 \
    if (sigsetjmp(guard.env, 0) != 0) {                         \
        guard_crashed(&guard);                                  \
        return;                                                 \
    }                                                           \
    guard_push(&guard, instance, ENTRY);                        \
    CALL;                                                       \
    guard_pop(&guard);

#define RT instance->runtime

const char *wrt_guarded_hardware(WrtInstance *instance) { GUARDED(const char *, NULL, "WaveRTMiniportHardware", RT->hardware()) }

int32_t wrt_guarded_create_miniport(WrtInstance *instance, uint64_t poolFlags, void **miniport) {
    GUARDED(int32_t, CRASHED, "WaveRTCreateMiniport", RT->createMiniport(poolFlags, miniport))
}

int32_t wrt_guarded_query_interface(WrtInstance *instance, void *object, const WrtGuid *iid, void **out) {
    GUARDED(int32_t, CRASHED, "IUnknown::QueryInterface", RT->queryInterface(object, iid, out))
}

uint32_t wrt_guarded_release(WrtInstance *instance, const char *entry, void *object) {
    GUARDED(uint32_t, 0, entry, RT->release(object))
}

int32_t wrt_guarded_get_description(WrtInstance *instance, void *miniport, void *context, WrtFilterInfo *filter, WrtPinSink pin,
                                    WrtRangeSink range) {
    GUARDED(int32_t, CRASHED, "IMiniport::GetDescription", RT->getDescription(miniport, context, filter, pin, range))
}

int32_t wrt_guarded_data_range_intersection(WrtInstance *instance, void *miniport, uint32_t pinId, const void *dataRange,
                                            const void *matchingDataRange, uint32_t outputBufferLength, void *resultantFormat,
                                            uint32_t *resultantFormatLength) {
    GUARDED(int32_t, CRASHED, "IMiniport::DataRangeIntersection",
            RT->dataRangeIntersection(miniport, pinId, dataRange, matchingDataRange, outputBufferLength, resultantFormat, resultantFormatLength))
}

int32_t wrt_guarded_init(WrtInstance *instance, void *miniport, const WrtResource *resources, uint32_t count, void *resourceList) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRT::Init", RT->init(miniport, resources, count, resourceList))
}

int32_t wrt_guarded_new_stream(WrtInstance *instance, void *miniport, void *portStream, uint32_t pin, uint8_t capture,
                               const void *dataFormat, void **stream) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRT::NewStream", RT->newStream(miniport, portStream, pin, capture, dataFormat, stream))
}

int32_t wrt_guarded_get_device_description(WrtInstance *instance, void *miniport, WrtDeviceDescription *description) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRT::GetDeviceDescription", RT->getDeviceDescription(miniport, description))
}

int32_t wrt_guarded_set_format(WrtInstance *instance, void *stream, const void *dataFormat) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTStream::SetFormat", RT->setFormat(stream, dataFormat))
}

int32_t wrt_guarded_set_state(WrtInstance *instance, void *stream, int32_t state) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTStream::SetState", RT->setState(stream, state))
}

int32_t wrt_guarded_get_position(WrtInstance *instance, void *stream, WrtAudioPosition *position) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTStream::GetPosition", RT->getPosition(stream, position))
}

int32_t wrt_guarded_allocate_audio_buffer(WrtInstance *instance, void *stream, uint32_t requestedSize, WrtBufferAllocation *allocation) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTStream::AllocateAudioBuffer", RT->allocateAudioBuffer(stream, requestedSize, allocation))
}

void wrt_guarded_free_audio_buffer(WrtInstance *instance, void *stream, void *mdl, uint32_t size) {
    GUARDED_VOID("IMiniportWaveRTStream::FreeAudioBuffer", RT->freeAudioBuffer(stream, mdl, size))
}

void wrt_guarded_get_hw_latency(WrtInstance *instance, void *stream, WrtHwLatency *latency) {
    GUARDED_VOID("IMiniportWaveRTStream::GetHWLatency", RT->getHWLatency(stream, latency))
}

int32_t wrt_guarded_get_position_register(WrtInstance *instance, void *stream, WrtHwRegister *reg) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTStream::GetPositionRegister", RT->getPositionRegister(stream, reg))
}

int32_t wrt_guarded_get_clock_register(WrtInstance *instance, void *stream, WrtHwRegister *reg) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTStream::GetClockRegister", RT->getClockRegister(stream, reg))
}

int32_t wrt_guarded_allocate_buffer_with_notification(WrtInstance *instance, void *stream, uint32_t notificationCount,
                                                      uint32_t requestedSize, WrtBufferAllocation *allocation) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTStreamNotification::AllocateBufferWithNotification",
            RT->allocateBufferWithNotification(stream, notificationCount, requestedSize, allocation))
}

void wrt_guarded_free_buffer_with_notification(WrtInstance *instance, void *stream, void *mdl, uint32_t size) {
    GUARDED_VOID("IMiniportWaveRTStreamNotification::FreeBufferWithNotification", RT->freeBufferWithNotification(stream, mdl, size))
}

int32_t wrt_guarded_register_notification_event(WrtInstance *instance, void *stream, void *event) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTStreamNotification::RegisterNotificationEvent", RT->registerNotificationEvent(stream, event))
}

int32_t wrt_guarded_unregister_notification_event(WrtInstance *instance, void *stream, void *event) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTStreamNotification::UnregisterNotificationEvent",
            RT->unregisterNotificationEvent(stream, event))
}

int32_t wrt_guarded_set_write_packet(WrtInstance *instance, void *stream, uint32_t packetNumber, uint32_t flags, uint32_t eosPacketLength) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTOutputStream::SetWritePacket", RT->setWritePacket(stream, packetNumber, flags, eosPacketLength))
}

int32_t wrt_guarded_get_output_stream_presentation_position(WrtInstance *instance, void *stream, WrtPresentationPosition *position) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTOutputStream::GetOutputStreamPresentationPosition",
            RT->getOutputStreamPresentationPosition(stream, position))
}

int32_t wrt_guarded_get_packet_count(WrtInstance *instance, void *stream, uint32_t *packetCount) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTOutputStream::GetPacketCount", RT->getPacketCount(stream, packetCount))
}

int32_t wrt_guarded_get_read_packet(WrtInstance *instance, void *stream, uint32_t *packetNumber, uint32_t *flags,
                                    uint64_t *performanceCounterValue, int32_t *moreData) {
    GUARDED(int32_t, CRASHED, "IMiniportWaveRTInputStream::GetReadPacket",
            RT->getReadPacket(stream, packetNumber, flags, performanceCounterValue, moreData))
}

typedef void (*DeferredRoutine)(void *, void *, void *, void *);
typedef int32_t (*InterruptRoutine)(void *, void *);
typedef void (*TimerCallback)(void *, void *);

void wrt_guarded_call_dpc(WrtInstance *instance, void *routine, void *dpc, void *context, void *argument1, void *argument2) {
    GUARDED_VOID("KDEFERRED_ROUTINE (DPC)", ((DeferredRoutine)routine)(dpc, context, argument1, argument2))
}

int32_t wrt_guarded_call_interrupt_routine(WrtInstance *instance, const char *entry, void *routine, void *interruptSync, void *context) {
    GUARDED(int32_t, CRASHED, entry, ((InterruptRoutine)routine)(interruptSync, context))
}

void wrt_guarded_call_timer_callback(WrtInstance *instance, void *callback, void *timer, void *context) {
    GUARDED_VOID("EXT_CALLBACK (ExTimer)", ((TimerCallback)callback)(timer, context))
}

// ---- Symbols -------------------------------------------------------------

extern char *__cxa_demangle(const char *mangled, char *buffer, size_t *length, int *status);

int wrt_sdk_describe_address(uint64_t address, char *out, size_t size) {
    Dl_info info;
    if (!dladdr((void *)(uintptr_t)address, &info) || !info.dli_fname) return 0;
    const char *module = strrchr(info.dli_fname, '/');
    module = module ? module + 1 : info.dli_fname;
    uint64_t moduleOffset = address - (uint64_t)(uintptr_t)info.dli_fbase;
    if (info.dli_sname) {
        int status = -1;
        char *demangled = __cxa_demangle(info.dli_sname, NULL, NULL, &status);
        const char *name = status == 0 && demangled ? demangled : info.dli_sname;
        snprintf(out, size, "%s+0x%llx (%s+0x%llx)", name, (unsigned long long)(address - (uint64_t)(uintptr_t)info.dli_saddr), module,
                 (unsigned long long)moduleOffset);
        free(demangled);
    } else {
        snprintf(out, size, "%s+0x%llx", module, (unsigned long long)moduleOffset);
    }
    return 1;
}

const char *wrt_sdk_module_of(uint64_t address) {
    Dl_info info;
    return dladdr((void *)(uintptr_t)address, &info) ? info.dli_fname : NULL;
}

int wrt_sdk_elf_needs(const char *path, const char *prefix) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    const unsigned char *file = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (file == MAP_FAILED) return -1;
    int found = -1;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)file;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf64_Phdr) > size)
        goto done;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(file + eh->e_phoff);
    const Elf64_Phdr *dynamic = NULL;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_DYNAMIC) dynamic = &ph[i];
    if (!dynamic || dynamic->p_offset + dynamic->p_filesz > size) goto done;
    // Virtual address of the string table -> file offset, through the PT_LOAD that maps it.
    const Elf64_Dyn *dyn = (const Elf64_Dyn *)(file + dynamic->p_offset);
    size_t count = dynamic->p_filesz / sizeof(Elf64_Dyn);
    uint64_t strtab = 0;
    for (size_t i = 0; i < count && dyn[i].d_tag != DT_NULL; i++)
        if (dyn[i].d_tag == DT_STRTAB) strtab = dyn[i].d_un.d_ptr;
    uint64_t strtabOffset = UINT64_MAX;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && strtab >= ph[i].p_vaddr && strtab < ph[i].p_vaddr + ph[i].p_filesz)
            strtabOffset = strtab - ph[i].p_vaddr + ph[i].p_offset;
    if (strtabOffset >= size) goto done;
    found = 0;
    for (size_t i = 0; i < count && dyn[i].d_tag != DT_NULL; i++) {
        if (dyn[i].d_tag != DT_NEEDED || strtabOffset + dyn[i].d_un.d_val >= size) continue;
        const char *name = (const char *)file + strtabOffset + dyn[i].d_un.d_val;
        if (strncmp(name, prefix, strlen(prefix)) == 0) found = 1;
    }
done:
    munmap((void *)file, size);
    return found;
}

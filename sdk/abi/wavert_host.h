// The host's side of the bridge, for the Swift module WaveRTSDK: the crash
// guard around every call into a miniport library, and the per-thread notes
// a crash report is made of.
//
// Every call from the emulator into the miniport's code (its objects' methods
// through the runtime's trampolines, its DPCs, ISRs and timer callbacks) goes
// through one wrt_guarded_* function. Each sets a recovery point
// (sigsetjmp) and pushes itself on the thread's guard stack; the fault
// handler (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS), on an
// alternate stack, records the first crash of the miniport instance (signal,
// address, program counter, the crossing it was in, the last DDI the
// miniport called, the frames) and jumps back to the innermost guard, which
// returns WRT_STATUS_CRASHED. From then on the instance is dead: every
// guarded call returns at once without entering the miniport. A fault on a
// thread with no guard is passed to the handler that was there before.
#ifndef WAVERT_HOST_H
#define WAVERT_HOST_H

#include "wavert_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/// What a guarded call returns once the miniport has crashed (STATUS_INTERNAL_ERROR).
#define WRT_STATUS_CRASHED ((int32_t)0xC00000E5)
#define WRT_CRASH_FRAMES 64

/// The first crash of a miniport instance.
typedef struct WrtCrash {
    int32_t signal;
    int32_t code;                 // si_code
    uint64_t faultAddress;        // si_addr
    uint64_t programCounter;      // RIP at the fault
    const char *entry;            // the crossing from the emulator into the miniport it happened in
    const char *lastDdi;          // the last DDI the miniport called on that thread
    uint32_t insideDdi;           // nonzero: the fault is inside that DDI (emulator code the miniport called)
    uint32_t frameCount;
    uint64_t frames[WRT_CRASH_FRAMES];
    char assertion[512];          // a failed ASSERT's text, when that is what aborted
} WrtCrash;

/// One loaded miniport object graph: its library's trampolines and its crash state.
typedef struct WrtInstance {
    const WrtRuntime *runtime;
    /// The host's state for the instance (its kernel objects, MDLs): what a DDI the miniport calls works on.
    void *context;
    /// Nonzero once the miniport crashed (crash.signal != 0) or was unloaded (crash.signal == 0).
    volatile int32_t crashed;
    WrtCrash crash;
} WrtInstance;

/// The context of the instance whose code the calling thread is running (the innermost guard's), or NULL.
void *wrt_sdk_current_context(void);

/// Installs the fault handler once per process (later calls do nothing). 0, or an errno value.
int wrt_sdk_install_crash_handler(void);

// ---- Per-thread notes (what the miniport last called) --------------------

extern _Thread_local const char *wrt_sdk_tls_last_ddi;
extern _Thread_local uint32_t wrt_sdk_tls_in_ddi;
/// A DDI the miniport called: on entry (the name must be a static string) and on return.
static inline void wrt_sdk_ddi_enter(const char *ddi) {
    wrt_sdk_tls_last_ddi = ddi;
    wrt_sdk_tls_in_ddi++;
}
static inline void wrt_sdk_ddi_leave(void) { wrt_sdk_tls_in_ddi--; }
/// A failed assertion's text, copied into the crash that follows it on this thread.
void wrt_sdk_note_assertion(const char *text);

// ---- A KSPIN_LOCK word, atomically ---------------------------------------

static inline uintptr_t wrt_atomic_load_word(const uintptr_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }
static inline void wrt_atomic_store_word(uintptr_t *word, uintptr_t value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }
static inline int wrt_atomic_cas_word(uintptr_t *word, uintptr_t expected, uintptr_t desired) {
    return __atomic_compare_exchange_n(word, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

// ---- Guarded calls (one per trampoline, plus the routines the kernel calls back) --

const char *wrt_guarded_hardware(WrtInstance *instance);
int32_t wrt_guarded_create_miniport(WrtInstance *instance, uint64_t poolFlags, void **miniport);
int32_t wrt_guarded_query_interface(WrtInstance *instance, void *object, const WrtGuid *iid, void **out);
uint32_t wrt_guarded_release(WrtInstance *instance, const char *entry, void *object);
int32_t wrt_guarded_get_description(WrtInstance *instance, void *miniport, void *context, WrtFilterInfo *filter, WrtPinSink pin,
                                    WrtRangeSink range);
int32_t wrt_guarded_data_range_intersection(WrtInstance *instance, void *miniport, uint32_t pinId, const void *dataRange,
                                            const void *matchingDataRange, uint32_t outputBufferLength, void *resultantFormat,
                                            uint32_t *resultantFormatLength);
int32_t wrt_guarded_init(WrtInstance *instance, void *miniport, const WrtResource *resources, uint32_t count, void *resourceList);
int32_t wrt_guarded_new_stream(WrtInstance *instance, void *miniport, void *portStream, uint32_t pin, uint8_t capture,
                               const void *dataFormat, void **stream);
int32_t wrt_guarded_get_device_description(WrtInstance *instance, void *miniport, WrtDeviceDescription *description);
int32_t wrt_guarded_set_format(WrtInstance *instance, void *stream, const void *dataFormat);
int32_t wrt_guarded_set_state(WrtInstance *instance, void *stream, int32_t state);
int32_t wrt_guarded_get_position(WrtInstance *instance, void *stream, WrtAudioPosition *position);
int32_t wrt_guarded_allocate_audio_buffer(WrtInstance *instance, void *stream, uint32_t requestedSize, WrtBufferAllocation *allocation);
void wrt_guarded_free_audio_buffer(WrtInstance *instance, void *stream, void *mdl, uint32_t size);
void wrt_guarded_get_hw_latency(WrtInstance *instance, void *stream, WrtHwLatency *latency);
int32_t wrt_guarded_get_position_register(WrtInstance *instance, void *stream, WrtHwRegister *reg);
int32_t wrt_guarded_get_clock_register(WrtInstance *instance, void *stream, WrtHwRegister *reg);
int32_t wrt_guarded_allocate_buffer_with_notification(WrtInstance *instance, void *stream, uint32_t notificationCount,
                                                      uint32_t requestedSize, WrtBufferAllocation *allocation);
void wrt_guarded_free_buffer_with_notification(WrtInstance *instance, void *stream, void *mdl, uint32_t size);
int32_t wrt_guarded_register_notification_event(WrtInstance *instance, void *stream, void *event);
int32_t wrt_guarded_unregister_notification_event(WrtInstance *instance, void *stream, void *event);
int32_t wrt_guarded_set_write_packet(WrtInstance *instance, void *stream, uint32_t packetNumber, uint32_t flags, uint32_t eosPacketLength);
int32_t wrt_guarded_get_output_stream_presentation_position(WrtInstance *instance, void *stream, WrtPresentationPosition *position);
int32_t wrt_guarded_get_packet_count(WrtInstance *instance, void *stream, uint32_t *packetCount);
int32_t wrt_guarded_get_read_packet(WrtInstance *instance, void *stream, uint32_t *packetNumber, uint32_t *flags,
                                    uint64_t *performanceCounterValue, int32_t *moreData);
/// A KDEFERRED_ROUTINE(Dpc, DeferredContext, SystemArgument1, SystemArgument2).
void wrt_guarded_call_dpc(WrtInstance *instance, void *routine, void *dpc, void *context, void *argument1, void *argument2);
/// A PINTERRUPTSYNCROUTINE(InterruptSync, DynamicContext): an ISR or a synchronized routine.
int32_t wrt_guarded_call_interrupt_routine(WrtInstance *instance, const char *entry, void *routine, void *interruptSync, void *context);
/// An EXT_CALLBACK(Timer, Context).
void wrt_guarded_call_timer_callback(WrtInstance *instance, void *callback, void *timer, void *context);

// ---- Reading a crash and a library --------------------------------------

/// "symbol+0x1c (libminiport.so+0x1a2c)" for a code address, demangled; 0 when dladdr knows nothing.
int wrt_sdk_describe_address(uint64_t address, char *out, size_t size);
/// The path of the loaded object holding `address` (the loader's string), or NULL.
const char *wrt_sdk_module_of(uint64_t address);
/// Whether the ELF shared object at `path` lists a DT_NEEDED library whose name starts with `prefix`: 1, 0, or -1 when it cannot be read.
int wrt_sdk_elf_needs(const char *path, const char *prefix);

#ifdef __cplusplus
}
#endif

#endif

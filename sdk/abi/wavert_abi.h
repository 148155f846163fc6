// The one C interface between the emulator (the host) and a miniport library
// built with the SDK. Plain C, fixed-width types, no WDK header: the host
// (Swift, through the CWaveRTSDK module) and the SDK runtime compiled into
// each miniport (sdk/runtime, C++ with the WDK headers) both include it.
//
//   WrtKernel   the host's functions: every WDM DDI the miniport calls and
//               the methods of the port's objects (IPortWaveRTStream,
//               IResourceList, IInterruptSync). The runtime's DDI functions
//               and shim classes call through it.
//   WrtRuntime  the runtime's trampolines: each calls one method of one of
//               the miniport's C++ objects. The host calls them through the
//               crash guard (wavert_host.h), never directly.
//
// Kernel objects a driver embeds (KEVENT, KDPC, KTIMER) keep the host's
// object in the structure's own bytes, at WRT_OBJECT_SLOT_OFFSET, marked by
// WRT_OBJECT_MAGIC xor the object's kind (1 KEVENT, 2 KDPC, 3 KTIMER) at WRT_OBJECT_MAGIC_OFFSET (inside DISPATCHER_HEADER's
// WaitListHead, and KDPC's DpcListEntry/ProcessorHistory): fields no driver
// touches. A KSPIN_LOCK (one pointer) holds the object's address tagged with
// WRT_SPINLOCK_TAG in its top 16 bits.
#ifndef WAVERT_ABI_H
#define WAVERT_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Bumped whenever a table changes; the host refuses a library built for another.
#define WRT_ABI_VERSION 1u

#define WRT_OBJECT_SLOT_OFFSET 8
#define WRT_OBJECT_MAGIC_OFFSET 16
#define WRT_OBJECT_MAGIC 0x314A424F4B545257ull /* "WRTKOBJ1" */
#define WRT_SPINLOCK_TAG 0x5752ull             /* "WR" in bits 63:48 */

/// A GUID as it lies in memory.
typedef struct WrtGuid {
    uint32_t data1;
    uint16_t data2;
    uint16_t data3;
    uint8_t data4[8];
} WrtGuid;

/// One CM_PARTIAL_RESOURCE_DESCRIPTOR's meaning (the runtime lays it out the WDK's way).
typedef struct WrtResource {
    uint8_t type;              // CmResourceType*
    uint8_t shareDisposition;
    uint16_t flags;
    uint32_t length;           // u.Port.Length / u.Memory.Length
    uint64_t start;            // u.Port.Start / u.Memory.Start
    uint32_t level;            // u.Interrupt.Level
    uint32_t vector;           // u.Interrupt.Vector
    uint64_t affinity;         // u.Interrupt.Affinity
    uint32_t channel;          // u.Dma.Channel
    uint32_t reserved;
} WrtResource;

/// A pin of the miniport's PCFILTER_DESCRIPTOR, as GetDescription reports it.
typedef struct WrtPinInfo {
    uint32_t maxGlobalInstanceCount;
    uint32_t maxFilterInstanceCount;
    uint32_t minFilterInstanceCount;
    int32_t dataFlow;          // KSPIN_DATAFLOW
    int32_t communication;     // KSPIN_COMMUNICATION
    uint32_t hasCategory;
    WrtGuid category;
    uint32_t dataRangeCount;
    uint32_t reserved;
} WrtPinInfo;

/// One data range of a pin (KSDATARANGE, and KSDATARANGE_AUDIO's limits when `isAudio`).
typedef struct WrtRangeInfo {
    WrtGuid majorFormat;
    WrtGuid subFormat;
    WrtGuid specifier;
    uint32_t formatSize;
    uint32_t isAudio;
    uint32_t maximumChannels;
    uint32_t minimumBitsPerSample;
    uint32_t maximumBitsPerSample;
    uint32_t minimumSampleFrequency;
    uint32_t maximumSampleFrequency;
    uint32_t reserved;
    const void *original;      // the miniport's own PKSDATARANGE (DataRangeIntersection's MatchingDataRange)
} WrtRangeInfo;

/// The rest of PCFILTER_DESCRIPTOR.
typedef struct WrtFilterInfo {
    uint32_t version;
    uint32_t pinCount;
    uint32_t nodeCount;
    uint32_t connectionCount;
    uint32_t categoryCount;
    uint32_t reserved;
} WrtFilterInfo;

/// Where GetDescription's trampoline reports each pin and range.
typedef void (*WrtPinSink)(void *context, uint32_t pinIndex, const WrtPinInfo *pin);
typedef void (*WrtRangeSink)(void *context, uint32_t pinIndex, const WrtRangeInfo *range);

/// KSAUDIO_POSITION.
typedef struct WrtAudioPosition { uint64_t playOffset, writeOffset; } WrtAudioPosition;
/// KSAUDIO_PRESENTATION_POSITION.
typedef struct WrtPresentationPosition { uint64_t positionInBlocks, qpcPosition; } WrtPresentationPosition;
/// KSRTAUDIO_HWLATENCY.
typedef struct WrtHwLatency { uint32_t fifoSize, chipsetDelay, codecDelay; } WrtHwLatency;
/// KSRTAUDIO_HWREGISTER (x64 layout: 40 bytes).
typedef struct WrtHwRegister {
    void *reg;
    uint32_t width;
    uint64_t numerator;
    uint64_t denominator;
    uint32_t accuracy;
} WrtHwRegister;
/// DEVICE_DESCRIPTION (x64 layout: 64 bytes).
typedef struct WrtDeviceDescription {
    uint32_t version;
    uint8_t master, scatterGather, demandMode, autoInitialize, dma32BitAddresses, ignoreCount, reserved1, dma64BitAddresses;
    uint32_t busNumber, dmaChannel, interfaceType, dmaWidth, dmaSpeed, maximumLength, dmaPort;
    uint32_t dmaAddressWidth, dmaControllerInstance, dmaRequestLine;
    uint64_t deviceAddress;
} WrtDeviceDescription;

/// What an Allocate*Buffer* call returns through its out-parameters.
typedef struct WrtBufferAllocation {
    void *mdl;
    uint32_t actualSize;
    uint32_t offsetFromFirstPage;
    int32_t cacheType;
    uint32_t reserved;
} WrtBufferAllocation;

/// The host's side. Every function is called on the thread that runs the
/// miniport code, with the emulated machine current on it. `host` arguments
/// are handles the host gave the runtime (released with releaseHostObject).
typedef struct WrtKernel {
    uint32_t abiVersion;
    uint32_t size;

    // IRQL
    uint8_t (*getCurrentIrql)(void);
    uint8_t (*raiseIrql)(uint8_t newIrql);
    void (*lowerIrql)(uint8_t newIrql);

    // KEVENT (event: the driver's KEVENT)
    void (*initializeEvent)(void *event, int32_t type, uint8_t state);
    int32_t (*setEvent)(void *event, int32_t increment, uint8_t wait);
    void (*clearEvent)(void *event);
    int32_t (*resetEvent)(void *event);
    int32_t (*readStateEvent)(void *event);
    /// KeWaitForSingleObject on a KEVENT or KTIMER; timeout in 100 ns units (NULL: forever).
    int32_t (*waitForSingleObject)(void *object, const int64_t *timeout);

    // KDPC
    void (*initializeDpc)(void *dpc, void *routine, void *context);
    uint8_t (*insertQueueDpc)(void *dpc, void *argument1, void *argument2);
    uint8_t (*removeQueueDpc)(void *dpc);
    void (*flushQueuedDpcs)(void);

    // KTIMER
    void (*initializeTimerEx)(void *timer, int32_t type);
    uint8_t (*setTimerEx)(void *timer, int64_t dueTime, int32_t periodMilliseconds, void *dpc);
    uint8_t (*cancelTimer)(void *timer);
    uint8_t (*readStateTimer)(void *timer);

    // EX_TIMER (the PEX_TIMER is the host's handle)
    void *(*allocateTimer)(void *callback, void *context, uint32_t attributes);
    uint8_t (*setExTimer)(void *timer, int64_t dueTime, int64_t period);
    uint8_t (*cancelExTimer)(void *timer);
    uint8_t (*deleteExTimer)(void *timer, uint8_t cancel, uint8_t wait);

    // KSPIN_LOCK
    void (*initializeSpinLock)(uintptr_t *lock);
    uint8_t (*acquireSpinLockRaiseToDpc)(uintptr_t *lock);
    void (*releaseSpinLock)(uintptr_t *lock, uint8_t newIrql);
    void (*acquireSpinLockAtDpcLevel)(uintptr_t *lock);
    void (*releaseSpinLockFromDpcLevel)(uintptr_t *lock);

    // Time
    int64_t (*queryPerformanceCounter)(int64_t *frequency);
    uint64_t (*queryInterruptTime)(void);
    void (*stallExecutionProcessor)(uint32_t microseconds);

    // Pool
    void *(*allocatePool2)(uint64_t flags, size_t bytes, uint32_t tag);
    void *(*allocatePoolWithTag)(int32_t poolType, size_t bytes, uint32_t tag);
    void (*freePoolWithTag)(void *p, uint32_t tag);
    void (*freePool)(void *p);

    // Memory manager (MDLs are WDK-layout MDLs the host keeps in step with its own)
    void *(*allocateContiguousMemorySpecifyCache)(size_t bytes, uint64_t lowest, uint64_t highest, uint64_t boundary, int32_t cacheType);
    void *(*allocateContiguousMemory)(size_t bytes, uint64_t highest);
    void (*freeContiguousMemory)(void *base);
    uint64_t (*getPhysicalAddress)(const void *base);
    void *(*allocatePagesForMdlEx)(uint64_t low, uint64_t high, uint64_t skip, size_t total, int32_t cacheType, uint32_t flags, uint8_t extended);
    void (*freePagesFromMdl)(void *mdl);
    void *(*mapLockedPagesSpecifyCache)(void *mdl, int8_t accessMode, int32_t cacheType);
    void (*unmapLockedPages)(void *base, void *mdl);
    void *(*mapIoSpace)(uint64_t physical, size_t bytes, int32_t cacheType);
    void *(*mapIoSpaceEx)(uint64_t physical, size_t bytes, uint32_t protect);
    void (*unmapIoSpace)(void *base, size_t bytes);

    // Registers and ports
    uint8_t (*readRegisterUchar)(const volatile void *reg);
    uint16_t (*readRegisterUshort)(const volatile void *reg);
    uint32_t (*readRegisterUlong)(const volatile void *reg);
    uint64_t (*readRegisterUlong64)(const volatile void *reg);
    void (*writeRegisterUchar)(volatile void *reg, uint8_t value);
    void (*writeRegisterUshort)(volatile void *reg, uint16_t value);
    void (*writeRegisterUlong)(volatile void *reg, uint32_t value);
    void (*writeRegisterUlong64)(volatile void *reg, uint64_t value);
    uint8_t (*readPortUchar)(const void *port);
    uint16_t (*readPortUshort)(const void *port);
    uint32_t (*readPortUlong)(const void *port);
    void (*writePortUchar)(void *port, uint8_t value);
    void (*writePortUshort)(void *port, uint16_t value);
    void (*writePortUlong)(void *port, uint32_t value);

    // Objects
    void (*referenceObject)(void *object);
    void (*dereferenceObject)(void *object);

    // Debugging
    void (*debugPrint)(uint32_t componentId, uint32_t level, const char *text);
    /// An ASSERT / NT_ASSERT failed: the host records it; the runtime then aborts.
    void (*assertionFailed)(const char *expression, const char *file, uint32_t line, const char *message);
    /// PAGED_CODE(): a verifier finding above APC_LEVEL.
    void (*pagedCode)(const char *function);

    // IPortWaveRTStream (host: the port's stream)
    void *(*portStreamAllocatePagesForMdl)(void *host, uint64_t highAddress, size_t totalBytes);
    void *(*portStreamAllocateContiguousPagesForMdl)(void *host, uint64_t lowAddress, uint64_t highAddress, size_t totalBytes);
    void *(*portStreamMapAllocatedPages)(void *host, void *mdl, int32_t cacheType);
    void (*portStreamUnmapAllocatedPages)(void *host, void *base, void *mdl);
    void (*portStreamFreePagesFromMdl)(void *host, void *mdl);
    uint32_t (*portStreamGetPhysicalPagesCount)(void *host, void *mdl);
    uint64_t (*portStreamGetPhysicalPageAddress)(void *host, void *mdl, uint32_t index);

    // PcNewInterruptSync and IInterruptSync (host: the resource list / the interrupt)
    int32_t (*newInterruptSync)(void *resourceList, uint32_t resourceIndex, int32_t mode, void **interruptSync);
    /// `shim` is the runtime's IInterruptSync object, passed back to the routine as its first argument.
    int32_t (*interruptSyncCallSynchronizedRoutine)(void *host, void *routine, void *shim, void *context);
    int32_t (*interruptSyncConnect)(void *host);
    void (*interruptSyncDisconnect)(void *host);
    int32_t (*interruptSyncRegisterServiceRoutine)(void *host, void *routine, void *shim, void *context, uint8_t first);

    /// Drops a handle the host gave (a port stream, a resource list, an interrupt).
    void (*releaseHostObject)(void *host);
} WrtKernel;

/// The runtime's trampolines. `object` is the interface pointer the
/// trampoline's name says (an IUnknown for the IUnknown ones).
typedef struct WrtRuntime {
    uint32_t abiVersion;
    uint32_t size;

    /// WaveRTMiniportHardware() when the library exports it, else NULL.
    const char *(*hardware)(void);
    /// WaveRTCreateMiniport, then QueryInterface for IID_IMiniportWaveRT; returns the interface (or NULL and the status).
    int32_t (*createMiniport)(uint64_t poolFlags, void **miniportWaveRT);

    // IUnknown
    int32_t (*queryInterface)(void *object, const WrtGuid *iid, void **out);
    uint32_t (*release)(void *object);

    // IMiniport / IMiniportWaveRT
    int32_t (*getDescription)(void *miniport, void *context, WrtFilterInfo *filter, WrtPinSink pin, WrtRangeSink range);
    int32_t (*dataRangeIntersection)(void *miniport, uint32_t pinId, const void *dataRange, const void *matchingDataRange,
                                     uint32_t outputBufferLength, void *resultantFormat, uint32_t *resultantFormatLength);
    /// Builds the IResourceList (over `resources`, keeping `resourceList` for PcNewInterruptSync), the IPortWaveRT and the adapter's IUnknown, and calls Init.
    int32_t (*init)(void *miniport, const WrtResource *resources, uint32_t resourceCount, void *resourceList);
    /// Wraps `portStream` in an IPortWaveRTStream and calls NewStream; returns the IMiniportWaveRTStream.
    int32_t (*newStream)(void *miniport, void *portStream, uint32_t pin, uint8_t capture, const void *dataFormat, void **stream);
    int32_t (*getDeviceDescription)(void *miniport, WrtDeviceDescription *description);

    // IMiniportWaveRTStream
    int32_t (*setFormat)(void *stream, const void *dataFormat);
    int32_t (*setState)(void *stream, int32_t state);
    int32_t (*getPosition)(void *stream, WrtAudioPosition *position);
    int32_t (*allocateAudioBuffer)(void *stream, uint32_t requestedSize, WrtBufferAllocation *allocation);
    void (*freeAudioBuffer)(void *stream, void *mdl, uint32_t size);
    void (*getHWLatency)(void *stream, WrtHwLatency *latency);
    int32_t (*getPositionRegister)(void *stream, WrtHwRegister *reg);
    int32_t (*getClockRegister)(void *stream, WrtHwRegister *reg);

    // IMiniportWaveRTStreamNotification
    int32_t (*allocateBufferWithNotification)(void *stream, uint32_t notificationCount, uint32_t requestedSize, WrtBufferAllocation *allocation);
    void (*freeBufferWithNotification)(void *stream, void *mdl, uint32_t size);
    int32_t (*registerNotificationEvent)(void *stream, void *event);
    int32_t (*unregisterNotificationEvent)(void *stream, void *event);

    // IMiniportWaveRTOutputStream
    int32_t (*setWritePacket)(void *stream, uint32_t packetNumber, uint32_t flags, uint32_t eosPacketLength);
    int32_t (*getOutputStreamPresentationPosition)(void *stream, WrtPresentationPosition *position);
    int32_t (*getPacketCount)(void *stream, uint32_t *packetCount);

    // IMiniportWaveRTInputStream
    int32_t (*getReadPacket)(void *stream, uint32_t *packetNumber, uint32_t *flags, uint64_t *performanceCounterValue, int32_t *moreData);
} WrtRuntime;

/// What a library built with the SDK exports besides WaveRTCreateMiniport:
/// binds it to the host's kernel and hands back its trampolines. Returns 0, or
/// the ABI version it was built for when the host's differs.
typedef uint32_t (*WrtAttachFunction)(const WrtKernel *kernel, uint32_t abiVersion, const WrtRuntime **runtime);
#define WRT_ATTACH_SYMBOL "WaveRTSdkAttach"

#ifdef __cplusplus
}
#endif

#endif

// The SDK runtime: compiled into every miniport library by `wavert sdk build`
// (like the WDK's import libraries and stdunk.lib). It holds
//  - the WDM DDIs and PcNewInterruptSync, each a call through the host's
//    WrtKernel table (wavert_abi.h), where the emulator checks its IRQL rule;
//  - the C++ objects of the port a miniport receives (IPortWaveRT,
//    IPortWaveRTStream, IResourceList, IInterruptSync, the adapter's IUnknown),
//    each method a call through the same table;
//  - the trampolines (WrtRuntime) by which the host calls the miniport's objects;
//  - the definitions of every GUID the SDK headers name (ksguid.h style, weak);
//  - the global operator delete a kernel driver gets from the WDK's runtime
//    (ExFreePool), weak, so that a driver replacing it (SYSVAD) wins.
#include <ksguid.h>
#include <portcls.h>
#include <stdunk.h>
#include "../abi/wavert_abi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

// Which library exports this is the miniport's own business.
#pragma weak WaveRTMiniportHardware

static const WrtKernel *g_kernel;

/// The host's table; a DDI called before the host attached the library (a
/// global constructor, which kernel drivers do not have) is a fatal error.
static inline const WrtKernel *K(const char *ddi) {
    if (__builtin_expect(g_kernel != NULL, 1)) return g_kernel;
    static const char prefix[] = "wavert sdk runtime: ";
    static const char suffix[] = " called before the emulator loaded the library (global constructors cannot call the kernel)\n";
    (void)!write(2, prefix, sizeof prefix - 1);
    (void)!write(2, ddi, __builtin_strlen(ddi));
    (void)!write(2, suffix, sizeof suffix - 1);
    abort();
}
#define KERNEL K(__func__)

// The runtime's structures must be the ABI's.
static_assert(sizeof(KSAUDIO_POSITION) == sizeof(WrtAudioPosition), "KSAUDIO_POSITION");
static_assert(sizeof(KSAUDIO_PRESENTATION_POSITION) == sizeof(WrtPresentationPosition), "KSAUDIO_PRESENTATION_POSITION");
static_assert(sizeof(KSRTAUDIO_HWLATENCY) == sizeof(WrtHwLatency), "KSRTAUDIO_HWLATENCY");
static_assert(sizeof(KSRTAUDIO_HWREGISTER) == sizeof(WrtHwRegister) && offsetof(KSRTAUDIO_HWREGISTER, Accuracy) == offsetof(WrtHwRegister, accuracy),
              "KSRTAUDIO_HWREGISTER");
static_assert(sizeof(DEVICE_DESCRIPTION) == sizeof(WrtDeviceDescription) &&
                  offsetof(DEVICE_DESCRIPTION, DeviceAddress) == offsetof(WrtDeviceDescription, deviceAddress),
              "DEVICE_DESCRIPTION");
static_assert(sizeof(GUID) == sizeof(WrtGuid), "GUID");
static_assert(offsetof(DISPATCHER_HEADER, WaitListHead) == WRT_OBJECT_SLOT_OFFSET &&
                  offsetof(DISPATCHER_HEADER, WaitListHead) + sizeof(PVOID) == WRT_OBJECT_MAGIC_OFFSET &&
                  offsetof(KDPC, DpcListEntry) == WRT_OBJECT_SLOT_OFFSET && offsetof(KDPC, ProcessorHistory) == WRT_OBJECT_MAGIC_OFFSET,
              "where the emulator keeps its objects");

EXTERN_C_START

// ---- IRQL -----------------------------------------------------------------

KIRQL KeGetCurrentIrql(void) { return KERNEL->getCurrentIrql(); }
KIRQL KfRaiseIrql(KIRQL NewIrql) { return KERNEL->raiseIrql(NewIrql); }
void KeLowerIrql(KIRQL NewIrql) { KERNEL->lowerIrql(NewIrql); }
KIRQL KeRaiseIrqlToDpcLevel(void) { return KERNEL->raiseIrql(DISPATCH_LEVEL); }

// ---- Dispatcher objects and DPCs -------------------------------------------

void KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State) {
    Event->Header.Type = (UCHAR)(Type == NotificationEvent ? EventNotificationObject : EventSynchronizationObject);
    Event->Header.Size = (UCHAR)(sizeof(KEVENT) / sizeof(LONG));
    Event->Header.SignalState = State;
    KERNEL->initializeEvent(Event, Type, State);
}
LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait) { return KERNEL->setEvent(Event, Increment, Wait); }
void KeClearEvent(PRKEVENT Event) { KERNEL->clearEvent(Event); }
LONG KeResetEvent(PRKEVENT Event) { return KERNEL->resetEvent(Event); }
LONG KeReadStateEvent(PRKEVENT Event) { return KERNEL->readStateEvent(Event); }

NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Timeout) {
    (void)WaitReason, (void)WaitMode, (void)Alertable;
    int64_t t = Timeout ? Timeout->QuadPart : 0;
    return KERNEL->waitForSingleObject(Object, Timeout ? &t : NULL);
}

void KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext) {
    Dpc->Type = DpcObject;
    Dpc->Importance = 1;  // MediumImportance
    Dpc->Number = 0;
    Dpc->DeferredRoutine = DeferredRoutine;
    Dpc->DeferredContext = DeferredContext;
    Dpc->DpcData = NULL;
    KERNEL->initializeDpc(Dpc, (void *)DeferredRoutine, DeferredContext);
}
BOOLEAN KeInsertQueueDpc(PRKDPC Dpc, PVOID SystemArgument1, PVOID SystemArgument2) {
    return KERNEL->insertQueueDpc(Dpc, SystemArgument1, SystemArgument2);
}
BOOLEAN KeRemoveQueueDpc(PRKDPC Dpc) { return KERNEL->removeQueueDpc(Dpc); }
void KeFlushQueuedDpcs(void) { KERNEL->flushQueuedDpcs(); }

void KeInitializeTimer(PKTIMER Timer) { KeInitializeTimerEx(Timer, NotificationTimer); }
void KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type) {
    Timer->Header.Type = (UCHAR)(Type == NotificationTimer ? TimerNotificationObject : TimerSynchronizationObject);
    Timer->Header.SignalState = 0;
    Timer->DueTime.QuadPart = 0;
    Timer->Dpc = NULL;
    Timer->Period = 0;
    KERNEL->initializeTimerEx(Timer, Type);
}
BOOLEAN KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc) { return KeSetTimerEx(Timer, DueTime, 0, Dpc); }
BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc) {
    Timer->Dpc = Dpc;
    Timer->Period = (ULONG)Period;
    return KERNEL->setTimerEx(Timer, DueTime.QuadPart, Period, Dpc);
}
BOOLEAN KeCancelTimer(PKTIMER Timer) { return KERNEL->cancelTimer(Timer); }
BOOLEAN KeReadStateTimer(PKTIMER Timer) { return KERNEL->readStateTimer(Timer); }

PEX_TIMER ExAllocateTimer(PEXT_CALLBACK Callback, PVOID CallbackContext, ULONG Attributes) {
    return (PEX_TIMER)KERNEL->allocateTimer((void *)Callback, CallbackContext, Attributes);
}
BOOLEAN ExSetTimer(PEX_TIMER Timer, LONGLONG DueTime, LONGLONG Period, PEXT_SET_PARAMETERS Parameters) {
    (void)Parameters;
    return KERNEL->setExTimer(Timer, DueTime, Period);
}
BOOLEAN ExCancelTimer(PEX_TIMER Timer, PEXT_CANCEL_PARAMETERS Parameters) {
    (void)Parameters;
    return KERNEL->cancelExTimer(Timer);
}
BOOLEAN ExDeleteTimer(PEX_TIMER Timer, BOOLEAN Cancel, BOOLEAN Wait, PEXT_DELETE_PARAMETERS Parameters) {
    BOOLEAN cancelled = KERNEL->deleteExTimer(Timer, Cancel, Wait);
    if (Parameters && Parameters->DeleteCallback) Parameters->DeleteCallback(Parameters->DeleteContext);
    return cancelled;
}

// ---- Spin locks -------------------------------------------------------------

void KeInitializeSpinLock(PKSPIN_LOCK SpinLock) { KERNEL->initializeSpinLock((uintptr_t *)SpinLock); }
KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock) { return KERNEL->acquireSpinLockRaiseToDpc((uintptr_t *)SpinLock); }
void KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql) { KERNEL->releaseSpinLock((uintptr_t *)SpinLock, NewIrql); }
void KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock) { KERNEL->acquireSpinLockAtDpcLevel((uintptr_t *)SpinLock); }
void KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock) { KERNEL->releaseSpinLockFromDpcLevel((uintptr_t *)SpinLock); }

// ---- Time ---------------------------------------------------------------------

LARGE_INTEGER KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency) {
    int64_t frequency = 0;
    LARGE_INTEGER counter;
    counter.QuadPart = KERNEL->queryPerformanceCounter(&frequency);
    if (PerformanceFrequency) PerformanceFrequency->QuadPart = frequency;
    return counter;
}
ULONGLONG KeQueryInterruptTime(void) { return KERNEL->queryInterruptTime(); }
void KeStallExecutionProcessor(ULONG MicroSeconds) { KERNEL->stallExecutionProcessor(MicroSeconds); }
void KeMemoryBarrierWithoutFence(void) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

// ---- Pool ---------------------------------------------------------------------

PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag) { return KERNEL->allocatePool2(Flags, NumberOfBytes, Tag); }
PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
    return KERNEL->allocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}
void ExFreePoolWithTag(PVOID P, ULONG Tag) { KERNEL->freePoolWithTag(P, Tag); }
void ExFreePool(PVOID P) { KERNEL->freePool(P); }

// ---- Memory manager ---------------------------------------------------------------

PVOID MmAllocateContiguousMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS HighestAcceptableAddress) {
    return KERNEL->allocateContiguousMemory(NumberOfBytes, (uint64_t)HighestAcceptableAddress.QuadPart);
}
PVOID MmAllocateContiguousMemorySpecifyCache(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS LowestAcceptableAddress,
                                             PHYSICAL_ADDRESS HighestAcceptableAddress, PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                             MEMORY_CACHING_TYPE CacheType) {
    return KERNEL->allocateContiguousMemorySpecifyCache(NumberOfBytes, (uint64_t)LowestAcceptableAddress.QuadPart,
                                                        (uint64_t)HighestAcceptableAddress.QuadPart,
                                                        (uint64_t)BoundaryAddressMultiple.QuadPart, CacheType);
}
void MmFreeContiguousMemory(PVOID BaseAddress) { KERNEL->freeContiguousMemory(BaseAddress); }
PHYSICAL_ADDRESS MmGetPhysicalAddress(PVOID BaseAddress) {
    PHYSICAL_ADDRESS a;
    a.QuadPart = (LONGLONG)KERNEL->getPhysicalAddress(BaseAddress);
    return a;
}
PMDL MmAllocatePagesForMdl(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress, PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes) {
    return (PMDL)KERNEL->allocatePagesForMdlEx((uint64_t)LowAddress.QuadPart, (uint64_t)HighAddress.QuadPart, (uint64_t)SkipBytes.QuadPart,
                                               TotalBytes, MmCached, 0, 0);
}
PMDL MmAllocatePagesForMdlEx(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress, PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes,
                             MEMORY_CACHING_TYPE CacheType, ULONG Flags) {
    return (PMDL)KERNEL->allocatePagesForMdlEx((uint64_t)LowAddress.QuadPart, (uint64_t)HighAddress.QuadPart, (uint64_t)SkipBytes.QuadPart,
                                               TotalBytes, CacheType, Flags, 1);
}
void MmFreePagesFromMdl(PMDL MemoryDescriptorList) { KERNEL->freePagesFromMdl(MemoryDescriptorList); }
PVOID MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode, MEMORY_CACHING_TYPE CacheType,
                                   PVOID RequestedAddress, ULONG BugCheckOnFailure, ULONG Priority) {
    (void)RequestedAddress, (void)BugCheckOnFailure, (void)Priority;
    return KERNEL->mapLockedPagesSpecifyCache(MemoryDescriptorList, AccessMode, CacheType);
}
void MmUnmapLockedPages(PVOID BaseAddress, PMDL MemoryDescriptorList) { KERNEL->unmapLockedPages(BaseAddress, MemoryDescriptorList); }
PVOID MmMapIoSpace(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes, MEMORY_CACHING_TYPE CacheType) {
    return KERNEL->mapIoSpace((uint64_t)PhysicalAddress.QuadPart, NumberOfBytes, CacheType);
}
PVOID MmMapIoSpaceEx(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes, ULONG Protect) {
    return KERNEL->mapIoSpaceEx((uint64_t)PhysicalAddress.QuadPart, NumberOfBytes, Protect);
}
void MmUnmapIoSpace(PVOID BaseAddress, SIZE_T NumberOfBytes) { KERNEL->unmapIoSpace(BaseAddress, NumberOfBytes); }

// ---- Registers and ports --------------------------------------------------------------

UCHAR READ_REGISTER_UCHAR(volatile UCHAR *Register) { return KERNEL->readRegisterUchar(Register); }
USHORT READ_REGISTER_USHORT(volatile USHORT *Register) { return KERNEL->readRegisterUshort(Register); }
ULONG READ_REGISTER_ULONG(volatile ULONG *Register) { return KERNEL->readRegisterUlong(Register); }
ULONG64 READ_REGISTER_ULONG64(volatile ULONG64 *Register) { return KERNEL->readRegisterUlong64(Register); }
void WRITE_REGISTER_UCHAR(volatile UCHAR *Register, UCHAR Value) { KERNEL->writeRegisterUchar(Register, Value); }
void WRITE_REGISTER_USHORT(volatile USHORT *Register, USHORT Value) { KERNEL->writeRegisterUshort(Register, Value); }
void WRITE_REGISTER_ULONG(volatile ULONG *Register, ULONG Value) { KERNEL->writeRegisterUlong(Register, Value); }
void WRITE_REGISTER_ULONG64(volatile ULONG64 *Register, ULONG64 Value) { KERNEL->writeRegisterUlong64(Register, Value); }
UCHAR READ_PORT_UCHAR(PUCHAR Port) { return KERNEL->readPortUchar(Port); }
USHORT READ_PORT_USHORT(PUSHORT Port) { return KERNEL->readPortUshort(Port); }
ULONG READ_PORT_ULONG(PULONG Port) { return KERNEL->readPortUlong(Port); }
void WRITE_PORT_UCHAR(PUCHAR Port, UCHAR Value) { KERNEL->writePortUchar(Port, Value); }
void WRITE_PORT_USHORT(PUSHORT Port, USHORT Value) { KERNEL->writePortUshort(Port, Value); }
void WRITE_PORT_ULONG(PULONG Port, ULONG Value) { KERNEL->writePortUlong(Port, Value); }

// ---- Run-time library, objects, debugging -------------------------------------------------

SIZE_T RtlCompareMemory(const void *Source1, const void *Source2, SIZE_T Length) {
    const UCHAR *a = (const UCHAR *)Source1, *b = (const UCHAR *)Source2;
    SIZE_T i = 0;
    while (i < Length && a[i] == b[i]) i++;
    return i;
}

LONG_PTR ObfReferenceObject(PVOID Object) {
    KERNEL->referenceObject(Object);
    return 1;
}
LONG_PTR ObfDereferenceObject(PVOID Object) {
    KERNEL->dereferenceObject(Object);
    return 0;
}

static ULONG VPrint(ULONG ComponentId, ULONG Level, PCSTR Format, va_list arguments) {
    char text[512];
    vsnprintf(text, sizeof text, Format, arguments);
    KERNEL->debugPrint(ComponentId, Level, text);
    return STATUS_SUCCESS;
}
ULONG DbgPrint(PCSTR Format, ...) {
    va_list arguments;
    va_start(arguments, Format);
    ULONG status = VPrint(DPFLTR_DEFAULT_ID, DPFLTR_INFO_LEVEL, Format, arguments);
    va_end(arguments);
    return status;
}
ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...) {
    va_list arguments;
    va_start(arguments, Format);
    ULONG status = VPrint(ComponentId, Level, Format, arguments);
    va_end(arguments);
    return status;
}

/// A breakpoint with no debugger attached: on Windows a bug check, here a crash the emulator reports.
void DbgBreakPoint(void) { __builtin_debugtrap(); }

/// A failed ASSERT: Windows breaks into the debugger or bug-checks; here the
/// emulator records the expression and the miniport crashes (SIGABRT).
void RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber, PSTR MutableMessage) {
    KERNEL->assertionFailed((const char *)VoidFailedAssertion, (const char *)VoidFileName, LineNumber, MutableMessage);
    abort();
}

void WrtPagedCode(PCSTR Function) { KERNEL->pagedCode(Function); }

EXTERN_C_END

// ---- The port's objects --------------------------------------------------------------------
//
// Allocated with malloc (class operator new/delete), not from the pool: the
// miniport's pool figures count only what the miniport itself allocated.

DEFINE_GUID(IID_IWrtRuntimeObject, 0x5752544BL, 0x5344, 0x4B31, 0x80, 0x00, 0x57, 0x61, 0x76, 0x65, 0x52, 0x54);

/// IUnknown for the runtime's objects (a plain reference count; no aggregation).
template <class Interface>
class CWrtObject : public Interface {
  protected:
    LONG m_refs = 1;
    virtual ~CWrtObject() {}
    virtual bool Answers(REFIID) { return false; }

  public:
    static void *operator new(size_t size) noexcept { return calloc(1, size); }
    static void operator delete(void *p) noexcept { free(p); }

    STDMETHODIMP_(NTSTATUS) QueryInterface(REFIID iid, PVOID *object) override {
        if (IsEqualGUIDAligned(iid, IID_IUnknown) || Answers(iid)) {
            *object = (PVOID)this;
            AddRef();
            return STATUS_SUCCESS;
        }
        *object = NULL;
        return STATUS_INVALID_PARAMETER;
    }
    STDMETHODIMP_(ULONG) AddRef() override { return (ULONG)InterlockedIncrement(&m_refs); }
    STDMETHODIMP_(ULONG) Release() override {
        LONG n = InterlockedDecrement(&m_refs);
        if (n == 0) delete this;
        return (ULONG)n;
    }
};

/// The adapter's IUnknown (Init's UnknownAdapter): answers IID_IUnknown only.
class CWrtAdapter final : public CWrtObject<IUnknown> {};

/// IResourceList over the resources the host describes (CM_PARTIAL_RESOURCE_DESCRIPTORs laid out the WDK's way).
class CWrtResourceList final : public CWrtObject<IResourceList> {
    void *m_host;
    ULONG m_count;
    PCM_RESOURCE_LIST m_list;  // one full descriptor whose partial list holds every entry

    bool Answers(REFIID iid) override { return IsEqualGUIDAligned(iid, IID_IResourceList) || IsEqualGUIDAligned(iid, IID_IWrtRuntimeObject); }
    ~CWrtResourceList() override {
        free(m_list);
        KERNEL->releaseHostObject(m_host);
    }
    PCM_PARTIAL_RESOURCE_DESCRIPTOR Entries() { return m_list->List[0].PartialResourceList.PartialDescriptors; }

  public:
    CWrtResourceList(const WrtResource *resources, ULONG count, void *host) : m_host(host), m_count(count) {
        size_t bytes = sizeof(CM_RESOURCE_LIST) + (count ? count - 1 : 0) * sizeof(CM_PARTIAL_RESOURCE_DESCRIPTOR);
        m_list = (PCM_RESOURCE_LIST)calloc(1, bytes);
        m_list->Count = 1;
        m_list->List[0].InterfaceType = PCIBus;
        m_list->List[0].PartialResourceList.Version = 1;
        m_list->List[0].PartialResourceList.Revision = 1;
        m_list->List[0].PartialResourceList.Count = count;
        for (ULONG i = 0; i < count; i++) {
            const WrtResource &r = resources[i];
            CM_PARTIAL_RESOURCE_DESCRIPTOR &d = Entries()[i];
            d.Type = r.type;
            d.ShareDisposition = r.shareDisposition;
            d.Flags = r.flags;
            switch (r.type) {
            case CmResourceTypePort:
            case CmResourceTypeMemory:
                d.u.Generic.Start.QuadPart = (LONGLONG)r.start;
                d.u.Generic.Length = r.length;
                break;
            case CmResourceTypeInterrupt:
                d.u.Interrupt.Level = (USHORT)r.level;
                d.u.Interrupt.Group = 0;
                d.u.Interrupt.Vector = r.vector;
                d.u.Interrupt.Affinity = r.affinity;
                break;
            case CmResourceTypeDma:
                d.u.Dma.Channel = r.channel;
                break;
            default:
                break;
            }
        }
    }
    void *Host() { return m_host; }

    STDMETHODIMP_(ULONG) NumberOfEntries(void) override { return m_count; }
    STDMETHODIMP_(ULONG) NumberOfEntriesOfType(CM_RESOURCE_TYPE Type) override {
        ULONG n = 0;
        for (ULONG i = 0; i < m_count; i++) n += Entries()[i].Type == Type;
        return n;
    }
    STDMETHODIMP_(PCM_PARTIAL_RESOURCE_DESCRIPTOR) FindTranslatedEntry(CM_RESOURCE_TYPE Type, ULONG Index) override {
        for (ULONG i = 0; i < m_count; i++) {
            if (Entries()[i].Type == Type && Index-- == 0) return &Entries()[i];
        }
        return NULL;
    }
    /// The emulated bus translates nothing: raw and translated resources are the same.
    STDMETHODIMP_(PCM_PARTIAL_RESOURCE_DESCRIPTOR) FindUntranslatedEntry(CM_RESOURCE_TYPE Type, ULONG Index) override {
        return FindTranslatedEntry(Type, Index);
    }
    /// Building resource lists is the adapter driver's business (PcNewResourceSublist), not a miniport's.
    STDMETHODIMP_(NTSTATUS) AddEntry(PCM_PARTIAL_RESOURCE_DESCRIPTOR, PCM_PARTIAL_RESOURCE_DESCRIPTOR) override { return STATUS_NOT_SUPPORTED; }
    STDMETHODIMP_(NTSTATUS) AddEntryFromParent(IResourceList *, CM_RESOURCE_TYPE, ULONG) override { return STATUS_NOT_SUPPORTED; }
    STDMETHODIMP_(PCM_RESOURCE_LIST) TranslatedList(void) override { return m_list; }
    STDMETHODIMP_(PCM_RESOURCE_LIST) UntranslatedList(void) override { return m_list; }
};

/// IInterruptSync over the host's interrupt connection. The ISRs and
/// synchronized routines get this object as their first argument.
class CWrtInterruptSync final : public CWrtObject<IInterruptSync> {
    void *m_host;
    bool Answers(REFIID iid) override { return IsEqualGUIDAligned(iid, IID_IInterruptSync); }
    ~CWrtInterruptSync() override {
        KERNEL->interruptSyncDisconnect(m_host);  // PortCls disconnects when the object goes
        KERNEL->releaseHostObject(m_host);
    }

  public:
    explicit CWrtInterruptSync(void *host) : m_host(host) {}
    STDMETHODIMP_(NTSTATUS) CallSynchronizedRoutine(PINTERRUPTSYNCROUTINE Routine, PVOID DynamicContext) override {
        return KERNEL->interruptSyncCallSynchronizedRoutine(m_host, (void *)Routine, (IInterruptSync *)this, DynamicContext);
    }
    /// There is no KINTERRUPT object in the emulator.
    STDMETHODIMP_(PKINTERRUPT) GetKInterrupt(void) override { return NULL; }
    STDMETHODIMP_(NTSTATUS) Connect(void) override { return KERNEL->interruptSyncConnect(m_host); }
    STDMETHODIMP_(void) Disconnect(void) override { KERNEL->interruptSyncDisconnect(m_host); }
    STDMETHODIMP_(NTSTATUS) RegisterServiceRoutine(PINTERRUPTSYNCROUTINE Routine, PVOID DynamicContext, BOOLEAN First) override {
        return KERNEL->interruptSyncRegisterServiceRoutine(m_host, (void *)Routine, (IInterruptSync *)this, DynamicContext, First);
    }
};

/// IPortWaveRT: what a miniport may call on its port. The port's own
/// initialisation (Init) belongs to the adapter driver; there is no registry.
class CWrtPortWaveRT final : public CWrtObject<IPortWaveRT> {
    bool Answers(REFIID iid) override { return IsEqualGUIDAligned(iid, IID_IPort) || IsEqualGUIDAligned(iid, IID_IPortWaveRT); }

  public:
    STDMETHODIMP_(NTSTATUS) Init(PDEVICE_OBJECT, PIRP, PUNKNOWN, PUNKNOWN, PRESOURCELIST) override { return STATUS_INVALID_DEVICE_REQUEST; }
    STDMETHODIMP_(NTSTATUS) GetDeviceProperty(DEVICE_REGISTRY_PROPERTY, ULONG, PVOID, PULONG ResultLength) override {
        if (ResultLength) *ResultLength = 0;
        return STATUS_NOT_SUPPORTED;
    }
    STDMETHODIMP_(NTSTATUS) NewRegistryKey(PREGISTRYKEY *OutRegistryKey, PUNKNOWN, ULONG, ACCESS_MASK, POBJECT_ATTRIBUTES, ULONG,
                                           PULONG) override {
        if (OutRegistryKey) *OutRegistryKey = NULL;
        return STATUS_NOT_SUPPORTED;
    }
};

/// IPortWaveRTStream over the host's stream of the port.
class CWrtPortWaveRTStream final : public CWrtObject<IPortWaveRTStream> {
    void *m_host;
    bool Answers(REFIID iid) override { return IsEqualGUIDAligned(iid, IID_IPortWaveRTStream); }
    ~CWrtPortWaveRTStream() override { KERNEL->releaseHostObject(m_host); }

  public:
    explicit CWrtPortWaveRTStream(void *host) : m_host(host) {}
    STDMETHODIMP_(PMDL) AllocatePagesForMdl(PHYSICAL_ADDRESS HighAddress, SIZE_T TotalBytes) override {
        return (PMDL)KERNEL->portStreamAllocatePagesForMdl(m_host, (uint64_t)HighAddress.QuadPart, TotalBytes);
    }
    STDMETHODIMP_(PMDL) AllocateContiguousPagesForMdl(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress, SIZE_T TotalBytes) override {
        return (PMDL)KERNEL->portStreamAllocateContiguousPagesForMdl(m_host, (uint64_t)LowAddress.QuadPart, (uint64_t)HighAddress.QuadPart,
                                                                     TotalBytes);
    }
    STDMETHODIMP_(PVOID) MapAllocatedPages(PMDL MemoryDescriptorList, MEMORY_CACHING_TYPE CacheType) override {
        return KERNEL->portStreamMapAllocatedPages(m_host, MemoryDescriptorList, CacheType);
    }
    STDMETHODIMP_(VOID) UnmapAllocatedPages(PVOID BaseAddress, PMDL MemoryDescriptorList) override {
        KERNEL->portStreamUnmapAllocatedPages(m_host, BaseAddress, MemoryDescriptorList);
    }
    STDMETHODIMP_(VOID) FreePagesFromMdl(PMDL MemoryDescriptorList) override { KERNEL->portStreamFreePagesFromMdl(m_host, MemoryDescriptorList); }
    STDMETHODIMP_(ULONG) GetPhysicalPagesCount(PMDL MemoryDescriptorList) override {
        return KERNEL->portStreamGetPhysicalPagesCount(m_host, MemoryDescriptorList);
    }
    STDMETHODIMP_(PHYSICAL_ADDRESS) GetPhysicalPageAddress(PMDL MemoryDescriptorList, ULONG Index) override {
        PHYSICAL_ADDRESS a;
        a.QuadPart = (LONGLONG)KERNEL->portStreamGetPhysicalPageAddress(m_host, MemoryDescriptorList, Index);
        return a;
    }
};

EXTERN_C NTSTATUS PcNewInterruptSync(PINTERRUPTSYNC *OutInterruptSync, PUNKNOWN OuterUnknown, PRESOURCELIST ResourceList, ULONG ResourceIndex,
                                     INTERRUPTSYNCMODE Mode) {
    (void)OuterUnknown;
    if (!OutInterruptSync || !ResourceList) return STATUS_INVALID_PARAMETER;
    *OutInterruptSync = NULL;
    // Only the resource list the port handed over knows the emulated interrupt lines.
    PVOID ours = NULL;
    if (!NT_SUCCESS(ResourceList->QueryInterface(IID_IWrtRuntimeObject, &ours)) || !ours) return STATUS_INVALID_PARAMETER;
    CWrtResourceList *list = (CWrtResourceList *)(IResourceList *)ours;
    void *host = NULL;
    NTSTATUS status = KERNEL->newInterruptSync(list->Host(), ResourceIndex, Mode, &host);
    list->Release();
    if (!NT_SUCCESS(status)) return status;
    CWrtInterruptSync *sync = new CWrtInterruptSync(host);
    if (!sync) {
        KERNEL->releaseHostObject(host);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    *OutInterruptSync = sync;
    return STATUS_SUCCESS;
}

// ---- Trampolines: the host calling the miniport's objects --------------------------------------

static const char *RtHardware(void) { return &WaveRTMiniportHardware ? WaveRTMiniportHardware() : NULL; }

static int32_t RtCreateMiniport(uint64_t poolFlags, void **miniport) {
    *miniport = NULL;
    PUNKNOWN unknown = NULL;
    NTSTATUS status = WaveRTCreateMiniport(&unknown, NULL, poolFlags);
    if (!NT_SUCCESS(status)) return status;
    if (!unknown) return STATUS_UNSUCCESSFUL;
    PMINIPORTWAVERT wave = NULL;
    status = unknown->QueryInterface(IID_IMiniportWaveRT, (PVOID *)&wave);
    unknown->Release();
    if (!NT_SUCCESS(status)) return status;
    if (!wave) return STATUS_NOINTERFACE;
    *miniport = wave;
    return STATUS_SUCCESS;
}

static int32_t RtQueryInterface(void *object, const WrtGuid *iid, void **out) {
    return ((PUNKNOWN)object)->QueryInterface(*(const GUID *)iid, out);
}
static uint32_t RtRelease(void *object) { return ((PUNKNOWN)object)->Release(); }

static WrtGuid Guid(const GUID &g) {
    WrtGuid w;
    __builtin_memcpy(&w, &g, sizeof w);
    return w;
}

static int32_t RtGetDescription(void *miniport, void *context, WrtFilterInfo *filter, WrtPinSink pinSink, WrtRangeSink rangeSink) {
    PPCFILTER_DESCRIPTOR description = NULL;
    NTSTATUS status = ((PMINIPORTWAVERT)miniport)->GetDescription(&description);
    if (!NT_SUCCESS(status)) return status;
    if (!description) return STATUS_UNSUCCESSFUL;
    filter->version = description->Version;
    filter->pinCount = description->PinCount;
    filter->nodeCount = description->NodeCount;
    filter->connectionCount = description->ConnectionCount;
    filter->categoryCount = description->CategoryCount;
    ULONG stride = description->PinSize ? description->PinSize : (ULONG)sizeof(PCPIN_DESCRIPTOR);
    for (ULONG p = 0; p < description->PinCount; p++) {
        const PCPIN_DESCRIPTOR *pin = (const PCPIN_DESCRIPTOR *)((const UCHAR *)description->Pins + (SIZE_T)p * stride);
        WrtPinInfo info = {};
        info.maxGlobalInstanceCount = pin->MaxGlobalInstanceCount;
        info.maxFilterInstanceCount = pin->MaxFilterInstanceCount;
        info.minFilterInstanceCount = pin->MinFilterInstanceCount;
        info.dataFlow = pin->KsPinDescriptor.DataFlow;
        info.communication = pin->KsPinDescriptor.Communication;
        if (pin->KsPinDescriptor.Category) {
            info.hasCategory = 1;
            info.category = Guid(*pin->KsPinDescriptor.Category);
        }
        info.dataRangeCount = pin->KsPinDescriptor.DataRangesCount;
        pinSink(context, p, &info);
        for (ULONG r = 0; r < pin->KsPinDescriptor.DataRangesCount; r++) {
            const KSDATARANGE *range = pin->KsPinDescriptor.DataRanges[r];
            if (!range) continue;
            WrtRangeInfo info = {};
            info.majorFormat = Guid(range->MajorFormat);
            info.subFormat = Guid(range->SubFormat);
            info.specifier = Guid(range->Specifier);
            info.formatSize = range->FormatSize;
            info.original = range;
            if (range->FormatSize >= sizeof(KSDATARANGE_AUDIO)) {
                const KSDATARANGE_AUDIO *audio = (const KSDATARANGE_AUDIO *)range;
                info.isAudio = 1;
                info.maximumChannels = audio->MaximumChannels;
                info.minimumBitsPerSample = audio->MinimumBitsPerSample;
                info.maximumBitsPerSample = audio->MaximumBitsPerSample;
                info.minimumSampleFrequency = audio->MinimumSampleFrequency;
                info.maximumSampleFrequency = audio->MaximumSampleFrequency;
            }
            rangeSink(context, p, &info);
        }
    }
    return STATUS_SUCCESS;
}

static int32_t RtDataRangeIntersection(void *miniport, uint32_t pinId, const void *dataRange, const void *matchingDataRange,
                                       uint32_t outputBufferLength, void *resultantFormat, uint32_t *resultantFormatLength) {
    ULONG length = 0;
    NTSTATUS status = ((PMINIPORTWAVERT)miniport)
                          ->DataRangeIntersection(pinId, (PKSDATARANGE)dataRange, (PKSDATARANGE)matchingDataRange, outputBufferLength,
                                                  resultantFormat, &length);
    *resultantFormatLength = length;
    return status;
}

static int32_t RtInit(void *miniport, const WrtResource *resources, uint32_t resourceCount, void *resourceList) {
    CWrtResourceList *list = new CWrtResourceList(resources, resourceCount, resourceList);
    CWrtPortWaveRT *port = new CWrtPortWaveRT();
    CWrtAdapter *adapter = new CWrtAdapter();
    NTSTATUS status = ((PMINIPORTWAVERT)miniport)->Init(adapter, list, port);
    // The miniport AddRefs what it keeps.
    adapter->Release();
    port->Release();
    list->Release();
    return status;
}

static int32_t RtNewStream(void *miniport, void *portStream, uint32_t pin, uint8_t capture, const void *dataFormat, void **stream) {
    *stream = NULL;
    CWrtPortWaveRTStream *shim = new CWrtPortWaveRTStream(portStream);
    PMINIPORTWAVERTSTREAM created = NULL;
    NTSTATUS status = ((PMINIPORTWAVERT)miniport)->NewStream(&created, shim, pin, capture, (PKSDATAFORMAT)dataFormat);
    shim->Release();
    if (NT_SUCCESS(status)) {
        if (!created) return STATUS_UNSUCCESSFUL;
        *stream = created;
    }
    return status;
}

static int32_t RtGetDeviceDescription(void *miniport, WrtDeviceDescription *description) {
    return ((PMINIPORTWAVERT)miniport)->GetDeviceDescription((PDEVICE_DESCRIPTION)description);
}

#define STREAM ((PMINIPORTWAVERTSTREAM)stream)
#define NOTIFICATION ((PMINIPORTWAVERTSTREAMNOTIFICATION)stream)

static int32_t RtSetFormat(void *stream, const void *dataFormat) { return STREAM->SetFormat((PKSDATAFORMAT)dataFormat); }
static int32_t RtSetState(void *stream, int32_t state) { return STREAM->SetState((KSSTATE)state); }
static int32_t RtGetPosition(void *stream, WrtAudioPosition *position) { return STREAM->GetPosition((PKSAUDIO_POSITION)position); }

static int32_t Allocation(NTSTATUS status, PMDL mdl, ULONG actual, ULONG offset, MEMORY_CACHING_TYPE cache, WrtBufferAllocation *out) {
    out->mdl = mdl;
    out->actualSize = actual;
    out->offsetFromFirstPage = offset;
    out->cacheType = cache;
    return status;
}
static int32_t RtAllocateAudioBuffer(void *stream, uint32_t requestedSize, WrtBufferAllocation *allocation) {
    PMDL mdl = NULL;
    ULONG actual = 0, offset = 0;
    MEMORY_CACHING_TYPE cache = MmCached;
    NTSTATUS status = STREAM->AllocateAudioBuffer(requestedSize, &mdl, &actual, &offset, &cache);
    return Allocation(status, mdl, actual, offset, cache, allocation);
}
static void RtFreeAudioBuffer(void *stream, void *mdl, uint32_t size) { STREAM->FreeAudioBuffer((PMDL)mdl, size); }
static void RtGetHWLatency(void *stream, WrtHwLatency *latency) { STREAM->GetHWLatency((KSRTAUDIO_HWLATENCY *)latency); }
static int32_t RtGetPositionRegister(void *stream, WrtHwRegister *reg) { return STREAM->GetPositionRegister((KSRTAUDIO_HWREGISTER *)reg); }
static int32_t RtGetClockRegister(void *stream, WrtHwRegister *reg) { return STREAM->GetClockRegister((KSRTAUDIO_HWREGISTER *)reg); }

static int32_t RtAllocateBufferWithNotification(void *stream, uint32_t notificationCount, uint32_t requestedSize, WrtBufferAllocation *allocation) {
    PMDL mdl = NULL;
    ULONG actual = 0, offset = 0;
    MEMORY_CACHING_TYPE cache = MmCached;
    NTSTATUS status = NOTIFICATION->AllocateBufferWithNotification(notificationCount, requestedSize, &mdl, &actual, &offset, &cache);
    return Allocation(status, mdl, actual, offset, cache, allocation);
}
static void RtFreeBufferWithNotification(void *stream, void *mdl, uint32_t size) { NOTIFICATION->FreeBufferWithNotification((PMDL)mdl, size); }
static int32_t RtRegisterNotificationEvent(void *stream, void *event) { return NOTIFICATION->RegisterNotificationEvent((PKEVENT)event); }
static int32_t RtUnregisterNotificationEvent(void *stream, void *event) { return NOTIFICATION->UnregisterNotificationEvent((PKEVENT)event); }

static int32_t RtSetWritePacket(void *stream, uint32_t packetNumber, uint32_t flags, uint32_t eosPacketLength) {
    return ((PMINIPORTWAVERTOUTPUTSTREAM)stream)->SetWritePacket(packetNumber, flags, eosPacketLength);
}
static int32_t RtGetOutputStreamPresentationPosition(void *stream, WrtPresentationPosition *position) {
    return ((PMINIPORTWAVERTOUTPUTSTREAM)stream)->GetOutputStreamPresentationPosition((KSAUDIO_PRESENTATION_POSITION *)position);
}
static int32_t RtGetPacketCount(void *stream, uint32_t *packetCount) {
    ULONG count = 0;
    NTSTATUS status = ((PMINIPORTWAVERTOUTPUTSTREAM)stream)->GetPacketCount(&count);
    *packetCount = count;
    return status;
}
static int32_t RtGetReadPacket(void *stream, uint32_t *packetNumber, uint32_t *flags, uint64_t *performanceCounterValue, int32_t *moreData) {
    ULONG number = 0;
    DWORD f = 0;
    ULONG64 qpc = 0;
    BOOL more = FALSE;
    NTSTATUS status = ((PMINIPORTWAVERTINPUTSTREAM)stream)->GetReadPacket(&number, &f, &qpc, &more);
    *packetNumber = number;
    *flags = f;
    *performanceCounterValue = qpc;
    *moreData = more;
    return status;
}

static const WrtRuntime g_runtime = {
    WRT_ABI_VERSION,
    (uint32_t)sizeof(WrtRuntime),
    RtHardware,
    RtCreateMiniport,
    RtQueryInterface,
    RtRelease,
    RtGetDescription,
    RtDataRangeIntersection,
    RtInit,
    RtNewStream,
    RtGetDeviceDescription,
    RtSetFormat,
    RtSetState,
    RtGetPosition,
    RtAllocateAudioBuffer,
    RtFreeAudioBuffer,
    RtGetHWLatency,
    RtGetPositionRegister,
    RtGetClockRegister,
    RtAllocateBufferWithNotification,
    RtFreeBufferWithNotification,
    RtRegisterNotificationEvent,
    RtUnregisterNotificationEvent,
    RtSetWritePacket,
    RtGetOutputStreamPresentationPosition,
    RtGetPacketCount,
    RtGetReadPacket,
};

EXTERN_C WAVERT_EXPORT uint32_t WaveRTSdkAttach(const WrtKernel *kernel, uint32_t abiVersion, const WrtRuntime **runtime) {
    if (abiVersion != WRT_ABI_VERSION || !kernel || kernel->size != sizeof(WrtKernel)) return WRT_ABI_VERSION;
    g_kernel = kernel;
    *runtime = &g_runtime;
    return 0;
}

// ---- What the WDK's runtime gives a kernel driver: global operator delete (ExFreePool) --------------

__attribute__((weak)) void operator delete(void *p) noexcept {
    if (!p) return;
    if (g_kernel) ExFreePool(p);
    else free(p);
}
__attribute__((weak)) void operator delete(void *p, size_t) noexcept { operator delete(p); }
__attribute__((weak)) void operator delete[](void *p) noexcept { operator delete(p); }
__attribute__((weak)) void operator delete[](void *p, size_t) noexcept { operator delete(p); }

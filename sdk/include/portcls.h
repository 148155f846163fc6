// portcls.h for the WaveRT emulator's SDK: the PortCls interfaces a WaveRT
// miniport implements and calls, with the WDK's names, IIDs, method order and
// x64 structure layouts. Brings in wdm.h, ks.h and ksmedia.h as the WDK's does.
//
// The port's objects a miniport receives (IPortWaveRT, IPortWaveRTStream,
// IResourceList, IInterruptSync) are the SDK runtime's, calling the emulator.
// See wavert_sdk.h for the library's entry point (WaveRTCreateMiniport).
#ifndef _PORTCLS_H_
#define _PORTCLS_H_
#define PORTCLS_H

#include <wdm.h>
#include <unknown.h>
#include <ks.h>
#include <ksmedia.h>

#define PORTCLASSAPI EXTERN_C
#define PCFILTER_NODE KSFILTER_NODE
#define _100NS_UNITS_PER_SECOND 10000000L

// ---- Automation tables and descriptors -----------------------------------

struct _PCPROPERTY_REQUEST;
typedef struct _PCPROPERTY_REQUEST PCPROPERTY_REQUEST, *PPCPROPERTY_REQUEST;
typedef NTSTATUS (*PCPFNPROPERTY_HANDLER)(_In_ PPCPROPERTY_REQUEST PropertyRequest);

typedef struct {
    const GUID *Set;
    ULONG Id;
    ULONG Flags;
#define PCPROPERTY_ITEM_FLAG_GET KSPROPERTY_TYPE_GET
#define PCPROPERTY_ITEM_FLAG_SET KSPROPERTY_TYPE_SET
#define PCPROPERTY_ITEM_FLAG_BASICSUPPORT KSPROPERTY_TYPE_BASICSUPPORT
#define PCPROPERTY_ITEM_FLAG_DEFAULTVALUES KSPROPERTY_TYPE_DEFAULTVALUES
#define PCPROPERTY_ITEM_FLAG_SERIALIZERAW KSPROPERTY_TYPE_SERIALIZERAW
#define PCPROPERTY_ITEM_FLAG_UNSERIALIZERAW KSPROPERTY_TYPE_UNSERIALIZERAW
#define PCPROPERTY_ITEM_FLAG_SERIALIZESIZE KSPROPERTY_TYPE_SERIALIZESIZE
    PCPFNPROPERTY_HANDLER Handler;
} PCPROPERTY_ITEM, *PPCPROPERTY_ITEM;

struct _PCPROPERTY_REQUEST {
    PUNKNOWN MajorTarget;
    PUNKNOWN MinorTarget;
    ULONG Node;
    const PCPROPERTY_ITEM *PropertyItem;
    ULONG Verb;
    ULONG InstanceSize;
    PVOID Instance;
    ULONG ValueSize;
    PVOID Value;
    PIRP Irp;
};

struct _PCMETHOD_REQUEST;
typedef NTSTATUS (*PCPFNMETHOD_HANDLER)(_In_ struct _PCMETHOD_REQUEST *MethodRequest);
typedef struct {
    const GUID *Set;
    ULONG Id;
    ULONG Flags;
    PCPFNMETHOD_HANDLER Handler;
} PCMETHOD_ITEM, *PPCMETHOD_ITEM;

struct _PCEVENT_REQUEST;
typedef NTSTATUS (*PCPFNEVENT_HANDLER)(_In_ struct _PCEVENT_REQUEST *EventRequest);
typedef struct {
    const GUID *Set;
    ULONG Id;
    ULONG Flags;
    PCPFNEVENT_HANDLER Handler;
} PCEVENT_ITEM, *PPCEVENT_ITEM;

typedef struct {
    ULONG PropertyItemSize;
    ULONG PropertyCount;
    const PCPROPERTY_ITEM *Properties;
    ULONG MethodItemSize;
    ULONG MethodCount;
    const PCMETHOD_ITEM *Methods;
    ULONG EventItemSize;
    ULONG EventCount;
    const PCEVENT_ITEM *Events;
    ULONG Reserved;
} PCAUTOMATION_TABLE, *PPCAUTOMATION_TABLE;

#define DEFINE_PCAUTOMATION_TABLE_PROP(AutomationTable, PropertyTable)                                          \
    const PCAUTOMATION_TABLE AutomationTable = {sizeof(PropertyTable[0]), SIZEOF_ARRAY(PropertyTable),         \
                                                (const PCPROPERTY_ITEM *)PropertyTable, 0, 0, NULL, 0, 0, NULL, 0}
#define DEFINE_PCAUTOMATION_TABLE_PROP_EVENT(AutomationTable, PropertyTable, EventTable)                        \
    const PCAUTOMATION_TABLE AutomationTable = {sizeof(PropertyTable[0]), SIZEOF_ARRAY(PropertyTable),         \
                                                (const PCPROPERTY_ITEM *)PropertyTable, 0, 0, NULL,             \
                                                sizeof(EventTable[0]), SIZEOF_ARRAY(EventTable),                \
                                                (const PCEVENT_ITEM *)EventTable, 0}

typedef struct {
    ULONG FromNode;
    ULONG FromNodePin;
    ULONG ToNode;
    ULONG ToNodePin;
} PCCONNECTION_DESCRIPTOR, *PPCCONNECTION_DESCRIPTOR;

/// PCPIN_DESCRIPTOR (112 bytes).
typedef struct {
    ULONG MaxGlobalInstanceCount;
    ULONG MaxFilterInstanceCount;
    ULONG MinFilterInstanceCount;
    const PCAUTOMATION_TABLE *AutomationTable;
    KSPIN_DESCRIPTOR KsPinDescriptor;
} PCPIN_DESCRIPTOR, *PPCPIN_DESCRIPTOR;

typedef struct {
    ULONG Flags;
    const PCAUTOMATION_TABLE *AutomationTable;
    const GUID *Type;
    const GUID *Name;
} PCNODE_DESCRIPTOR, *PPCNODE_DESCRIPTOR;

/// PCFILTER_DESCRIPTOR (80 bytes).
typedef struct {
    ULONG Version;
    const PCAUTOMATION_TABLE *AutomationTable;
    ULONG PinSize;
    ULONG PinCount;
    const PCPIN_DESCRIPTOR *Pins;
    ULONG NodeSize;
    ULONG NodeCount;
    const PCNODE_DESCRIPTOR *Nodes;
    ULONG ConnectionCount;
    const PCCONNECTION_DESCRIPTOR *Connections;
    ULONG CategoryCount;
    const GUID *Categories;
} PCFILTER_DESCRIPTOR, *PPCFILTER_DESCRIPTOR;

C_ASSERT(sizeof(PCAUTOMATION_TABLE) == 56 && sizeof(PCPROPERTY_ITEM) == 24);
C_ASSERT(sizeof(PCPIN_DESCRIPTOR) == 112 && offsetof(PCPIN_DESCRIPTOR, KsPinDescriptor) == 24);
C_ASSERT(sizeof(PCNODE_DESCRIPTOR) == 32 && sizeof(PCCONNECTION_DESCRIPTOR) == 16);
C_ASSERT(sizeof(PCFILTER_DESCRIPTOR) == 80 && offsetof(PCFILTER_DESCRIPTOR, Pins) == 24 && offsetof(PCFILTER_DESCRIPTOR, Categories) == 72);

// ---- IResourceList -------------------------------------------------------

DEFINE_GUID(IID_IResourceList, 0x22C6AC60L, 0x851B, 0x11D0, 0x9A, 0x7F, 0x00, 0xAA, 0x00, 0x38, 0xAC, 0xFE);

#undef INTERFACE
#define INTERFACE IResourceList
DECLARE_INTERFACE_(IResourceList, IUnknown) {
    DEFINE_ABSTRACT_UNKNOWN()
    STDMETHOD_(ULONG, NumberOfEntries)(THIS) PURE;
    STDMETHOD_(ULONG, NumberOfEntriesOfType)(THIS_ _In_ CM_RESOURCE_TYPE Type) PURE;
    STDMETHOD_(PCM_PARTIAL_RESOURCE_DESCRIPTOR, FindTranslatedEntry)(THIS_ _In_ CM_RESOURCE_TYPE Type, _In_ ULONG Index) PURE;
    STDMETHOD_(PCM_PARTIAL_RESOURCE_DESCRIPTOR, FindUntranslatedEntry)(THIS_ _In_ CM_RESOURCE_TYPE Type, _In_ ULONG Index) PURE;
    STDMETHOD_(NTSTATUS, AddEntry)(THIS_ _In_ PCM_PARTIAL_RESOURCE_DESCRIPTOR Translated, _In_ PCM_PARTIAL_RESOURCE_DESCRIPTOR Untranslated) PURE;
    STDMETHOD_(NTSTATUS, AddEntryFromParent)(THIS_ _In_ struct IResourceList * Parent, _In_ CM_RESOURCE_TYPE Type, _In_ ULONG Index) PURE;
    STDMETHOD_(PCM_RESOURCE_LIST, TranslatedList)(THIS) PURE;
    STDMETHOD_(PCM_RESOURCE_LIST, UntranslatedList)(THIS) PURE;
};
#undef INTERFACE
typedef IResourceList *PRESOURCELIST;

#define IMP_IResourceList                                                                                       \
    STDMETHODIMP_(ULONG) NumberOfEntries(void);                                                                 \
    STDMETHODIMP_(ULONG) NumberOfEntriesOfType(_In_ CM_RESOURCE_TYPE Type);                                     \
    STDMETHODIMP_(PCM_PARTIAL_RESOURCE_DESCRIPTOR) FindTranslatedEntry(_In_ CM_RESOURCE_TYPE Type, _In_ ULONG Index);   \
    STDMETHODIMP_(PCM_PARTIAL_RESOURCE_DESCRIPTOR) FindUntranslatedEntry(_In_ CM_RESOURCE_TYPE Type, _In_ ULONG Index); \
    STDMETHODIMP_(NTSTATUS) AddEntry(_In_ PCM_PARTIAL_RESOURCE_DESCRIPTOR Translated,                           \
                                     _In_ PCM_PARTIAL_RESOURCE_DESCRIPTOR Untranslated);                        \
    STDMETHODIMP_(NTSTATUS) AddEntryFromParent(_In_ IResourceList * Parent, _In_ CM_RESOURCE_TYPE Type, _In_ ULONG Index); \
    STDMETHODIMP_(PCM_RESOURCE_LIST) TranslatedList(void);                                                      \
    STDMETHODIMP_(PCM_RESOURCE_LIST) UntranslatedList(void)

#define NumberOfPorts() NumberOfEntriesOfType(CmResourceTypePort)
#define FindTranslatedPort(n) FindTranslatedEntry(CmResourceTypePort, (n))
#define FindUntranslatedPort(n) FindUntranslatedEntry(CmResourceTypePort, (n))
#define NumberOfInterrupts() NumberOfEntriesOfType(CmResourceTypeInterrupt)
#define FindTranslatedInterrupt(n) FindTranslatedEntry(CmResourceTypeInterrupt, (n))
#define FindUntranslatedInterrupt(n) FindUntranslatedEntry(CmResourceTypeInterrupt, (n))
#define NumberOfMemories() NumberOfEntriesOfType(CmResourceTypeMemory)
#define FindTranslatedMemory(n) FindTranslatedEntry(CmResourceTypeMemory, (n))
#define FindUntranslatedMemory(n) FindUntranslatedEntry(CmResourceTypeMemory, (n))
#define NumberOfDmas() NumberOfEntriesOfType(CmResourceTypeDma)
#define FindTranslatedDma(n) FindTranslatedEntry(CmResourceTypeDma, (n))
#define FindUntranslatedDma(n) FindUntranslatedEntry(CmResourceTypeDma, (n))

// ---- IInterruptSync ------------------------------------------------------

typedef enum {
    InterruptSyncModeNormal = 1,
    InterruptSyncModeAll,
    InterruptSyncModeRepeat
} INTERRUPTSYNCMODE;

struct IInterruptSync;
typedef NTSTATUS (*PINTERRUPTSYNCROUTINE)(_In_ struct IInterruptSync *InterruptSync, _In_opt_ PVOID DynamicContext);

DEFINE_GUID(IID_IInterruptSync, 0x22C6AC63L, 0x851B, 0x11D0, 0x9A, 0x7F, 0x00, 0xAA, 0x00, 0x38, 0xAC, 0xFE);

#undef INTERFACE
#define INTERFACE IInterruptSync
DECLARE_INTERFACE_(IInterruptSync, IUnknown) {
    DEFINE_ABSTRACT_UNKNOWN()
    STDMETHOD_(NTSTATUS, CallSynchronizedRoutine)(THIS_ _In_ PINTERRUPTSYNCROUTINE Routine, _In_opt_ PVOID DynamicContext) PURE;
    STDMETHOD_(PKINTERRUPT, GetKInterrupt)(THIS) PURE;
    STDMETHOD_(NTSTATUS, Connect)(THIS) PURE;
    STDMETHOD_(void, Disconnect)(THIS) PURE;
    STDMETHOD_(NTSTATUS, RegisterServiceRoutine)(THIS_ _In_ PINTERRUPTSYNCROUTINE Routine, _In_opt_ PVOID DynamicContext, _In_ BOOLEAN First) PURE;
};
#undef INTERFACE
typedef IInterruptSync *PINTERRUPTSYNC;

#define IMP_IInterruptSync                                                                                     \
    STDMETHODIMP_(NTSTATUS) CallSynchronizedRoutine(_In_ PINTERRUPTSYNCROUTINE Routine, _In_opt_ PVOID DynamicContext); \
    STDMETHODIMP_(PKINTERRUPT) GetKInterrupt(void);                                                            \
    STDMETHODIMP_(NTSTATUS) Connect(void);                                                                     \
    STDMETHODIMP_(void) Disconnect(void);                                                                      \
    STDMETHODIMP_(NTSTATUS) RegisterServiceRoutine(_In_ PINTERRUPTSYNCROUTINE Routine, _In_opt_ PVOID DynamicContext, _In_ BOOLEAN First)

PORTCLASSAPI NTSTATUS PcNewInterruptSync(_Out_ PINTERRUPTSYNC *OutInterruptSync, _In_opt_ PUNKNOWN OuterUnknown,
                                         _In_ PRESOURCELIST ResourceList, _In_ ULONG ResourceIndex, _In_ INTERRUPTSYNCMODE Mode);

// ---- IPort, IPortWaveRT --------------------------------------------------

typedef struct IRegistryKey *PREGISTRYKEY;

DEFINE_GUID(IID_IPort, 0xB4C90A25L, 0x5791, 0x11D0, 0x86, 0xF9, 0x00, 0xA0, 0xC9, 0x11, 0xB5, 0x44);

#define DEFINE_ABSTRACT_PORT()                                                                                  \
    STDMETHOD_(NTSTATUS, Init)(THIS_ _In_ PDEVICE_OBJECT DeviceObject, _In_ PIRP Irp, _In_ PUNKNOWN UnknownMiniport, \
                               _In_opt_ PUNKNOWN UnknownAdapter, _In_ PRESOURCELIST ResourceList) PURE;        \
    STDMETHOD_(NTSTATUS, GetDeviceProperty)(THIS_ _In_ DEVICE_REGISTRY_PROPERTY DeviceProperty, _In_ ULONG BufferLength, \
                                            _Out_ PVOID PropertyBuffer, _Out_ PULONG ResultLength) PURE;       \
    STDMETHOD_(NTSTATUS, NewRegistryKey)(THIS_ _Out_ PREGISTRYKEY * OutRegistryKey, _In_opt_ PUNKNOWN OuterUnknown, \
                                         _In_ ULONG RegistryKeyType, _In_ ACCESS_MASK DesiredAccess,           \
                                         _In_opt_ POBJECT_ATTRIBUTES ObjectAttributes, _In_opt_ ULONG CreateOptions, \
                                         _Out_opt_ PULONG Disposition) PURE;

#define IMP_IPort                                                                                               \
    STDMETHODIMP_(NTSTATUS) Init(_In_ PDEVICE_OBJECT DeviceObject, _In_ PIRP Irp, _In_ PUNKNOWN UnknownMiniport, \
                                 _In_opt_ PUNKNOWN UnknownAdapter, _In_ PRESOURCELIST ResourceList);           \
    STDMETHODIMP_(NTSTATUS) GetDeviceProperty(_In_ DEVICE_REGISTRY_PROPERTY DeviceProperty, _In_ ULONG BufferLength, \
                                              _Out_ PVOID PropertyBuffer, _Out_ PULONG ResultLength);          \
    STDMETHODIMP_(NTSTATUS) NewRegistryKey(_Out_ PREGISTRYKEY * OutRegistryKey, _In_opt_ PUNKNOWN OuterUnknown,   \
                                           _In_ ULONG RegistryKeyType, _In_ ACCESS_MASK DesiredAccess,         \
                                           _In_opt_ POBJECT_ATTRIBUTES ObjectAttributes, _In_opt_ ULONG CreateOptions, \
                                           _Out_opt_ PULONG Disposition)

#undef INTERFACE
#define INTERFACE IPort
DECLARE_INTERFACE_(IPort, IUnknown) {
    DEFINE_ABSTRACT_UNKNOWN()
    DEFINE_ABSTRACT_PORT()
};
#undef INTERFACE
typedef IPort *PPORT;

DEFINE_GUID(CLSID_PortWaveRT, 0xCC9BE57AL, 0xEB9E, 0x42B4, 0x94, 0xFC, 0x0C, 0xAD, 0x3D, 0xBC, 0xE7, 0xFA);
DEFINE_GUID(IID_IPortWaveRT, 0x339FF909L, 0x68A9, 0x4310, 0xB0, 0x9B, 0x27, 0x4E, 0x96, 0xEE, 0x4C, 0xBD);

#undef INTERFACE
#define INTERFACE IPortWaveRT
DECLARE_INTERFACE_(IPortWaveRT, IPort) {
    DEFINE_ABSTRACT_UNKNOWN()
    DEFINE_ABSTRACT_PORT()
};
#undef INTERFACE
typedef IPortWaveRT *PPORTWAVERT;
#define IMP_IPortWaveRT IMP_IPort

// ---- IPortWaveRTStream ---------------------------------------------------

DEFINE_GUID(IID_IPortWaveRTStream, 0x1809CE5AL, 0x64BC, 0x4E62, 0xBD, 0x7D, 0x95, 0xBC, 0xE4, 0x3D, 0xE3, 0x93);

#undef INTERFACE
#define INTERFACE IPortWaveRTStream
DECLARE_INTERFACE_(IPortWaveRTStream, IUnknown) {
    DEFINE_ABSTRACT_UNKNOWN()
    STDMETHOD_(PMDL, AllocatePagesForMdl)(THIS_ _In_ PHYSICAL_ADDRESS HighAddress, _In_ SIZE_T TotalBytes) PURE;
    STDMETHOD_(PMDL, AllocateContiguousPagesForMdl)(THIS_ _In_ PHYSICAL_ADDRESS LowAddress, _In_ PHYSICAL_ADDRESS HighAddress,
                                                   _In_ SIZE_T TotalBytes) PURE;
    STDMETHOD_(PVOID, MapAllocatedPages)(THIS_ _In_ PMDL MemoryDescriptorList, _In_ MEMORY_CACHING_TYPE CacheType) PURE;
    STDMETHOD_(VOID, UnmapAllocatedPages)(THIS_ _In_ PVOID BaseAddress, _In_ PMDL MemoryDescriptorList) PURE;
    STDMETHOD_(VOID, FreePagesFromMdl)(THIS_ _In_ PMDL MemoryDescriptorList) PURE;
    STDMETHOD_(ULONG, GetPhysicalPagesCount)(THIS_ _In_ PMDL MemoryDescriptorList) PURE;
    STDMETHOD_(PHYSICAL_ADDRESS, GetPhysicalPageAddress)(THIS_ _In_ PMDL MemoryDescriptorList, _In_ ULONG Index) PURE;
};
#undef INTERFACE
typedef IPortWaveRTStream *PPORTWAVERTSTREAM;

// ---- IMiniport -----------------------------------------------------------

DEFINE_GUID(IID_IMiniport, 0xB4C90A24L, 0x5791, 0x11D0, 0x86, 0xF9, 0x00, 0xA0, 0xC9, 0x11, 0xB5, 0x44);

#define DEFINE_ABSTRACT_MINIPORT()                                                                              \
    STDMETHOD_(NTSTATUS, GetDescription)(THIS_ _Out_ PPCFILTER_DESCRIPTOR * Description) PURE;                  \
    STDMETHOD_(NTSTATUS, DataRangeIntersection)(THIS_ _In_ ULONG PinId, _In_ PKSDATARANGE DataRange,            \
                                                _In_ PKSDATARANGE MatchingDataRange, _In_ ULONG OutputBufferLength, \
                                                _Out_writes_bytes_to_opt_(OutputBufferLength, *ResultantFormatLength) \
                                                    PVOID ResultantFormat,                                      \
                                                _Out_ PULONG ResultantFormatLength) PURE;

#define IMP_IMiniport                                                                                           \
    STDMETHODIMP_(NTSTATUS) GetDescription(_Out_ PPCFILTER_DESCRIPTOR * Description);                           \
    STDMETHODIMP_(NTSTATUS) DataRangeIntersection(_In_ ULONG PinId, _In_ PKSDATARANGE DataRange,                \
                                                  _In_ PKSDATARANGE MatchingDataRange, _In_ ULONG OutputBufferLength, \
                                                  _Out_writes_bytes_to_opt_(OutputBufferLength, *ResultantFormatLength) \
                                                      PVOID ResultantFormat,                                    \
                                                  _Out_ PULONG ResultantFormatLength)

#undef INTERFACE
#define INTERFACE IMiniport
DECLARE_INTERFACE_(IMiniport, IUnknown) {
    DEFINE_ABSTRACT_UNKNOWN()
    DEFINE_ABSTRACT_MINIPORT()
};
#undef INTERFACE
typedef IMiniport *PMINIPORT;

// ---- IMiniportWaveRTStream and its companions ----------------------------

DEFINE_GUID(IID_IMiniportWaveRTStream, 0x000AC9ABL, 0xFAAB, 0x4F3D, 0x94, 0x55, 0x6F, 0xF8, 0x30, 0x6A, 0x74, 0xA0);

#define DEFINE_ABSTRACT_MINIPORTWAVERTSTREAM()                                                                  \
    STDMETHOD_(NTSTATUS, SetFormat)(THIS_ _In_ PKSDATAFORMAT DataFormat) PURE;                                  \
    STDMETHOD_(NTSTATUS, SetState)(THIS_ _In_ KSSTATE State) PURE;                                              \
    STDMETHOD_(NTSTATUS, GetPosition)(THIS_ _Out_ PKSAUDIO_POSITION Position) PURE;                             \
    STDMETHOD_(NTSTATUS, AllocateAudioBuffer)(THIS_ _In_ ULONG RequestedSize, _Out_ PMDL * AudioBufferMdl,      \
                                              _Out_ ULONG * ActualSize, _Out_ ULONG * OffsetFromFirstPage,      \
                                              _Out_ MEMORY_CACHING_TYPE * CacheType) PURE;                      \
    STDMETHOD_(VOID, FreeAudioBuffer)(THIS_ _In_opt_ PMDL AudioBufferMdl, _In_ ULONG BufferSize) PURE;          \
    STDMETHOD_(VOID, GetHWLatency)(THIS_ _Out_ KSRTAUDIO_HWLATENCY * hwLatency) PURE;                           \
    STDMETHOD_(NTSTATUS, GetPositionRegister)(THIS_ _Out_ KSRTAUDIO_HWREGISTER * Register) PURE;                \
    STDMETHOD_(NTSTATUS, GetClockRegister)(THIS_ _Out_ KSRTAUDIO_HWREGISTER * Register) PURE;

#define IMP_IMiniportWaveRTStream                                                                               \
    STDMETHODIMP_(NTSTATUS) SetFormat(_In_ PKSDATAFORMAT DataFormat);                                           \
    STDMETHODIMP_(NTSTATUS) SetState(_In_ KSSTATE State);                                                       \
    STDMETHODIMP_(NTSTATUS) GetPosition(_Out_ PKSAUDIO_POSITION Position);                                      \
    STDMETHODIMP_(NTSTATUS) AllocateAudioBuffer(_In_ ULONG RequestedSize, _Out_ PMDL * AudioBufferMdl,          \
                                                _Out_ ULONG * ActualSize, _Out_ ULONG * OffsetFromFirstPage,    \
                                                _Out_ MEMORY_CACHING_TYPE * CacheType);                         \
    STDMETHODIMP_(VOID) FreeAudioBuffer(_In_opt_ PMDL AudioBufferMdl, _In_ ULONG BufferSize);                   \
    STDMETHODIMP_(VOID) GetHWLatency(_Out_ KSRTAUDIO_HWLATENCY * hwLatency);                                    \
    STDMETHODIMP_(NTSTATUS) GetPositionRegister(_Out_ KSRTAUDIO_HWREGISTER * Register);                         \
    STDMETHODIMP_(NTSTATUS) GetClockRegister(_Out_ KSRTAUDIO_HWREGISTER * Register)

#undef INTERFACE
#define INTERFACE IMiniportWaveRTStream
DECLARE_INTERFACE_(IMiniportWaveRTStream, IUnknown) {
    DEFINE_ABSTRACT_UNKNOWN()
    DEFINE_ABSTRACT_MINIPORTWAVERTSTREAM()
};
#undef INTERFACE
typedef IMiniportWaveRTStream *PMINIPORTWAVERTSTREAM;

DEFINE_GUID(IID_IMiniportWaveRTStreamNotification, 0x23759128L, 0x96F1, 0x423B, 0xAB, 0x4D, 0x81, 0x63, 0x5B, 0xCF, 0x8C, 0xA1);

#undef INTERFACE
#define INTERFACE IMiniportWaveRTStreamNotification
DECLARE_INTERFACE_(IMiniportWaveRTStreamNotification, IMiniportWaveRTStream) {
    DEFINE_ABSTRACT_UNKNOWN()
    DEFINE_ABSTRACT_MINIPORTWAVERTSTREAM()
    STDMETHOD_(NTSTATUS, AllocateBufferWithNotification)(THIS_ _In_ ULONG NotificationCount, _In_ ULONG RequestedSize,
                                                         _Out_ PMDL * AudioBufferMdl, _Out_ ULONG * ActualSize,
                                                         _Out_ ULONG * OffsetFromFirstPage, _Out_ MEMORY_CACHING_TYPE * CacheType) PURE;
    STDMETHOD_(VOID, FreeBufferWithNotification)(THIS_ _In_ PMDL AudioBufferMdl, _In_ ULONG BufferSize) PURE;
    STDMETHOD_(NTSTATUS, RegisterNotificationEvent)(THIS_ _In_ PKEVENT NotificationEvent) PURE;
    STDMETHOD_(NTSTATUS, UnregisterNotificationEvent)(THIS_ _In_ PKEVENT NotificationEvent) PURE;
};
#undef INTERFACE
typedef IMiniportWaveRTStreamNotification *PMINIPORTWAVERTSTREAMNOTIFICATION;

#define IMP_IMiniportWaveRTStreamNotification                                                                   \
    IMP_IMiniportWaveRTStream;                                                                                  \
    STDMETHODIMP_(NTSTATUS) AllocateBufferWithNotification(_In_ ULONG NotificationCount, _In_ ULONG RequestedSize, \
                                                           _Out_ PMDL * AudioBufferMdl, _Out_ ULONG * ActualSize, \
                                                           _Out_ ULONG * OffsetFromFirstPage,                   \
                                                           _Out_ MEMORY_CACHING_TYPE * CacheType);             \
    STDMETHODIMP_(VOID) FreeBufferWithNotification(_In_ PMDL AudioBufferMdl, _In_ ULONG BufferSize);            \
    STDMETHODIMP_(NTSTATUS) RegisterNotificationEvent(_In_ PKEVENT NotificationEvent);                          \
    STDMETHODIMP_(NTSTATUS) UnregisterNotificationEvent(_In_ PKEVENT NotificationEvent)

DEFINE_GUID(IID_IMiniportWaveRTInputStream, 0xCD8E756AL, 0x5FC7, 0x4624, 0x98, 0x4B, 0x2A, 0xF0, 0x29, 0x25, 0xB9, 0x1F);

#undef INTERFACE
#define INTERFACE IMiniportWaveRTInputStream
DECLARE_INTERFACE_(IMiniportWaveRTInputStream, IUnknown) {
    DEFINE_ABSTRACT_UNKNOWN()
    STDMETHOD_(NTSTATUS, GetReadPacket)(THIS_ _Out_ ULONG * PacketNumber, _Out_ DWORD * Flags,
                                        _Out_ ULONG64 * PerformanceCounterValue, _Out_ BOOL * MoreData) PURE;
};
#undef INTERFACE
typedef IMiniportWaveRTInputStream *PMINIPORTWAVERTINPUTSTREAM;
#define IMP_IMiniportWaveRTInputStream                                                                          \
    STDMETHODIMP_(NTSTATUS) GetReadPacket(_Out_ ULONG * PacketNumber, _Out_ DWORD * Flags,                      \
                                          _Out_ ULONG64 * PerformanceCounterValue, _Out_ BOOL * MoreData)

DEFINE_GUID(IID_IMiniportWaveRTOutputStream, 0x831FC7BCL, 0x6347, 0x44BC, 0xB4, 0x7B, 0xC0, 0xC6, 0x57, 0xB5, 0xBF, 0x73);

#undef INTERFACE
#define INTERFACE IMiniportWaveRTOutputStream
DECLARE_INTERFACE_(IMiniportWaveRTOutputStream, IUnknown) {
    DEFINE_ABSTRACT_UNKNOWN()
    STDMETHOD_(NTSTATUS, SetWritePacket)(THIS_ _In_ ULONG PacketNumber, _In_ DWORD Flags, _In_ ULONG EosPacketLength) PURE;
    STDMETHOD_(NTSTATUS, GetOutputStreamPresentationPosition)(THIS_ _Out_ KSAUDIO_PRESENTATION_POSITION * pPresentationPosition) PURE;
    STDMETHOD_(NTSTATUS, GetPacketCount)(THIS_ _Out_ ULONG * pPacketCount) PURE;
};
#undef INTERFACE
typedef IMiniportWaveRTOutputStream *PMINIPORTWAVERTOUTPUTSTREAM;
#define IMP_IMiniportWaveRTOutputStream                                                                         \
    STDMETHODIMP_(NTSTATUS) SetWritePacket(_In_ ULONG PacketNumber, _In_ DWORD Flags, _In_ ULONG EosPacketLength); \
    STDMETHODIMP_(NTSTATUS) GetOutputStreamPresentationPosition(_Out_ KSAUDIO_PRESENTATION_POSITION * pPresentationPosition); \
    STDMETHODIMP_(NTSTATUS) GetPacketCount(_Out_ ULONG * pPacketCount)

// ---- IMiniportWaveRT -----------------------------------------------------

DEFINE_GUID(IID_IMiniportWaveRT, 0x0F9FC4D6L, 0x6061, 0x4F3C, 0xB1, 0xFC, 0x07, 0x5E, 0x35, 0xF7, 0x96, 0x0A);

#undef INTERFACE
#define INTERFACE IMiniportWaveRT
DECLARE_INTERFACE_(IMiniportWaveRT, IMiniport) {
    DEFINE_ABSTRACT_UNKNOWN()
    DEFINE_ABSTRACT_MINIPORT()
    STDMETHOD_(NTSTATUS, Init)(THIS_ _In_ PUNKNOWN UnknownAdapter, _In_ PRESOURCELIST ResourceList, _In_ PPORTWAVERT Port) PURE;
    STDMETHOD_(NTSTATUS, NewStream)(THIS_ _Out_ PMINIPORTWAVERTSTREAM * Stream, _In_ PPORTWAVERTSTREAM PortStream, _In_ ULONG Pin,
                                    _In_ BOOLEAN Capture, _In_ PKSDATAFORMAT DataFormat) PURE;
    STDMETHOD_(NTSTATUS, GetDeviceDescription)(THIS_ _Out_ PDEVICE_DESCRIPTION DeviceDescription) PURE;
};
#undef INTERFACE
typedef IMiniportWaveRT *PMINIPORTWAVERT;

#define IMP_IMiniportWaveRT                                                                                     \
    IMP_IMiniport;                                                                                              \
    STDMETHODIMP_(NTSTATUS) Init(_In_ PUNKNOWN UnknownAdapter, _In_ PRESOURCELIST ResourceList, _In_ PPORTWAVERT Port); \
    STDMETHODIMP_(NTSTATUS) NewStream(_Out_ PMINIPORTWAVERTSTREAM * Stream, _In_ PPORTWAVERTSTREAM PortStream,   \
                                      _In_ ULONG Pin, _In_ BOOLEAN Capture, _In_ PKSDATAFORMAT DataFormat);    \
    STDMETHODIMP_(NTSTATUS) GetDeviceDescription(_Out_ PDEVICE_DESCRIPTION DeviceDescription)

// ---- C++ allocation from pool --------------------------------------------
//
// What the WDK's kcom.h gives a driver that does not supply its own
// (`_NEW_DELETE_OPERATORS_` undefined): placement forms of operator new that
// take POOL_FLAGS (or a POOL_TYPE) and a tag. They are noexcept, so a
// new-expression checks for NULL before constructing (`wavert sdk cflags`
// adds -fcheck-new for drivers that declare their own without it). The
// matching global operator delete (ExFreePool) is in the SDK runtime, weak,
// so a driver that replaces it (as SYSVAD's NewDelete.cpp does) wins.
#if !defined(_NEW_DELETE_OPERATORS_)
#define _NEW_DELETE_OPERATORS_
#ifndef WAVERT_SDK_DEFAULT_POOLTAG
#define WAVERT_SDK_DEFAULT_POOLTAG 'wNCK'
#endif
inline PVOID operator new(size_t iSize, POOL_FLAGS poolFlags, ULONG tag) noexcept { return ExAllocatePool2(poolFlags, iSize, tag); }
inline PVOID operator new(size_t iSize, POOL_FLAGS poolFlags) noexcept {
    return ExAllocatePool2(poolFlags, iSize, WAVERT_SDK_DEFAULT_POOLTAG);
}
inline PVOID operator new[](size_t iSize, POOL_FLAGS poolFlags, ULONG tag) noexcept { return ExAllocatePool2(poolFlags, iSize, tag); }
inline PVOID operator new(size_t iSize, POOL_TYPE poolType, ULONG tag) noexcept {
    PVOID result = ExAllocatePoolWithTag(poolType, iSize, tag);
    if (result) RtlZeroMemory(result, iSize);
    return result;
}
inline PVOID operator new(size_t iSize, POOL_TYPE poolType) noexcept {
    PVOID result = ExAllocatePoolWithTag(poolType, iSize, WAVERT_SDK_DEFAULT_POOLTAG);
    if (result) RtlZeroMemory(result, iSize);
    return result;
}
inline void operator delete(PVOID pVoid, POOL_FLAGS, ULONG) noexcept { if (pVoid) ExFreePool(pVoid); }
inline void operator delete(PVOID pVoid, POOL_FLAGS) noexcept { if (pVoid) ExFreePool(pVoid); }
inline void operator delete(PVOID pVoid, POOL_TYPE, ULONG) noexcept { if (pVoid) ExFreePool(pVoid); }
inline void operator delete(PVOID pVoid, POOL_TYPE) noexcept { if (pVoid) ExFreePool(pVoid); }
#endif

#include <wavert_sdk.h>

#endif

// CHdaMiniport: IMiniportWaveRT for an Intel HD Audio controller.
//
// - Init maps BAR0 (memory resource 0) with MmMapIoSpace, takes the
//   controller out of reset (GCTL.CRST, polled, then the 521 us the link
//   needs), reads GCAP for the stream descriptors and 64-bit addressing,
//   connects its ISR to interrupt resource 0 with PcNewInterruptSync and sets
//   INTCTL.GIE.
// - The ISR reads INTSTS, acknowledges each stream's SDnSTS (write 1 to
//   clear), notes the causes for the stream and queues the DPC; the DPC lets
//   each stream signal its events and count its packets.
// - Pins: 0 render (sink), 1 its bridge, 2 capture (sink), 3 its bridge.
//   16- or 32-bit PCM (HD Audio puts 20- and 24-bit samples in 32-bit
//   containers), 1 to 8 channels, any rate SDnFMT can express from 8 to 192 kHz.
#include "hda.h"

// ---- Filter descriptor -----------------------------------------------------

static KSDATARANGE_AUDIO HdaDataRanges[] = {
    {{sizeof(KSDATARANGE_AUDIO), 0, 0, 0, STATICGUIDOF(KSDATAFORMAT_TYPE_AUDIO), STATICGUIDOF(KSDATAFORMAT_SUBTYPE_PCM),
      STATICGUIDOF(KSDATAFORMAT_SPECIFIER_WAVEFORMATEX)},
     8, 16, 16, 8000, 192000},
    {{sizeof(KSDATARANGE_AUDIO), 0, 0, 0, STATICGUIDOF(KSDATAFORMAT_TYPE_AUDIO), STATICGUIDOF(KSDATAFORMAT_SUBTYPE_PCM),
      STATICGUIDOF(KSDATAFORMAT_SPECIFIER_WAVEFORMATEX)},
     8, 32, 32, 8000, 192000},
};
static PKSDATARANGE HdaDataRangePointers[] = {PKSDATARANGE(&HdaDataRanges[0]), PKSDATARANGE(&HdaDataRanges[1])};

#define STREAMING_PIN(flow)                                                                                                \
    {1, 1, 0, NULL,                                                                                                        \
     {0, NULL, 0, NULL, SIZEOF_ARRAY(HdaDataRangePointers), HdaDataRangePointers, flow, KSPIN_COMMUNICATION_SINK,           \
      &KSCATEGORY_AUDIO, NULL, {0}}}
#define BRIDGE_PIN(flow) {0, 0, 0, NULL, {0, NULL, 0, NULL, 0, NULL, flow, KSPIN_COMMUNICATION_NONE, &KSCATEGORY_AUDIO, NULL, {0}}}

static PCPIN_DESCRIPTOR HdaPins[] = {
    STREAMING_PIN(KSPIN_DATAFLOW_IN),  // 0: render, data in from the client
    BRIDGE_PIN(KSPIN_DATAFLOW_OUT),    // 1: to the speaker
    STREAMING_PIN(KSPIN_DATAFLOW_OUT), // 2: capture, data out to the client
    BRIDGE_PIN(KSPIN_DATAFLOW_IN),     // 3: from the microphone
};

static PCNODE_DESCRIPTOR HdaNodes[] = {{0, NULL, &KSNODETYPE_SPEAKER, NULL}};
static PCCONNECTION_DESCRIPTOR HdaConnections[] = {{PCFILTER_NODE, 0, 0, 1}, {0, 0, PCFILTER_NODE, 1}};

static PCFILTER_DESCRIPTOR HdaFilter = {
    0, NULL, sizeof(PCPIN_DESCRIPTOR), SIZEOF_ARRAY(HdaPins), HdaPins, sizeof(PCNODE_DESCRIPTOR), SIZEOF_ARRAY(HdaNodes), HdaNodes,
    SIZEOF_ARRAY(HdaConnections), HdaConnections, 0, NULL,
};

USHORT HdaFormat(ULONG rate, ULONG bits, ULONG channels) {
    ULONG code;
    switch (bits) {
    case 8: code = 0; break;
    case 16: code = 1; break;
    case 20: code = 2; break;
    case 24: code = 3; break;
    case 32: code = 4; break;
    default: return 0;
    }
    if (channels < 1 || channels > 16) return 0;
    static const ULONG bases[2] = {48000, 44100};
    for (ULONG baseBit = 0; baseBit < 2; baseBit++) {
        for (ULONG mult = 1; mult <= 4; mult++) {
            for (ULONG div = 1; div <= 8; div++) {
                if ((bases[baseBit] * mult) % div == 0 && bases[baseBit] * mult / div == rate) {
                    return (USHORT)(baseBit << 14 | (mult - 1) << 11 | (div - 1) << 8 | code << 4 | (channels - 1));
                }
            }
        }
    }
    return 0;
}

// ---- IUnknown ----------------------------------------------------------------

#pragma code_seg("PAGE")
STDMETHODIMP_(NTSTATUS) CHdaMiniport::NonDelegatingQueryInterface(REFIID Interface, PVOID *Object) {
    PAGED_CODE();
    ASSERT(Object);
    if (IsEqualGUIDAligned(Interface, IID_IUnknown)) {
        *Object = PVOID(PUNKNOWN(PMINIPORTWAVERT(this)));
    } else if (IsEqualGUIDAligned(Interface, IID_IMiniport)) {
        *Object = PVOID(PMINIPORT(this));
    } else if (IsEqualGUIDAligned(Interface, IID_IMiniportWaveRT)) {
        *Object = PVOID(PMINIPORTWAVERT(this));
    } else {
        *Object = NULL;
        return STATUS_INVALID_PARAMETER;
    }
    PUNKNOWN(*Object)->AddRef();
    return STATUS_SUCCESS;
}

CHdaMiniport::~CHdaMiniport() {
    PAGED_CODE();
    if (m_InterruptSync) {
        m_InterruptSync->Disconnect();
        m_InterruptSync->Release();
    }
    if (m_Registers) {
        WRITE_REGISTER_ULONG((PULONG)Register(HDA_INTCTL), 0);
        MmUnmapIoSpace(m_Registers, m_BarLength);
    }
    if (m_DpcSnapshot) ExFreePoolWithTag(m_DpcSnapshot, HDA_POOLTAG);
    if (m_Port) m_Port->Release();
}

// ---- IMiniport ---------------------------------------------------------------

STDMETHODIMP_(NTSTATUS) CHdaMiniport::GetDescription(PPCFILTER_DESCRIPTOR *Description) {
    PAGED_CODE();
    *Description = &HdaFilter;
    return STATUS_SUCCESS;
}

/// PortCls' default handler picks the format.
STDMETHODIMP_(NTSTATUS) CHdaMiniport::DataRangeIntersection(ULONG, PKSDATARANGE, PKSDATARANGE, ULONG, PVOID, PULONG) {
    PAGED_CODE();
    return STATUS_NOT_IMPLEMENTED;
}

// ---- IMiniportWaveRT -----------------------------------------------------------

STDMETHODIMP_(NTSTATUS) CHdaMiniport::Init(PUNKNOWN UnknownAdapter, PRESOURCELIST ResourceList, PPORTWAVERT Port) {
    PAGED_CODE();
    UNREFERENCED_PARAMETER(UnknownAdapter);
    PCM_PARTIAL_RESOURCE_DESCRIPTOR bar = ResourceList->FindTranslatedMemory(0);
    if (!bar) return STATUS_DEVICE_CONFIGURATION_ERROR;
    m_Registers = (PUCHAR)MmMapIoSpace(bar->u.Memory.Start, bar->u.Memory.Length, MmNonCached);
    if (!m_Registers) return STATUS_INSUFFICIENT_RESOURCES;
    m_BarLength = bar->u.Memory.Length;

    // Out of reset: CRST = 1, wait until it reads back, then let the codecs initialise (>= 521 us).
    PULONG gctl = (PULONG)Register(HDA_GCTL);
    WRITE_REGISTER_ULONG(gctl, READ_REGISTER_ULONG(gctl) | HDA_GCTL_CRST);
    for (ULONG polls = 0; (READ_REGISTER_ULONG(gctl) & HDA_GCTL_CRST) == 0 && polls < 100; polls++) KeStallExecutionProcessor(10);
    if ((READ_REGISTER_ULONG(gctl) & HDA_GCTL_CRST) == 0) return STATUS_DEVICE_NOT_READY;
    for (int i = 0; i < 11; i++) KeStallExecutionProcessor(50);

    USHORT gcap = READ_REGISTER_USHORT((PUSHORT)Register(HDA_GCAP));
    m_OutputStreams = (gcap >> 12) & 0xF;
    m_InputStreams = (gcap >> 8) & 0xF;
    m_Addresses64 = (gcap & 1) != 0;

    m_DpcSnapshot = (CHdaStream **)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(CHdaStream *) * HDA_MAX_STREAMS, HDA_POOLTAG);
    if (!m_DpcSnapshot) return STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeSpinLock(&m_IntctlLock);
    KeInitializeDpc(&m_Dpc, DeferredProcedure, this);

    NTSTATUS status = PcNewInterruptSync(&m_InterruptSync, NULL, ResourceList, 0, InterruptSyncModeNormal);
    if (!NT_SUCCESS(status)) return status;
    status = m_InterruptSync->RegisterServiceRoutine(ServiceInterrupt, this, FALSE);
    if (NT_SUCCESS(status)) status = m_InterruptSync->Connect();
    if (!NT_SUCCESS(status)) return STATUS_INSUFFICIENT_RESOURCES;
    WRITE_REGISTER_ULONG((PULONG)Register(HDA_INTCTL), HDA_INTCTL_GIE);

    m_Port = Port;
    m_Port->AddRef();
    return STATUS_SUCCESS;
}

BOOLEAN CHdaMiniport::IsFormatSupported(ULONG Pin, PKSDATAFORMAT Format) {
    PAGED_CODE();
    if (Format->FormatSize < sizeof(KSDATAFORMAT_WAVEFORMATEX)) return FALSE;
    PWAVEFORMATEX wave = &((PKSDATAFORMAT_WAVEFORMATEX)Format)->WaveFormatEx;
    if (wave->wFormatTag == WAVE_FORMAT_EXTENSIBLE) {
        if (Format->FormatSize < sizeof(KSDATAFORMAT_WAVEFORMATEXTENSIBLE)) return FALSE;
        PWAVEFORMATEXTENSIBLE extensible = (PWAVEFORMATEXTENSIBLE)wave;
        if (!IsEqualGUIDAligned(extensible->SubFormat, KSDATAFORMAT_SUBTYPE_PCM)) return FALSE;
    } else if (wave->wFormatTag != WAVE_FORMAT_PCM) {
        return FALSE;
    }
    if (wave->nBlockAlign != wave->nChannels * wave->wBitsPerSample / 8 || wave->nAvgBytesPerSec != wave->nBlockAlign * wave->nSamplesPerSec)
        return FALSE;
    UNREFERENCED_PARAMETER(Pin);
    for (ULONG i = 0; i < SIZEOF_ARRAY(HdaDataRanges); i++) {
        const KSDATARANGE_AUDIO &r = HdaDataRanges[i];
        if (wave->nChannels >= 1 && wave->nChannels <= r.MaximumChannels && wave->wBitsPerSample >= r.MinimumBitsPerSample &&
            wave->wBitsPerSample <= r.MaximumBitsPerSample && wave->nSamplesPerSec >= r.MinimumSampleFrequency &&
            wave->nSamplesPerSec <= r.MaximumSampleFrequency)
            return HdaFormat(wave->nSamplesPerSec, wave->wBitsPerSample, wave->nChannels) != 0;
    }
    return FALSE;
}

STDMETHODIMP_(NTSTATUS) CHdaMiniport::NewStream(PMINIPORTWAVERTSTREAM *Stream, PPORTWAVERTSTREAM PortStream, ULONG Pin, BOOLEAN Capture,
                                                PKSDATAFORMAT DataFormat) {
    PAGED_CODE();
    *Stream = NULL;
    if (!m_Port) return STATUS_DEVICE_NOT_READY;  // NewStream before Init
    if (!(Pin == 0 || Pin == 2) || Capture != (Pin == 2)) return STATUS_NOT_SUPPORTED;
    if (m_Open[Pin] != 0) return STATUS_INSUFFICIENT_RESOURCES;
    if (!IsFormatSupported(Pin, DataFormat)) return STATUS_NO_MATCH;
    // Inputs come first in the descriptor numbering, then outputs.
    ULONG first = Capture ? 0 : m_InputStreams, last = Capture ? m_InputStreams : m_InputStreams + m_OutputStreams;
    ULONG index = first;
    while (index < last && m_Streams[index]) index++;
    if (index == last) return STATUS_INSUFFICIENT_RESOURCES;
    CHdaStream *stream = CreateStream(index, Capture, &((PKSDATAFORMAT_WAVEFORMATEX)DataFormat)->WaveFormatEx, PortStream);
    if (!stream) return STATUS_INSUFFICIENT_RESOURCES;
    stream->AddRef();
    SetStream(stream, index);
    m_Open[Pin]++;
    *Stream = PMINIPORTWAVERTSTREAM(PMINIPORTWAVERTSTREAMNOTIFICATION(stream));
    return STATUS_SUCCESS;
}

CHdaStream *CHdaMiniport::CreateStream(ULONG Descriptor, BOOLEAN Capture, PWAVEFORMATEX Format, PPORTWAVERTSTREAM PortStream) {
    PAGED_CODE();
    return new (POOL_FLAG_NON_PAGED, HDA_POOLTAG) CHdaStream(NULL, this, Descriptor, Capture, Format, PortStream);
}

STDMETHODIMP_(NTSTATUS) CHdaMiniport::GetDeviceDescription(PDEVICE_DESCRIPTION DeviceDescription) {
    PAGED_CODE();
    RtlZeroMemory(DeviceDescription, sizeof(DEVICE_DESCRIPTION));
    DeviceDescription->Version = DEVICE_DESCRIPTION_VERSION2;
    DeviceDescription->Master = TRUE;
    DeviceDescription->ScatterGather = TRUE;
    DeviceDescription->Dma32BitAddresses = TRUE;
    DeviceDescription->Dma64BitAddresses = m_Addresses64;
    DeviceDescription->InterfaceType = PCIBus;
    DeviceDescription->MaximumLength = HDA_BDL_MAX_ENTRIES * PAGE_SIZE;
    return STATUS_SUCCESS;
}

void CHdaMiniport::StreamClosed(BOOLEAN Capture) {
    PAGED_CODE();
    LONG &open = m_Open[Capture ? 2 : 0];
    if (open > 0) open--;
}
#pragma code_seg()

// ---- The stream table, shared with the ISR -----------------------------------

struct HdaTableChange {
    CHdaMiniport *Miniport;
    CHdaStream *Stream;
    ULONG Index;
};

NTSTATUS CHdaMiniport::ChangeTable(PINTERRUPTSYNC, PVOID Context) {
    HdaTableChange *change = (HdaTableChange *)Context;
    change->Miniport->m_Streams[change->Index] = change->Stream;
    return STATUS_SUCCESS;
}

/// Puts a stream in the table the ISR reads, synchronised with it.
void CHdaMiniport::SetStream(CHdaStream *Stream, ULONG Index) {
    HdaTableChange change = {this, Stream, Index};
    if (m_InterruptSync) m_InterruptSync->CallSynchronizedRoutine(ChangeTable, &change);
}

/// Enables or disables descriptor `Index`'s interrupt in INTCTL.
void CHdaMiniport::EnableStreamInterrupt(ULONG Index, BOOLEAN On) {
    KIRQL irql;
    KeAcquireSpinLock(&m_IntctlLock, &irql);
    PULONG intctl = (PULONG)Register(HDA_INTCTL);
    ULONG value = READ_REGISTER_ULONG(intctl);
    WRITE_REGISTER_ULONG(intctl, On ? value | (1u << Index) : value & ~(1u << Index));
    KeReleaseSpinLock(&m_IntctlLock, irql);
}

// ---- Interrupt path ----------------------------------------------------------

/// The ISR (DIRQL): acknowledge each stream's causes and defer the work.
NTSTATUS CHdaMiniport::ServiceInterrupt(PINTERRUPTSYNC InterruptSync, PVOID DynamicContext) {
    UNREFERENCED_PARAMETER(InterruptSync);
    CHdaMiniport *that = (CHdaMiniport *)DynamicContext;
    ULONG status = READ_REGISTER_ULONG((PULONG)that->Register(HDA_INTSTS));
    if (status == 0 || status == 0xFFFFFFFF) return STATUS_UNSUCCESSFUL;  // not ours
    for (ULONG index = 0; index < that->m_InputStreams + that->m_OutputStreams; index++) {
        if (!(status & (1u << index))) continue;
        PUCHAR sts = that->Register(HDA_SD0 + HDA_SD_STRIDE * index + HDA_SDSTS);
        UCHAR causes = READ_REGISTER_UCHAR(sts) & (HDA_SDSTS_BCIS | HDA_SDSTS_FIFOE | HDA_SDSTS_DESE);
        WRITE_REGISTER_UCHAR(sts, causes);  // write 1 to clear: the line drops
        if (that->m_Streams[index]) that->m_Streams[index]->NoteInterrupt(causes);
    }
    KeInsertQueueDpc(&that->m_Dpc, NULL, NULL);
    return STATUS_SUCCESS;
}

NTSTATUS CHdaMiniport::TableSnapshot(PINTERRUPTSYNC, PVOID Context) {
    CHdaMiniport *that = (CHdaMiniport *)Context;
    that->m_DpcSnapshotCount = 0;
    for (ULONG i = 0; i < HDA_MAX_STREAMS; i++) {
        if (that->m_Streams[i]) that->m_DpcSnapshot[that->m_DpcSnapshotCount++] = that->m_Streams[i];
    }
    return STATUS_SUCCESS;
}

/// The DPC (DISPATCH_LEVEL): a snapshot of the stream table under the
/// interrupt's lock (streams leave it only there, and stay alive until
/// KeFlushQueuedDpcs returns), then each stream's work.
void CHdaMiniport::DeferredProcedure(PKDPC Dpc, PVOID DeferredContext, PVOID SystemArgument1, PVOID SystemArgument2) {
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(SystemArgument1);
    UNREFERENCED_PARAMETER(SystemArgument2);
    CHdaMiniport *that = (CHdaMiniport *)DeferredContext;
    that->m_InterruptSync->CallSynchronizedRoutine(TableSnapshot, that);
    for (ULONG i = 0; i < that->m_DpcSnapshotCount; i++) that->m_DpcSnapshot[i]->DeferredProcedure();
}

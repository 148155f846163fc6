// CHdaStream: one WaveRT stream on an HD Audio stream descriptor.
//
// - The buffer: pages from AllocatePagesForMdl below 4 GiB (anywhere when
//   GCAP.64OK), sized up to whole packets of 128-byte multiples (BDL entries
//   start 128-byte aligned), never below what the client asked for. Mapped
//   for the driver too, write-combined (to silence what follows end of stream).
// - The BDL: one entry per page, cut where each packet ends, with IOC there
//   (no IOC at all for a timer-driven client), in a page of its own from
//   AllocateContiguousPagesForMdl; CBL = the buffer, LVI = entries - 1.
// - SetState: RUN sets SDnCTL.RUN|IOCE and SIE; leaving RUN clears RUN and
//   waits until it reads 0 (LPIB is kept: PAUSE freezes the position); STOP
//   resets the descriptor (SRST) and programs it again, so LPIB is 0.
// - GetPosition reads LPIB (PlayOffset) and adds the FIFO for WriteOffset;
//   GetPositionRegister hands out LPIB's alias in the page at 0x2000,
//   GetClockRegister the wall clock's (24 MHz).
// - Packets: the DPC unwraps LPIB into a linear count; a packet is done once
//   its last byte is fetched (LPIB + FIFO), so interrupts may come late or
//   together and no packet is lost.
#include "hda.h"

// ---- CPacketTracker ------------------------------------------------------------

CPacketTracker::CPacketTracker(ULONG BufferBytes, ULONG NotificationCount, ULONG FetchAheadBytes) {
    ULONG packets = NotificationCount ? NotificationCount : 1;
    m_BufferBytes = BufferBytes;
    m_Packets = packets;
    m_PacketBytes = BufferBytes / packets;
    m_FetchAhead = FetchAheadBytes;
}

/// STOP: back to packet 0.
void CPacketTracker::Reset() {
    InterlockedExchange64(&m_Linear, 0);
    InterlockedExchange64(&m_LastRegister, 0);
    InterlockedExchange64(&m_EndOfStream, -1);
}

/// The DPC (or any reader): folds a fresh position-register value in; returns the linear position.
ULONGLONG CPacketTracker::Update(ULONGLONG Register) {
    ULONGLONG last = (ULONGLONG)InterlockedExchange64(&m_LastRegister, (LONG64)Register);
    ULONGLONG delta = (Register + m_BufferBytes - last) % m_BufferBytes;
    return (ULONGLONG)InterlockedAdd64(&m_Linear, (LONG64)delta);
}

/// The linear position a register value would give, without folding it in.
ULONGLONG CPacketTracker::Peek(ULONGLONG Register) {
    ULONGLONG last = (ULONGLONG)ReadAcquire(&m_LastRegister);
    return (ULONGLONG)ReadAcquire(&m_Linear) + (Register + m_BufferBytes - last) % m_BufferBytes;
}

/// SetWritePacket given the current packet count (the WDK's rules).
NTSTATUS CPacketTracker::SetWritePacket(ULONG Number, ULONG Flags, ULONG EosPacketLength, ULONGLONG Count) {
    if (Flags & ~KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM) return STATUS_INVALID_PARAMETER;
    BOOLEAN eos = (Flags & KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM) != 0;
    if (eos && EosPacketLength > m_PacketBytes) return STATUS_INVALID_PARAMETER;
    if (ReadAcquire(&m_EndOfStream) != -1) return STATUS_INVALID_DEVICE_STATE;
    // Running, packet `Count` is being transferred; stopped or paused, it has not started.
    ULONGLONG first = ReadAcquire(&m_Running) ? Count + 1 : Count;
    // Packet numbers are 32 bits on the wire: compare in the count's neighbourhood.
    ULONGLONG n = (Count & ~0xFFFFFFFFull) | Number;
    if (n < first) return STATUS_DATA_LATE_ERROR;
    if (n >= Count + m_Packets) return STATUS_DATA_OVERRUN;
    if (eos) InterlockedExchange64(&m_EndOfStream, (LONG64)(n * m_PacketBytes + EosPacketLength));
    return STATUS_SUCCESS;
}

BOOLEAN CPacketTracker::EndOfStream(ULONGLONG *Position) {
    LONG64 e = ReadAcquire(&m_EndOfStream);
    if (e == -1) return FALSE;
    *Position = (ULONGLONG)e;
    return TRUE;
}

// ---- CHdaStream: life -------------------------------------------------------------

#pragma code_seg("PAGE")
CHdaStream::CHdaStream(PUNKNOWN Outer, CHdaMiniport *Miniport, ULONG Descriptor, BOOLEAN Capture, PWAVEFORMATEX Format,
                       PPORTWAVERTSTREAM PortStream)
    : CUnknown(Outer), m_Miniport(Miniport), m_Descriptor(Descriptor), m_Capture(Capture), m_Format(*Format), m_PortStream(PortStream) {
    PAGED_CODE();
    m_Fmt = HdaFormat(Format->nSamplesPerSec, Format->wBitsPerSample, Format->nChannels);
    m_PortStream->AddRef();
    m_Miniport->AddRef();
    KeInitializeSpinLock(&m_EventLock);
}

CHdaStream::~CHdaStream() {
    PAGED_CODE();
    m_Miniport->SetStream(NULL, m_Descriptor);
    KeFlushQueuedDpcs();
    m_Miniport->StreamClosed(m_Capture);
    if (m_Tracker) delete m_Tracker;
    m_PortStream->Release();
    m_Miniport->Release();
}

STDMETHODIMP_(NTSTATUS) CHdaStream::NonDelegatingQueryInterface(REFIID Interface, PVOID *Object) {
    PAGED_CODE();
    ASSERT(Object);
    if (IsEqualGUIDAligned(Interface, IID_IUnknown)) {
        *Object = PVOID(PUNKNOWN(PMINIPORTWAVERTSTREAMNOTIFICATION(this)));
    } else if (IsEqualGUIDAligned(Interface, IID_IMiniportWaveRTStream)) {
        *Object = PVOID(PMINIPORTWAVERTSTREAM(PMINIPORTWAVERTSTREAMNOTIFICATION(this)));
    } else if (IsEqualGUIDAligned(Interface, IID_IMiniportWaveRTStreamNotification)) {
        *Object = PVOID(PMINIPORTWAVERTSTREAMNOTIFICATION(this));
    } else if (IsEqualGUIDAligned(Interface, IID_IMiniportWaveRTOutputStream)) {
        *Object = PVOID(PMINIPORTWAVERTOUTPUTSTREAM(this));
    } else if (IsEqualGUIDAligned(Interface, IID_IMiniportWaveRTInputStream)) {
        *Object = PVOID(PMINIPORTWAVERTINPUTSTREAM(this));
    } else {
        *Object = NULL;
        return STATUS_INVALID_PARAMETER;
    }
    PUNKNOWN(*Object)->AddRef();
    return STATUS_SUCCESS;
}

// ---- Buffer --------------------------------------------------------------------------

static ULONG Gcd(ULONG a, ULONG b) {
    while (b) {
        ULONG t = a % b;
        a = b;
        b = t;
    }
    return a;
}

STDMETHODIMP_(NTSTATUS) CHdaStream::AllocateBufferWithNotification(ULONG NotificationCount, ULONG RequestedSize, PMDL *AudioBufferMdl,
                                                                    ULONG *ActualSize, ULONG *OffsetFromFirstPage, MEMORY_CACHING_TYPE *CacheType) {
    PAGED_CODE();
    if (NotificationCount != 1 && NotificationCount != 2) return STATUS_INVALID_PARAMETER;
    return Allocate(RequestedSize, NotificationCount, AudioBufferMdl, ActualSize, OffsetFromFirstPage, CacheType);
}

STDMETHODIMP_(NTSTATUS) CHdaStream::AllocateAudioBuffer(ULONG RequestedSize, PMDL *AudioBufferMdl, ULONG *ActualSize, ULONG *OffsetFromFirstPage,
                                                         MEMORY_CACHING_TYPE *CacheType) {
    PAGED_CODE();
    return Allocate(RequestedSize, 0, AudioBufferMdl, ActualSize, OffsetFromFirstPage, CacheType);
}

NTSTATUS CHdaStream::Allocate(ULONG Requested, ULONG Notifications, PMDL *Mdl, ULONG *ActualSize, ULONG *OffsetFromFirstPage,
                              MEMORY_CACHING_TYPE *CacheType) {
    PAGED_CODE();
    if (m_Buffer || m_State != KSSTATE_STOP || Requested == 0) return STATUS_INVALID_DEVICE_STATE;
    // Whole packets of whole frames, each a multiple of 128 bytes, at least what was asked.
    ULONG packets = Notifications ? Notifications : 1;
    ULONG unit = m_Format.nBlockAlign / Gcd(m_Format.nBlockAlign, HDA_BUFFER_ALIGNMENT) * HDA_BUFFER_ALIGNMENT;
    ULONG packet = (Requested / packets + unit - 1) / unit * unit;
    // One packet is split into two BDL entries (the controller needs at least two), so it holds two units.
    if (packets == 1 && packet < 2 * unit) packet = 2 * unit;
    ULONG size = packet * packets;
    PHYSICAL_ADDRESS highest;
    highest.QuadPart = m_Miniport->Addresses64() ? (LONGLONG)MAXULONG64 : 0xFFFFFFFFLL;
    PMDL mdl = m_PortStream->AllocatePagesForMdl(highest, size);
    if (!mdl) return STATUS_INSUFFICIENT_RESOURCES;
    if (MmGetMdlByteCount(mdl) < size) {
        // A partial allocation: use whole packets of what we got (the client decides whether that is enough).
        size = MmGetMdlByteCount(mdl) / (unit * packets) * (unit * packets);
        if (size == 0) {
            m_PortStream->FreePagesFromMdl(mdl);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    PHYSICAL_ADDRESS lowest;
    lowest.QuadPart = 0;
    PMDL bdl = m_PortStream->AllocateContiguousPagesForMdl(lowest, highest, PAGE_SIZE);
    PUCHAR bdlVa = bdl ? (PUCHAR)m_PortStream->MapAllocatedPages(bdl, MmNonCached) : NULL;
    PUCHAR bufferVa = bdlVa ? (PUCHAR)m_PortStream->MapAllocatedPages(mdl, MmWriteCombined) : NULL;
    if (!bufferVa) {
        m_PortStream->FreePagesFromMdl(mdl);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    m_Buffer = mdl;
    m_BufferMapping = bufferVa;
    m_BufferBytes = size;
    m_NotificationCount = Notifications;
    m_Bdl = bdl;
    m_BdlMapping = bdlVa;
    if (!WriteBdl(size / packets, Notifications > 0)) {
        Free();
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    m_FifoBytes = (ULONG)READ_REGISTER_USHORT((PUSHORT)Reg(HDA_SDFIFOS)) + 1;
    m_Tracker = new (POOL_FLAG_NON_PAGED, HDA_POOLTAG) CPacketTracker(size, packets, m_Capture ? 0 : m_FifoBytes);
    if (!m_Tracker) {
        Free();
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    Program();
    *Mdl = mdl;
    *ActualSize = size;
    *OffsetFromFirstPage = 0;
    *CacheType = MmWriteCombined;
    return STATUS_SUCCESS;
}

/// One entry per page of the buffer, cut at each packet end (IOC there).
BOOLEAN CHdaStream::WriteBdl(ULONG PacketBytes, BOOLEAN Ioc) {
    PAGED_CODE();
    ULONG offset = 0, entries = 0;
    while (offset < m_BufferBytes) {
        ULONG page = offset / PAGE_SIZE;
        ULONGLONG address = (ULONGLONG)m_PortStream->GetPhysicalPageAddress(m_Buffer, page).QuadPart + offset % PAGE_SIZE;
        ULONG packetEnd = (offset / PacketBytes + 1) * PacketBytes;
        ULONG length = min(PAGE_SIZE - offset % PAGE_SIZE, packetEnd - offset);
        if (entries >= HDA_BDL_MAX_ENTRIES) return FALSE;
        PUCHAR e = m_BdlMapping + entries * HDA_BDL_ENTRY_BYTES;
        *(ULONGLONG UNALIGNED *)e = address;
        *(ULONG UNALIGNED *)(e + 8) = length;
        *(ULONG UNALIGNED *)(e + 12) = (Ioc && offset + length == packetEnd) ? 1 : 0;
        offset += length;
        entries++;
    }
    // The controller needs at least two entries.
    if (entries == 1) {
        ULONG length = *(ULONG *)(m_BdlMapping + 8);
        ULONG half = length / 2 / HDA_BUFFER_ALIGNMENT * HDA_BUFFER_ALIGNMENT;
        if (half == 0) return FALSE;
        ULONGLONG address = *(ULONGLONG *)m_BdlMapping;
        ULONG flags = *(ULONG *)(m_BdlMapping + 12);
        *(ULONG *)(m_BdlMapping + 8) = half;
        *(ULONG *)(m_BdlMapping + 12) = 0;
        PUCHAR second = m_BdlMapping + HDA_BDL_ENTRY_BYTES;
        *(ULONGLONG *)second = address + half;
        *(ULONG *)(second + 8) = length - half;
        *(ULONG *)(second + 12) = flags;
        entries = 2;
    }
    m_BdlEntries = entries;
    return TRUE;
}

/// SRST handshake, then the stream's registers: tag, CBL, LVI, FMT, BDL address.
void CHdaStream::Program() {
    PAGED_CODE();
    ResetDescriptor();
    if (!m_Bdl) return;
    WRITE_REGISTER_ULONG((PULONG)Reg(HDA_SDCTL), (m_Descriptor + 1) << 20);  // stream tag n + 1 (0 is reserved)
    WRITE_REGISTER_ULONG((PULONG)Reg(HDA_SDCBL), m_BufferBytes);
    WRITE_REGISTER_USHORT((PUSHORT)Reg(HDA_SDLVI), (USHORT)(m_BdlEntries - 1));
    WRITE_REGISTER_USHORT((PUSHORT)Reg(HDA_SDFMT), m_Fmt);
    ULONGLONG address = (ULONGLONG)m_PortStream->GetPhysicalPageAddress(m_Bdl, 0).QuadPart;
    WRITE_REGISTER_ULONG((PULONG)Reg(HDA_SDBDPL), (ULONG)address);
    WRITE_REGISTER_ULONG((PULONG)Reg(HDA_SDBDPU), (ULONG)(address >> 32));
}

/// SDnCTL.SRST: set it, wait until it reads 1, clear it, wait until it reads 0.
void CHdaStream::ResetDescriptor() {
    PAGED_CODE();
    PUCHAR ctl = Reg(HDA_SDCTL);
    WRITE_REGISTER_UCHAR(ctl, READ_REGISTER_UCHAR(ctl) & ~(HDA_SDCTL_RUN | HDA_SDCTL_IOCE | HDA_SDCTL_FEIE | HDA_SDCTL_DEIE));
    WRITE_REGISTER_UCHAR(Reg(HDA_SDSTS), HDA_SDSTS_BCIS | HDA_SDSTS_FIFOE | HDA_SDSTS_DESE);
    const UCHAR targets[2] = {HDA_SDCTL_SRST, 0};
    for (UCHAR target : targets) {
        WRITE_REGISTER_UCHAR(ctl, target);
        for (ULONG polls = 0; (READ_REGISTER_UCHAR(ctl) & HDA_SDCTL_SRST) != target && polls < 300; polls++) KeStallExecutionProcessor(3);
    }
}

STDMETHODIMP_(VOID) CHdaStream::FreeBufferWithNotification(PMDL, ULONG) {
    PAGED_CODE();
    Free();
}

STDMETHODIMP_(VOID) CHdaStream::FreeAudioBuffer(PMDL, ULONG) {
    PAGED_CODE();
    Free();
}

void CHdaStream::Free() {
    PAGED_CODE();
    ResetDescriptor();
    WRITE_REGISTER_ULONG((PULONG)Reg(HDA_SDBDPL), 0);
    WRITE_REGISTER_ULONG((PULONG)Reg(HDA_SDBDPU), 0);
    if (m_Bdl) {
        if (m_BdlMapping) m_PortStream->UnmapAllocatedPages(m_BdlMapping, m_Bdl);
        m_PortStream->FreePagesFromMdl(m_Bdl);
    }
    if (m_Buffer) {
        if (m_BufferMapping) m_PortStream->UnmapAllocatedPages(m_BufferMapping, m_Buffer);
        m_PortStream->FreePagesFromMdl(m_Buffer);
    }
    m_Bdl = NULL;
    m_BdlMapping = NULL;
    m_Buffer = NULL;
    m_BufferMapping = NULL;
    if (m_Tracker) {
        delete m_Tracker;
        m_Tracker = NULL;
    }
}

// ---- State -----------------------------------------------------------------------------------

STDMETHODIMP_(NTSTATUS) CHdaStream::SetFormat(PKSDATAFORMAT) {
    PAGED_CODE();
    return STATUS_NOT_SUPPORTED;
}

STDMETHODIMP_(NTSTATUS) CHdaStream::SetState(KSSTATE State) {
    PAGED_CODE();
    PUCHAR ctl = Reg(HDA_SDCTL);
    if (m_State == KSSTATE_PAUSE && State == KSSTATE_RUN) {
        if (!m_Buffer) return STATUS_INVALID_DEVICE_STATE;
        m_Miniport->EnableStreamInterrupt(m_Descriptor, TRUE);
        if (m_Tracker) m_Tracker->SetRunning(TRUE);
        UCHAR enables = m_NotificationCount > 0 ? (HDA_SDCTL_IOCE | HDA_SDCTL_FEIE | HDA_SDCTL_DEIE) : (HDA_SDCTL_FEIE | HDA_SDCTL_DEIE);
        WRITE_REGISTER_UCHAR(ctl, READ_REGISTER_UCHAR(ctl) | HDA_SDCTL_RUN | enables);
    } else if (m_State == KSSTATE_RUN && State == KSSTATE_PAUSE) {
        WRITE_REGISTER_UCHAR(ctl, READ_REGISTER_UCHAR(ctl) & ~HDA_SDCTL_RUN);
        // The engine stops at the end of the current frame; RUN reads 1 until then.
        for (ULONG polls = 0; (READ_REGISTER_UCHAR(ctl) & HDA_SDCTL_RUN) != 0 && polls < 100; polls++) KeStallExecutionProcessor(10);
        if (m_Tracker) {
            m_Tracker->SetRunning(FALSE);
            m_Tracker->Update(READ_REGISTER_ULONG((PULONG)Reg(HDA_SDLPIB)));
        }
        m_Miniport->EnableStreamInterrupt(m_Descriptor, FALSE);
    } else if (m_State == KSSTATE_ACQUIRE && State == KSSTATE_STOP) {
        // Back to position 0: the descriptor is reset and programmed again.
        if (m_Buffer) Program();
        if (m_Tracker) m_Tracker->Reset();
        m_SilencedUpTo = 0;
        m_LastReadPacket = ~0ull;
    }
    m_State = State;
    return STATUS_SUCCESS;
}
#pragma code_seg()

// ---- Positions (GetPosition may come at DISPATCH_LEVEL: not pageable) -----------------------

STDMETHODIMP_(NTSTATUS) CHdaStream::GetPosition(PKSAUDIO_POSITION Position) {
    if (m_BufferBytes == 0) {
        Position->PlayOffset = Position->WriteOffset = 0;
        return STATUS_SUCCESS;
    }
    ULONGLONG lpib = READ_REGISTER_ULONG((PULONG)Reg(HDA_SDLPIB));
    Position->PlayOffset = lpib;
    Position->WriteOffset = m_Capture ? lpib : (lpib + m_FifoBytes) % m_BufferBytes;
    return STATUS_SUCCESS;
}

#pragma code_seg("PAGE")
STDMETHODIMP_(VOID) CHdaStream::GetHWLatency(KSRTAUDIO_HWLATENCY *hwLatency) {
    PAGED_CODE();
    hwLatency->FifoSize = (ULONG)READ_REGISTER_USHORT((PUSHORT)Reg(HDA_SDFIFOS)) + 1;
    hwLatency->ChipsetDelay = 0;
    hwLatency->CodecDelay = 0;
}

STDMETHODIMP_(NTSTATUS) CHdaStream::GetPositionRegister(KSRTAUDIO_HWREGISTER *Register) {
    PAGED_CODE();
    Register->Register = m_Miniport->Register(HDA_ALIAS + HDA_SD0 + HDA_SD_STRIDE * m_Descriptor + HDA_SDLPIB);
    Register->Width = 32;
    Register->Numerator = 0;
    Register->Denominator = 0;
    Register->Accuracy = m_Format.nBlockAlign;
    return STATUS_SUCCESS;
}

STDMETHODIMP_(NTSTATUS) CHdaStream::GetClockRegister(KSRTAUDIO_HWREGISTER *Register) {
    PAGED_CODE();
    Register->Register = m_Miniport->Register(HDA_ALIAS + HDA_WALCLK);
    Register->Width = 32;
    Register->Numerator = HDA_WALL_CLOCK_HZ;
    Register->Denominator = 1;
    Register->Accuracy = 1;
    return STATUS_SUCCESS;
}

// ---- Notifications --------------------------------------------------------------------------

/// The same event twice is STATUS_INVALID_PARAMETER; a ninth, STATUS_INSUFFICIENT_RESOURCES.
STDMETHODIMP_(NTSTATUS) CHdaStream::RegisterNotificationEvent(PKEVENT NotificationEvent) {
    PAGED_CODE();
    if (m_NotificationCount == 0) return STATUS_NOT_SUPPORTED;
    NTSTATUS status = STATUS_SUCCESS;
    KIRQL irql;
    KeAcquireSpinLock(&m_EventLock, &irql);
    for (ULONG i = 0; i < m_EventCount; i++)
        if (m_Events[i] == NotificationEvent) status = STATUS_INVALID_PARAMETER;
    if (NT_SUCCESS(status)) {
        if (m_EventCount < HDA_MAX_EVENTS) m_Events[m_EventCount++] = NotificationEvent;
        else status = STATUS_INSUFFICIENT_RESOURCES;
    }
    KeReleaseSpinLock(&m_EventLock, irql);
    return status;
}

STDMETHODIMP_(NTSTATUS) CHdaStream::UnregisterNotificationEvent(PKEVENT NotificationEvent) {
    PAGED_CODE();
    NTSTATUS status = STATUS_NOT_FOUND;
    KIRQL irql;
    KeAcquireSpinLock(&m_EventLock, &irql);
    for (ULONG i = 0; i < m_EventCount; i++) {
        if (m_Events[i] != NotificationEvent) continue;
        for (ULONG j = i + 1; j < m_EventCount; j++) m_Events[j - 1] = m_Events[j];
        m_EventCount--;
        status = STATUS_SUCCESS;
        break;
    }
    KeReleaseSpinLock(&m_EventLock, irql);
    return status;
}
#pragma code_seg()

/// From the DPC: bring the linear position up to date, silence what lies
/// past end of stream, and signal the events for a completed buffer.
void CHdaStream::DeferredProcedure() {
    UCHAR causes = (UCHAR)InterlockedExchange(&m_Pending, 0);
    if (causes == 0 || !m_Tracker) return;
    ULONGLONG linear = m_Tracker->Update(READ_REGISTER_ULONG((PULONG)Reg(HDA_SDLPIB)));
    ULONGLONG end;
    if (m_Tracker->EndOfStream(&end) && m_BufferMapping) SilenceAfterEndOfStream(end, linear + m_FifoBytes);
    if (causes & HDA_SDSTS_BCIS) {
        KeAcquireSpinLockAtDpcLevel(&m_EventLock);
        for (ULONG i = 0; i < m_EventCount; i++) KeSetEvent(m_Events[i], 0, FALSE);
        KeReleaseSpinLockFromDpcLevel(&m_EventLock);
    }
}

/// After end of stream the hardware keeps playing the buffer: zero each part
/// behind the fetch position as it passes, so what follows is silence.
void CHdaStream::SilenceAfterEndOfStream(ULONGLONG End, ULONGLONG Fetched) {
    ULONGLONG size = m_BufferBytes;
    // [End, Fetched + size) holds what was written before end of stream and already played.
    ULONGLONG from = max(m_SilencedUpTo, End);
    ULONGLONG to = min(Fetched + size, End + size);
    while (from < to) {
        ULONG offset = (ULONG)(from % size);
        ULONG n = (ULONG)min(to - from, size - offset);
        RtlZeroMemory(m_BufferMapping + offset, n);
        from += n;
    }
    m_SilencedUpTo = from;
}

// ---- Packets (IMiniportWaveRTOutputStream / IMiniportWaveRTInputStream) ----------------------

ULONGLONG CHdaStream::LivePacketCount() {
    if (!m_Tracker) return 0;
    return m_Tracker->PacketCount(m_Tracker->Peek(READ_REGISTER_ULONG((PULONG)Reg(HDA_SDLPIB))));
}

STDMETHODIMP_(NTSTATUS) CHdaStream::GetPacketCount(ULONG *PacketCount) {
    if (m_NotificationCount == 0 || m_Capture) return STATUS_NOT_SUPPORTED;
    *PacketCount = (ULONG)LivePacketCount();
    return STATUS_SUCCESS;
}

STDMETHODIMP_(NTSTATUS) CHdaStream::SetWritePacket(ULONG PacketNumber, DWORD Flags, ULONG EosPacketLength) {
    if (m_NotificationCount == 0 || m_Capture || !m_Tracker) return STATUS_NOT_SUPPORTED;
    return m_Tracker->SetWritePacket(PacketNumber, Flags, EosPacketLength, LivePacketCount());
}

STDMETHODIMP_(NTSTATUS) CHdaStream::GetOutputStreamPresentationPosition(KSAUDIO_PRESENTATION_POSITION *pPresentationPosition) {
    if (m_NotificationCount == 0 || m_Capture || !m_Tracker) return STATUS_NOT_SUPPORTED;
    LARGE_INTEGER qpc = KeQueryPerformanceCounter(NULL);
    ULONGLONG linear = m_Tracker->Peek(READ_REGISTER_ULONG((PULONG)Reg(HDA_SDLPIB)));
    pPresentationPosition->u64PositionInBlocks = linear / m_Format.nBlockAlign;
    pPresentationPosition->u64QPCPosition = (UINT64)qpc.QuadPart;
    return STATUS_SUCCESS;
}

/// The next packet the DMA has written and the client has not read, with the
/// performance counter at its first sample. Packets overwritten before being
/// read are skipped.
STDMETHODIMP_(NTSTATUS) CHdaStream::GetReadPacket(ULONG *PacketNumber, DWORD *Flags, ULONG64 *PerformanceCounterValue, BOOL *MoreData) {
    if (m_NotificationCount == 0 || !m_Capture || !m_Tracker) return STATUS_NOT_SUPPORTED;
    LARGE_INTEGER frequency;
    LARGE_INTEGER qpc = KeQueryPerformanceCounter(&frequency);
    ULONGLONG link = m_Tracker->Peek(READ_REGISTER_ULONG((PULONG)Reg(HDA_SDLPIB)));
    // The DMA writes whole bursts behind the link.
    ULONGLONG written = link >= HDA_BUFFER_ALIGNMENT ? link - HDA_BUFFER_ALIGNMENT + 1 : 0;
    ULONGLONG completed = written / m_Tracker->PacketBytes();
    ULONGLONG next = m_LastReadPacket == ~0ull ? 0 : m_LastReadPacket + 1;
    if (next >= completed) return STATUS_DEVICE_NOT_READY;
    if (completed - next > m_Tracker->Packets() - 1) next = completed - (m_Tracker->Packets() - 1);
    m_LastReadPacket = next;
    *PacketNumber = (ULONG)next;
    *Flags = 0;
    ULONGLONG bytesSinceStart = link - next * m_Tracker->PacketBytes();
    ULONGLONG ticks = bytesSinceStart * (ULONGLONG)frequency.QuadPart / m_Format.nAvgBytesPerSec;
    *PerformanceCounterValue = (ULONGLONG)qpc.QuadPart >= ticks ? (ULONGLONG)qpc.QuadPart - ticks : 0;
    *MoreData = next + 1 < completed;
    return STATUS_SUCCESS;
}

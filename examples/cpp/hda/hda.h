// A WaveRT miniport for an Intel HD Audio controller, written against the
// WDK's portcls.h: the C++ twin of the Swift example `hda`
// (examples/HDA/HDAMiniport.swift, HDAStream.swift), register for register.
//
// Build:  wavert sdk build -o minwavert.so examples/cpp/hda/*.cpp
// Play:   wavert play --miniport minwavert.so
//
// The same sources build for Windows with the WDK: only adapter.cpp (the
// library's entry points) is emulator-specific.
#pragma once

// Like SYSVAD, this driver brings its own operator new/delete (NewDelete.cpp).
#define _NEW_DELETE_OPERATORS_
#include <portcls.h>
#include <stdunk.h>
#include "NewDelete.h"

#define HDA_POOLTAG 'ADHw'  // "wHDA" in pool dumps

// ---- The controller's registers (Intel HD Audio specification) -------------

#define HDA_GCAP 0x00
#define HDA_GCTL 0x08
#define HDA_INTCTL 0x20
#define HDA_INTSTS 0x24
#define HDA_WALCLK 0x30
#define HDA_SD0 0x80
#define HDA_SD_STRIDE 0x20
#define HDA_SDCTL 0x00
#define HDA_SDSTS 0x03
#define HDA_SDLPIB 0x04
#define HDA_SDCBL 0x08
#define HDA_SDLVI 0x0C
#define HDA_SDFIFOS 0x10
#define HDA_SDFMT 0x12
#define HDA_SDBDPL 0x18
#define HDA_SDBDPU 0x1C
#define HDA_ALIAS 0x2000  // WALCLK and the LPIBs alone, mappable for a client

#define HDA_GCTL_CRST 0x1u
#define HDA_INTCTL_GIE 0x80000000u
#define HDA_SDCTL_SRST 0x01
#define HDA_SDCTL_RUN 0x02
#define HDA_SDCTL_IOCE 0x04
#define HDA_SDCTL_FEIE 0x08
#define HDA_SDCTL_DEIE 0x10
#define HDA_SDSTS_BCIS 0x04
#define HDA_SDSTS_FIFOE 0x08
#define HDA_SDSTS_DESE 0x10

#define HDA_BDL_ENTRY_BYTES 16
#define HDA_BDL_MAX_ENTRIES 256
#define HDA_BUFFER_ALIGNMENT 128
#define HDA_WALL_CLOCK_HZ 24000000ull
#define HDA_MAX_STREAMS 30
#define HDA_MAX_EVENTS 8

/// SDnFMT for a rate, container bits and channels (BASE 48/44.1 kHz x MULT / DIV); 0 when it cannot be expressed.
USHORT HdaFormat(ULONG rate, ULONG bits, ULONG channels);

class CHdaStream;

/// The miniport: maps the controller, takes it out of reset, connects its ISR.
class CHdaMiniport : public IMiniportWaveRT, public CUnknown {
  public:
    DECLARE_STD_UNKNOWN();
    DEFINE_STD_CONSTRUCTOR(CHdaMiniport);
    ~CHdaMiniport();
    IMP_IMiniportWaveRT;

    PUCHAR Register(ULONG Offset) { return m_Registers + Offset; }
    BOOLEAN Addresses64() { return m_Addresses64; }
    void SetStream(CHdaStream *Stream, ULONG Index);
    void EnableStreamInterrupt(ULONG Index, BOOLEAN On);
    void StreamClosed(BOOLEAN Capture);
    BOOLEAN IsFormatSupported(ULONG Pin, PKSDATAFORMAT Format);

  protected:
    /// Makes the stream object (a variant of the driver makes its own kind).
    virtual CHdaStream *CreateStream(ULONG Descriptor, BOOLEAN Capture, PWAVEFORMATEX Format, PPORTWAVERTSTREAM PortStream);

  private:
    static NTSTATUS ServiceInterrupt(PINTERRUPTSYNC InterruptSync, PVOID DynamicContext);
    static KDEFERRED_ROUTINE DeferredProcedure;
    static NTSTATUS TableSnapshot(PINTERRUPTSYNC InterruptSync, PVOID DynamicContext);
    static NTSTATUS ChangeTable(PINTERRUPTSYNC InterruptSync, PVOID DynamicContext);

    PPORTWAVERT m_Port = NULL;
    PUCHAR m_Registers = NULL;
    ULONG m_BarLength = 0;
    PINTERRUPTSYNC m_InterruptSync = NULL;
    KDPC m_Dpc;
    KSPIN_LOCK m_IntctlLock;
    ULONG m_InputStreams = 0;
    ULONG m_OutputStreams = 0;
    BOOLEAN m_Addresses64 = FALSE;
    LONG m_Open[4] = {};
    /// Streams by descriptor index; changed only under CallSynchronizedRoutine so the ISR never sees a half-made table.
    CHdaStream *m_Streams[HDA_MAX_STREAMS] = {};
    CHdaStream **m_DpcSnapshot = NULL;
    ULONG m_DpcSnapshotCount = 0;
};

/// Packet bookkeeping from the position register: the DPC unwraps LPIB into a
/// linear byte count; packets are counted from it, not from interrupts.
class CPacketTracker {
  public:
    CPacketTracker(ULONG BufferBytes, ULONG NotificationCount, ULONG FetchAheadBytes);
    void Reset();
    void SetRunning(BOOLEAN Running) { InterlockedExchange(&m_Running, Running); }
    ULONGLONG Update(ULONGLONG Register);
    ULONGLONG Peek(ULONGLONG Register);
    ULONGLONG PacketCount(ULONGLONG Linear) { return (Linear + m_FetchAhead) / m_PacketBytes; }
    NTSTATUS SetWritePacket(ULONG Number, ULONG Flags, ULONG EosPacketLength, ULONGLONG Count);
    BOOLEAN EndOfStream(ULONGLONG *Position);
    ULONGLONG PacketBytes() { return m_PacketBytes; }
    ULONGLONG Packets() { return m_Packets; }

  private:
    ULONGLONG m_BufferBytes, m_PacketBytes, m_Packets, m_FetchAhead;
    volatile LONG64 m_Linear = 0;
    volatile LONG64 m_LastRegister = 0;
    volatile LONG64 m_EndOfStream = -1;
    volatile LONG m_Running = FALSE;
};

/// One stream on stream descriptor `m_Descriptor`.
class CHdaStream : public IMiniportWaveRTStreamNotification,
                   public IMiniportWaveRTOutputStream,
                   public IMiniportWaveRTInputStream,
                   public CUnknown {
  public:
    DECLARE_STD_UNKNOWN();
    CHdaStream(PUNKNOWN Outer, CHdaMiniport *Miniport, ULONG Descriptor, BOOLEAN Capture, PWAVEFORMATEX Format, PPORTWAVERTSTREAM PortStream);
    virtual ~CHdaStream();
    IMP_IMiniportWaveRTStreamNotification;
    IMP_IMiniportWaveRTOutputStream;
    IMP_IMiniportWaveRTInputStream;

    /// From the ISR: the causes it acknowledged.
    void NoteInterrupt(UCHAR Causes) { InterlockedOr(&m_Pending, Causes); }
    /// From the DPC: position, end-of-stream silence, notification events.
    virtual void DeferredProcedure();

  protected:
    PUCHAR Reg(ULONG Offset) { return m_Miniport->Register(HDA_SD0 + HDA_SD_STRIDE * m_Descriptor + Offset); }
    NTSTATUS Allocate(ULONG Requested, ULONG Notifications, PMDL *Mdl, ULONG *ActualSize, ULONG *OffsetFromFirstPage, MEMORY_CACHING_TYPE *CacheType);
    BOOLEAN WriteBdl(ULONG PacketBytes, BOOLEAN Ioc);
    void Program();
    void ResetDescriptor();
    void Free();
    void SilenceAfterEndOfStream(ULONGLONG End, ULONGLONG Fetched);
    ULONGLONG LivePacketCount();

    CHdaMiniport *m_Miniport;
    ULONG m_Descriptor;
    BOOLEAN m_Capture;
    WAVEFORMATEX m_Format;
    USHORT m_Fmt;
    PPORTWAVERTSTREAM m_PortStream;
    volatile LONG m_Pending = 0;
    KSSTATE m_State = KSSTATE_STOP;

    PMDL m_Buffer = NULL;
    PUCHAR m_BufferMapping = NULL;
    ULONG m_BufferBytes = 0;
    ULONG m_NotificationCount = 0;
    PMDL m_Bdl = NULL;
    PUCHAR m_BdlMapping = NULL;
    ULONG m_BdlEntries = 0;
    CPacketTracker *m_Tracker = NULL;
    ULONG m_FifoBytes = 0;
    ULONGLONG m_SilencedUpTo = 0;
    ULONGLONG m_LastReadPacket = ~0ull;

    KSPIN_LOCK m_EventLock;
    PKEVENT m_Events[HDA_MAX_EVENTS] = {};
    ULONG m_EventCount = 0;
};

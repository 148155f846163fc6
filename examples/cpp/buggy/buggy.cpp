// A deliberately wrong C++ miniport: the `hda` example (../hda) with a
// stream whose DPC misbehaves, each bug caught by the emulator by name.
// Built from the hda sources and this file, with the bug chosen by a define:
//
//   wavert sdk build -o buggy.so examples/cpp/hda/minwavert.cpp examples/cpp/hda/minwavertstream.cpp \
//       examples/cpp/hda/NewDelete.cpp examples/cpp/buggy/buggy.cpp [-- -DBUGGY_...]
//
//   (default)                   calls IPortWaveRTStream::GetPhysicalPagesCount, a PASSIVE_LEVEL DDI,
//                               from its DPC: plays fine; the verifier reports IrqlTooHigh.
//   -DBUGGY_CRASH_AFTER_DPCS=N  writes through a NULL pointer in its Nth DPC: the emulator reports
//                               SIGSEGV, the DPC it was in, the last DDI and the backtrace.
//   -DBUGGY_ASSERT_AFTER_DPCS=N a failed ASSERT in its Nth DPC: reported with the assertion's text.
//   -DBUGGY_LEAK                forgets a pool allocation per stream: named by its tag at unload.
#include "../hda/hda.h"

#define BUGGY_LEAK_TAG 'kaeL'  // "Leak"

class CBuggyStream : public CHdaStream {
  public:
    using CHdaStream::CHdaStream;

    void DeferredProcedure() override {
        m_Dpcs++;
#if defined(BUGGY_CRASH_AFTER_DPCS)
        if (m_Dpcs == BUGGY_CRASH_AFTER_DPCS) {
            // BUG: a pointer that was never set.
            m_Scratch->FifoSize = m_FifoBytes;
        }
#elif defined(BUGGY_ASSERT_AFTER_DPCS)
        // BUG: an assumption that stops holding.
        ASSERT(m_Dpcs < BUGGY_ASSERT_AFTER_DPCS);
#else
        // BUG: every IPortWaveRTStream method is PASSIVE_LEVEL; a DPC runs at DISPATCH_LEVEL.
        if (m_Buffer) (void)m_PortStream->GetPhysicalPagesCount(m_Buffer);
#endif
        CHdaStream::DeferredProcedure();
    }

  private:
    ULONG m_Dpcs = 0;
    KSRTAUDIO_HWLATENCY *m_Scratch = NULL;
};

class CBuggyMiniport : public CHdaMiniport {
  public:
    CBuggyMiniport(PUNKNOWN Outer) : CHdaMiniport(Outer) {}

  protected:
    CHdaStream *CreateStream(ULONG Descriptor, BOOLEAN Capture, PWAVEFORMATEX Format, PPORTWAVERTSTREAM PortStream) override {
        PAGED_CODE();
#if defined(BUGGY_LEAK)
        // BUG: allocated for the stream, never freed.
        (void)ExAllocatePool2(POOL_FLAG_NON_PAGED, 256, BUGGY_LEAK_TAG);
#endif
        return new (POOL_FLAG_NON_PAGED, HDA_POOLTAG) CBuggyStream(NULL, this, Descriptor, Capture, Format, PortStream);
    }
};

#pragma code_seg("PAGE")
EXTERN_C NTSTATUS WaveRTCreateMiniport(PUNKNOWN *Unknown, PUNKNOWN UnknownOuter, POOL_FLAGS PoolFlags) {
    PAGED_CODE();
    CBuggyMiniport *miniport = new (PoolFlags, HDA_POOLTAG) CBuggyMiniport(UnknownOuter);
    if (!miniport) return STATUS_INSUFFICIENT_RESOURCES;
    *Unknown = PUNKNOWN(PMINIPORTWAVERT(miniport));
    (*Unknown)->AddRef();
    return STATUS_SUCCESS;
}
#pragma code_seg()

EXTERN_C const char *WaveRTMiniportHardware(void) { return "hda"; }

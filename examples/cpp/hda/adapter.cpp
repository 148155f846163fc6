// The library's entry points for the WaveRT emulator (on Windows, the
// adapter driver's CreateMiniportWaveRT and PcRegisterSubdevice do this).
#include "hda.h"

#pragma code_seg("PAGE")
EXTERN_C NTSTATUS WaveRTCreateMiniport(PUNKNOWN *Unknown, PUNKNOWN UnknownOuter, POOL_FLAGS PoolFlags) {
    PAGED_CODE();
    ASSERT(Unknown);
    CHdaMiniport *miniport = new (PoolFlags, HDA_POOLTAG) CHdaMiniport(UnknownOuter);
    if (!miniport) return STATUS_INSUFFICIENT_RESOURCES;
    *Unknown = PUNKNOWN(PMINIPORTWAVERT(miniport));
    (*Unknown)->AddRef();
    return STATUS_SUCCESS;
}

EXTERN_C const char *WaveRTMiniportHardware(void) { return "hda"; }
#pragma code_seg()

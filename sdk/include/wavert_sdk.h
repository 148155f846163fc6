// wavert_sdk.h: what a miniport library built for the WaveRT emulator
// exports, besides what the SDK runtime adds (included by portcls.h).
//
//   WaveRTCreateMiniport   required: creates the miniport object (what an
//                          adapter driver's CreateMiniportWaveRT* does), which
//                          must answer QueryInterface for IID_IMiniportWaveRT
//                          and IID_IMiniport. Called with the emulated machine
//                          running, at PASSIVE_LEVEL, before Init.
//   WaveRTMiniportHardware optional: "hda", "isa" or "sg", the hardware the
//                          miniport drives (`--hardware` overrides; default "hda").
#ifndef WAVERT_SDK_H
#define WAVERT_SDK_H

#define WAVERT_EXPORT __attribute__((visibility("default")))

EXTERN_C WAVERT_EXPORT NTSTATUS WaveRTCreateMiniport(_Out_ PUNKNOWN *Unknown, _In_opt_ PUNKNOWN UnknownOuter, _In_ POOL_FLAGS PoolFlags);
EXTERN_C WAVERT_EXPORT const char *WaveRTMiniportHardware(void);

/// True when compiled by the WaveRT SDK (for code shared with a Windows build).
#define WAVERT_EMULATOR 1
#endif

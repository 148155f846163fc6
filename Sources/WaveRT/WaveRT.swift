/// The WaveRT emulator's public face: `import WaveRT` brings in every layer.
///
/// - ``WaveRTMemory``: emulated physical memory, MDLs, the memory DDIs.
/// - ``WaveRTDMA``: DMA controller profiles, programs, faults.
/// - ``WaveRTEngine``: timebases, the virtual clock, schedulers, rings, formats, sinks.
/// - ``WaveRTHardware``: register-level HD Audio, 8237 + SB16, a generic bus master.
/// - ``WaveRTKernel``: the WDM DDIs a miniport calls, the verifier, the machine.
/// - ``WaveRTPort``: PortCls: the miniport interfaces, KS properties, adapters.
/// - ``WaveRTClient``: the Windows audio engine's client, sources, glitch monitor, sessions.
/// - ``WaveRTExamples``: the example miniports of `examples/`.
/// - ``WaveRTTiming``: timing scenarios, the Windows position checks, reports and plots.
/// - ``WaveRTALSA``: the ALSA sink and source.
/// - ``WaveRTSDK``: C++ miniports built against the WDK's headers, loaded and run.
/// - ``WaveRTRunner``: what `wavert play` and `record` do (and ``waveRTVersion``).
/// - ``WaveRTSoak``: what `wavert soak` does.
/// - ``WaveRTLoad``: many streams in real time beside a CPU hog, latency against a timer baseline.
@_exported import WaveRTMemory
@_exported import WaveRTDMA
@_exported import WaveRTEngine
@_exported import WaveRTHardware
@_exported import WaveRTKernel
@_exported import WaveRTPort
@_exported import WaveRTClient
@_exported import WaveRTExamples
@_exported import WaveRTTiming
@_exported import WaveRTALSA
@_exported import WaveRTRunner
@_exported import WaveRTSDK
@_exported import WaveRTSoak
@_exported import WaveRTLoad

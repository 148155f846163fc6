/// The WaveRT emulator's public face: `import WaveRT` brings in every layer.
///
/// - ``WaveRTMemory``: emulated physical memory, MDLs, the memory DDIs.
/// - ``WaveRTDMA``: emulated DMA controllers that consume MDLs.
/// - ``WaveRTEngine``: timebases and the cyclic buffer engine.
/// - ``WaveRTPort``: miniport protocols, the simulated port driver, the audio-engine client.
/// - ``WaveRTExamples``: the example miniports of `examples/`.
/// - ``WaveRTTiming``: timing scenarios, checks, reports and plots.
@_exported import WaveRTMemory
@_exported import WaveRTDMA
@_exported import WaveRTEngine
@_exported import WaveRTPort
@_exported import WaveRTExamples
@_exported import WaveRTTiming
@_exported import WaveRTALSA

/// The emulator's version, printed by `wavert --version`.
public let waveRTVersion = "0.1.0"

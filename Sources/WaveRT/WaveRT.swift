/// The WaveRT emulator's public face: `import WaveRT` brings in every layer.
///
/// - ``WaveRTMemory``: emulated physical memory, MDLs, the memory DDIs.
/// - ``WaveRTDMA``: emulated DMA controllers that consume MDLs.
/// - ``WaveRTEngine``: timebases and the cyclic buffer engine.
@_exported import WaveRTMemory
@_exported import WaveRTDMA
@_exported import WaveRTEngine

/// The emulator's version, printed by `wavert --version`.
public let waveRTVersion = "0.1.0"

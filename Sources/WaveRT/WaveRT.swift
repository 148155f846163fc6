/// The WaveRT emulator's public face: `import WaveRT` brings in every layer.
///
/// - ``WaveRTMemory``: emulated physical memory, MDLs, the memory DDIs.
@_exported import WaveRTMemory

/// The emulator's version, printed by `wavert --version`.
public let waveRTVersion = "0.1.0"

/// Automated timing tests for WaveRT miniports, measured from the client's
/// side the way Windows' own tests measure them (the KS Position Test,
/// Device.Audio.Base.SamplePositionAccuracy, wavetest), stricter figures
/// beside them, a JSON report and an SVG plot.
///
/// - ``TimingScenario``: the state changes over time and the clock.
/// - ``TimingSuite/run(miniport:setup:scenario:name:memory:progress:)``: runs a
///   miniport with a `StreamSetup` and returns a ``TimingReport``.
/// - ``TimingLimits``: the Windows floor and this project's figures.
/// - ``TimingReport/jsonData()``, ``TimingReport/svg``, ``TimingReport/table(terminal:)``.
public enum WaveRTTiming {}

/// Automated timing tests for WaveRT miniports: the checks Windows' own
/// position tests make (the KS Position Test, Device.Audio.Base.SamplePositionAccuracy,
/// wavetest), stricter figures beside them, a JSON report and an SVG plot.
///
/// - ``TimingScenario``: the stream, the client, the state changes, the clock.
/// - ``TimingSuite/run(miniport:profile:scenario:name:progress:)``: runs it and returns a ``TimingReport``.
/// - ``TimingLimits``: the Windows floor and this project's figures.
/// - ``TimingReport/jsonData()``, ``TimingReport/svg``, ``TimingReport/table(terminal:)``.
///
/// ```swift
/// let report = try TimingSuite.run(miniport: { MyMiniport() }, profile: .hda, scenario: TimingScenario())
/// try report.requirePass()
/// ```
public enum WaveRTTiming {}

/// Automated timing tests for WaveRT miniports: scenarios, the Windows position
/// checks (stricter), reports and plots. Filled in by issue 7.
public enum WaveRTTiming {}

import Testing
import WaveRTTestSupport

/// Every suite that runs in real time (threads at SCHED_FIFO priorities,
/// ALSA, the `wavert` executable) runs inside this one, one test at a time:
/// on a two-core machine, two emulated machines racing for the processors
/// would measure each other, not the code under test. The virtual-clock
/// suites of the other targets still run alongside.
@Suite(.serialized, .realTime) enum RealTime {}

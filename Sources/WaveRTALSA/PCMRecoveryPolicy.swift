/// How the ALSA writer (and the capture reader) wait for a suspended card (`-ESTRPIPE`): they ask
/// `snd_pcm_resume` again every ``resumeRetryNanoseconds`` while the card says
/// -EAGAIN, at most ``resumeAttempts`` times, then falls back to
/// `snd_pcm_prepare` (the queue discarded, frames lost counted).
///
/// Deliberate difference from `snd_pcm_recover(pcm, -ESTRPIPE, 1)`, which loops
/// on -EAGAIN with `sleep(1)` for as long as the card says so: the wait here is
/// bounded. The writer does not sleep itself: it returns
/// ``PCMWriter/Progress/retry(at:)`` and whoever steps it waits on its own
/// clock (the sink's thread on the monotonic clock, a test on virtual time).
/// The capture reader sleeps between tries in its own thread, which nothing waits on.
public struct PCMRecoveryPolicy: Sendable, Hashable {
    /// Calls to `snd_pcm_resume` that may answer -EAGAIN before the writer prepares instead.
    public let resumeAttempts: Int
    /// Time between them.
    public let resumeRetryNanoseconds: UInt64

    /// 50 tries 100 ms apart: a card gets 5 s to wake, as long as a laptop's resume takes.
    public static let standard = PCMRecoveryPolicy(uncheckedAttempts: 50, retry: 100_000_000)

    /// - Throws: ``ALSAError/configuration(reason:)`` naming the argument when
    ///   `resumeAttempts` is below 1 or `resumeRetryNanoseconds` is 0 (or above 10 s).
    public init(resumeAttempts: Int, resumeRetryNanoseconds: UInt64) throws(ALSAError) {
        guard resumeAttempts >= 1 else {
            throw .configuration(reason: "resumeAttempts must be at least 1 (snd_pcm_resume is asked once before preparing); got \(resumeAttempts)")
        }
        guard (1...10_000_000_000).contains(resumeRetryNanoseconds) else {
            throw .configuration(reason: "resumeRetryNanoseconds must be 1 ns to 10 s; got \(resumeRetryNanoseconds)")
        }
        self.init(uncheckedAttempts: resumeAttempts, retry: resumeRetryNanoseconds)
    }

    private init(uncheckedAttempts: Int, retry: UInt64) {
        resumeAttempts = uncheckedAttempts
        resumeRetryNanoseconds = retry
    }

    /// The longest a suspended card is waited for before the writer prepares it.
    public var longestWaitNanoseconds: UInt64 { UInt64(resumeAttempts - 1) * resumeRetryNanoseconds }
}

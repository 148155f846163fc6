/// Keeps a stream paced by the system clock in step with a sound card paced by
/// its own crystal (they drift by tens to hundreds of ppm): a PI controller on
/// the card's queue fill that sets the resampling ratio (output frames per
/// input frame), as PipeWire and JACK's adaptive resamplers do.
///
/// With gains kp and ki per frame of error, the loop's natural frequency is
/// sqrt(rate × ki) and its damping rate × kp / (2 ω): the defaults give about
/// 0.1 rad/s, damping 0.7, and a few hundred frames of transient error for a
/// 300 ppm step, with zero steady-state error (the integral absorbs the drift).
public struct DriftCompensator: Sendable {
    public private(set) var targetFrames: Double
    public let sampleRate: Double
    public var kp: Double
    public var ki: Double
    /// Largest correction, in ppm either way (well beyond any real crystal).
    public var limitPPM: Double = 2_000
    private var integral: Double = 0
    private var smoothed: Double?

    public init(targetFrames: Int, sampleRate: Int, kp: Double = 3e-6, ki: Double = 2e-7) {
        self.targetFrames = Double(targetFrames)
        self.sampleRate = Double(sampleRate)
        self.kp = kp
        self.ki = ki
    }

    /// The current ratio, from the last update.
    public private(set) var ratio: Double = 1

    /// Holds the queue at `frames` from now on: where the card started it.
    /// The loop's job is the drift, not the latency; steering a card that
    /// started 1,000 frames off target back to it would glide the pitch by the
    /// full correction limit for seconds. The integral (the drift learnt) is kept.
    public mutating func hold(at frames: Int) {
        targetFrames = Double(frames)
        smoothed = nil
    }

    /// Forgets the smoothed fill (after an underrun the queue starts over) but
    /// keeps the integral: the crystals drift as they did before.
    public mutating func restartMeasurement() {
        smoothed = nil
    }

    /// Feeds one measurement of the frames queued in the card, `elapsed` seconds
    /// after the previous one; returns the new ratio.
    public mutating func update(queuedFrames: Int, elapsed: Double) -> Double {
        // A first-order low-pass (time constant 0.5 s) takes out period-sized jitter.
        let alpha = min(1, elapsed / 0.5)
        let s = smoothed.map { $0 + alpha * (Double(queuedFrames) - $0) } ?? Double(queuedFrames)
        smoothed = s
        let error = s - targetFrames  // too full: produce fewer frames
        integral += error * elapsed
        let limit = limitPPM * 1e-6
        integral = min(max(integral, -limit / ki), limit / ki)  // no wind-up past the limit
        ratio = 1 - min(max(kp * error + ki * integral, -limit), limit)
        return ratio
    }
}

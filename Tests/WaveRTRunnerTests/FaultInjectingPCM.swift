import Glibc
import Synchronization
import WaveRTALSA
import WaveRTEngine

/// A real ALSA PCM (`null`, or `file` over `null`) behind the writer's
/// ``PCMDevice`` boundary, with faults injected by schedule: ALSA's plugins
/// never underrun, suspend or vanish, so at the scheduled `snd_pcm_writei` the
/// card's answer is simulated here, and everything else (the writes before and
/// after, `snd_pcm_prepare`, the drain, the file plugin's WAV) is real libasound.
final class FaultInjectingPCM: PCMDevice, @unchecked Sendable {
    enum Fault: Sendable {
        /// -EPIPE once; until prepared, `snd_pcm_delay` says the card held `heldFrames`.
        case underrun(heldFrames: Int)
        /// -ESTRPIPE until resumed or prepared; `snd_pcm_resume` says -EAGAIN
        /// `busyResumes` times, then `resumeResult` (0, or e.g. -ENOSYS: cannot resume);
        /// until prepared, `snd_pcm_delay` says the card held `heldFrames`.
        case suspend(busyResumes: Int, resumeResult: Int32, heldFrames: Int)
        /// The device is gone (unplugged, driver unbound): this and every later call fails with -errno.
        case vanish(errno: Int32)
    }

    private enum State { case playing, xrun(held: Int), suspended(busyLeft: Int, result: Int32, held: Int), gone(Int32) }

    struct Calls: Sendable {
        var writes = 0
        var faultsInjected = 0
        /// Host times (ns) of each `snd_pcm_resume`.
        var resumes: [UInt64] = []
        var prepares = 0
        var realPrepareResults: [Int32] = []
    }

    let inner: ALSAPCM
    private let schedule: [Int: Fault]
    private let state = Mutex<(State, Calls)>((.playing, Calls()))

    /// - Parameter schedule: the 1-based index of the `snd_pcm_writei` call each fault answers.
    init(_ inner: ALSAPCM, schedule: [Int: Fault]) {
        self.inner = inner
        self.schedule = schedule
    }

    var calls: Calls { state.withLock { $0.1 } }
    var name: String { inner.name }
    var periodFrames: Int { inner.periodFrames }
    var bufferFrames: Int { inner.bufferFrames }

    func write(_ frames: UnsafeRawPointer, count: Int) -> Int {
        let answer: Int? = state.withLock { s in
            s.1.writes += 1
            switch s.0 {
            case .gone(let e): return -Int(e)
            case .xrun: return -Int(EPIPE)
            case .suspended: return -Int(ESTRPIPE)
            case .playing: break
            }
            guard let fault = schedule[s.1.writes] else { return nil }
            s.1.faultsInjected += 1
            switch fault {
            case .underrun(let held):
                s.0 = .xrun(held: held)
                return -Int(EPIPE)
            case .suspend(let busy, let result, let held):
                s.0 = .suspended(busyLeft: busy, result: result, held: held)
                return -Int(ESTRPIPE)
            case .vanish(let e):
                s.0 = .gone(e)
                return -Int(e)
            }
        }
        return answer ?? inner.write(frames, count: count)
    }

    func resume() -> Int32 {
        state.withLock { s in
            s.1.resumes.append(MonotonicTimebase.shared.now)
            switch s.0 {
            case .gone(let e): return -e
            case .suspended(let busy, let result, let held):
                if busy > 0 {
                    s.0 = .suspended(busyLeft: busy - 1, result: result, held: held)
                    return -EAGAIN
                }
                if result == 0 { s.0 = .playing }  // the card runs on; the real PCM never stopped
                return result
            default:
                return -EBADFD  // ALSA: snd_pcm_resume on a PCM that is not suspended
            }
        }
    }

    func prepare() -> Int32 {
        let gone: Int32? = state.withLock { s in
            s.1.prepares += 1
            if case .gone(let e) = s.0 { return e }
            return nil
        }
        if let gone { return -gone }
        let rc = inner.prepare()  // real snd_pcm_prepare on the plugin
        state.withLock { s in
            s.1.realPrepareResults.append(rc)
            if rc == 0 { s.0 = .playing }
        }
        return rc
    }

    func delay() -> Int? {
        let simulated: Int?? = state.withLock { s in
            switch s.0 {
            case .gone: return .some(nil)
            case .xrun(let held), .suspended(_, _, let held): return .some(held)
            case .playing: return nil
            }
        }
        if let simulated { return simulated }
        return inner.delay()
    }

    func drain() {
        let gone = state.withLock { s in if case .gone = s.0 { return true } else { return false } }
        if !gone { inner.drain() }
    }
}

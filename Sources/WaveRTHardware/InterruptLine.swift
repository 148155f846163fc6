import Synchronization
import WaveRTEngine

/// What drives an interrupt line: a device whose status and enable bits make
/// the line's level.
public protocol InterruptSource: AnyObject, Sendable {
    /// The line's level now, from the device's registers. Lock-free, any thread.
    var interruptLevel: Bool { get }
}

/// A level-triggered interrupt line (legacy INTx, an ISA IRQ). Its level is
/// not stored: it is the device's ``InterruptSource/interruptLevel``, computed
/// when the interrupt controller samples it, so it stays asserted exactly as
/// long as the cause does and no interleaving of register writes can leave it
/// stale. The kernel samples it in each processor pass and calls the
/// connected ISRs while it is high.
///
/// A device calls ``signal()`` after anything that may have raised the level
/// (status set in a pass, an interrupt enabled by a register write from any
/// thread): it wakes the processor so the interrupt is taken promptly.
public final class InterruptLine: @unchecked Sendable {
    /// The line's name in diagnostics and traces ("hda", "IRQ5").
    public let name: String
    /// Set once each, before use; held in boxes so a call borrows the closure instead of retaining it.
    private let level: UnsafeMutablePointer<Unmanaged<Callback<Bool>>?>
    private let wake: UnsafeMutablePointer<Unmanaged<Callback<Void>>?>
    private let signals = Atomic<UInt64>(0)

    final class Callback<R>: @unchecked Sendable {
        let call: @Sendable () -> R
        init(_ call: @escaping @Sendable () -> R) { self.call = call }
    }

    public init(name: String) {
        self.name = name
        level = .allocate(capacity: 1)
        level.initialize(to: nil)
        wake = .allocate(capacity: 1)
        wake.initialize(to: nil)
    }

    deinit {
        level.pointee?.release()
        wake.pointee?.release()
        level.deallocate()
        wake.deallocate()
    }

    /// Wires the device that drives the line (once, when the device is built;
    /// the device owns the line, so this holds it unretained).
    public func drive<Source: InterruptSource>(from source: Source) {
        let device = Unmanaged.passUnretained(source)
        level.pointee?.release()
        level.pointee = .passRetained(Callback { device._withUnsafeGuaranteedRef { $0.interruptLevel } })
    }

    /// Wires the interrupt controller's wake-up (once, when the line is connected, before it is used).
    public func setWakeHandler(_ handler: @escaping @Sendable () -> Void) {
        wake.pointee?.release()
        wake.pointee = .passRetained(Callback(handler))
    }

    /// Whether the line is asserted now. Real-time safe.
    @inline(__always)
    public var isAsserted: Bool { level.pointee?._withUnsafeGuaranteedRef { $0.call() } ?? false }

    /// The device changed something that may have raised the level: wake the processor if it is high.
    @inline(__always)
    public func signal() {
        signals.add(1, ordering: .relaxed)
        if isAsserted { wake.pointee?._withUnsafeGuaranteedRef { $0.call() } }
    }

    /// Signals so far (a figure for tests).
    public var signalCount: UInt64 { signals.load(ordering: .relaxed) }
}

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
    private let sourceStorage: UnsafeMutablePointer<Unmanaged<AnyObject>?>
    private let levelFunction: UnsafeMutablePointer<(@Sendable () -> Bool)?>
    private let wake: UnsafeMutablePointer<(@Sendable () -> Void)?>
    private let signals = Atomic<UInt64>(0)

    public init(name: String) {
        self.name = name
        sourceStorage = .allocate(capacity: 1)
        sourceStorage.initialize(to: nil)
        levelFunction = .allocate(capacity: 1)
        levelFunction.initialize(to: nil)
        wake = .allocate(capacity: 1)
        wake.initialize(to: nil)
    }

    deinit {
        sourceStorage.deinitialize(count: 1)
        sourceStorage.deallocate()
        levelFunction.deinitialize(count: 1)
        levelFunction.deallocate()
        wake.deinitialize(count: 1)
        wake.deallocate()
    }

    /// Wires the device that drives the line (once, when the device is built;
    /// the device owns the line, so this holds it unretained).
    public func drive(from source: some InterruptSource) {
        sourceStorage.pointee = Unmanaged.passUnretained(source as AnyObject)
        levelFunction.pointee = { [unowned(unsafe) source] in source.interruptLevel }
    }

    /// Wires the interrupt controller's wake-up (once, when the line is connected, before it is used).
    public func setWakeHandler(_ handler: @escaping @Sendable () -> Void) {
        wake.pointee = handler
    }

    /// Whether the line is asserted now. Real-time safe.
    @inline(__always)
    public var isAsserted: Bool { levelFunction.pointee?() ?? false }

    /// The device changed something that may have raised the level: wake the processor if it is high.
    @inline(__always)
    public func signal() {
        signals.add(1, ordering: .relaxed)
        if isAsserted { wake.pointee?() }
    }

    /// Signals so far (a figure for tests).
    public var signalCount: UInt64 { signals.load(ordering: .relaxed) }
}

import WaveRTEngine

/// Fans a device's DMA transfers out to the observers attached to it (glitch
/// monitors, traces), lock-free: observers are added and removed on the
/// control path and called on the processor's pass.
public final class DMAObserverHub: DMAStreamObserver, @unchecked Sendable {
    private let observers: SlotTable<Box>

    final class Box: @unchecked Sendable {
        let observer: any DMAStreamObserver
        init(_ observer: any DMAStreamObserver) { self.observer = observer }
    }

    public init(passGuard: PassGuard) { observers = SlotTable(capacity: 16, passGuard: passGuard) }

    /// Adds `observer` (once: adding it again does nothing).
    public func add(_ observer: any DMAStreamObserver) {
        guard !observers.elements.contains(where: { $0.observer === observer }) else { return }
        observers.insert(Box(observer))
    }

    /// Removes `observer`; when this returns (on the control path) no pass is calling it.
    public func remove(_ observer: any DMAStreamObserver) {
        for box in observers.elements where box.observer === observer { observers.remove(box) }
    }

    public func transferred(_ stream: DMAStream, linearStart: UInt64, bytes: Int, at now: UInt64, data: UnsafeRawBufferPointer) {
        observers.forEach { $0.observer.transferred(stream, linearStart: linearStart, bytes: bytes, at: now, data: data) }
    }
}

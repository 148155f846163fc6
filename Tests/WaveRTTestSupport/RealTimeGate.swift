import Testing

/// `@Suite(.realTime)` / `@Test(.realTime)`: the suite or test runs alone among
/// every other one so marked, in the whole test process, whatever target it is
/// in. Real-time tests run emulated processors and clients at SCHED_FIFO
/// priorities and judge what real time shows; on a two-core machine two of
/// them at once would measure each other, not the code under test. Tests on
/// the virtual clock still run alongside (they run at normal priority, which
/// SCHED_FIFO threads preempt).
public struct RealTimeTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { false }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // Inside a marked suite, its marked tests already hold the gate.
        if RealTimeGate.isHeld { return try await function() }
        try await RealTimeGate.shared.run {
            try await RealTimeGate.$isHeld.withValue(true) { try await function() }
        }
    }
}

extension Trait where Self == RealTimeTrait {
    /// Runs alone among the process's real-time suites and tests.
    public static var realTime: Self { RealTimeTrait() }

    /// Runs apart from the real-time suites, though on the virtual clock: a
    /// suite that makes and tears down emulated machines by the thousand (each
    /// maps and unmaps its physical memory), whose system calls a kernel built
    /// without preemption does not interrupt for a SCHED_FIFO thread, so a
    /// real-time test beside it would measure those stalls, not its code.
    public static var apartFromRealTime: Self { RealTimeTrait() }
}

/// A first-come, first-served async gate: one holder at a time, waiters suspended (not blocking threads).
actor RealTimeGate {
    static let shared = RealTimeGate()
    /// Whether the current task runs inside the gate.
    @TaskLocal static var isHeld = false
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func run(_ body: @Sendable () async throws -> Void) async throws {
        if held {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            held = true
        }
        defer {
            if waiters.isEmpty { held = false } else { waiters.removeFirst().resume() }
        }
        try await body()
    }
}

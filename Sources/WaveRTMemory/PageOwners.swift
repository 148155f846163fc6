import Glibc
import Synchronization

/// Which allocation owns a physical page: 0 for a free page, 1 for the
/// simulated rest of the system (``PhysicalMemory/fragment(seed:occupancy:longestFreeRunPages:)``),
/// and a number of its own for every MDL or contiguous block.
public typealias PageOwnerID = UInt32

extension PageOwnerID {
    public static let freePage: PageOwnerID = 0
    public static let systemPages: PageOwnerID = 1
}

/// The owner of every page frame, readable without a lock from any thread.
///
/// It is what lets a DMA engine check, around every copy, that the pages it
/// was programmed with still belong to the allocation they belonged to then:
/// the memory manager clears a page's owner before it frees it, and waits for
/// transfers in flight (``DMATransferGate``) before the page can be handed to
/// anyone else. The table is an anonymous `MAP_NORESERVE` mapping, so only the
/// parts of it that describe used pages cost host memory.
final class PageOwnerTable: @unchecked Sendable {
    let pageCount: Int
    private let words: UnsafeMutablePointer<Atomic<UInt32>>
    private let byteCount: Int

    init(pageCount: Int) {
        self.pageCount = pageCount
        byteCount = pageCount * MemoryLayout<Atomic<UInt32>>.stride
        let raw = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        precondition(raw != nil && raw != MAP_FAILED, "cannot reserve the page owner table")
        // Zero-filled by the kernel: every page starts free (owner 0), which is
        // what an Atomic<UInt32> holding 0 looks like in memory.
        words = raw!.bindMemory(to: Atomic<UInt32>.self, capacity: pageCount)
    }

    deinit { munmap(UnsafeMutableRawPointer(words), byteCount) }

    @inline(__always)
    func owner(of page: Int) -> PageOwnerID {
        guard page >= 0 && page < pageCount else { return .freePage }
        return words[page].load(ordering: .sequentiallyConsistent)
    }

    func set(_ pages: Range<Int>, to owner: PageOwnerID) {
        for p in pages where p >= 0 && p < pageCount { words[p].store(owner, ordering: .sequentiallyConsistent) }
    }
}

/// Brackets a DMA engine's transfers so the memory manager can wait them out
/// (a quiescent-state counter: odd while a transfer runs).
///
/// A transfer ``enter()``s, checks each page's owner, copies, and ``exit()``s.
/// Freeing pages clears their owners first and then waits, for every gate,
/// until the transfer that was running (if any) has ended. A transfer that
/// started before the owners were cleared is finished before the pages can be
/// reused; one that started after sees the cleared owners and does not touch
/// them. Entering and leaving are two atomic increments: real-time safe.
public final class DMATransferGate: @unchecked Sendable {
    private let sequence = Atomic<UInt64>(0)
    private let runningFlag = Atomic<Bool>(false)
    private let frames = Mutex<[Range<UInt64>]>([])

    public init() {}

    /// The page frames the engine's program covers (set when it is programmed).
    public func setFrames(_ ranges: [Range<UInt64>]) { frames.withLock { $0 = ranges } }
    /// Whether the engine is moving data now (set by the device).
    public var isRunning: Bool {
        get { runningFlag.load(ordering: .acquiring) }
        set { runningFlag.store(newValue, ordering: .releasing) }
    }
    func covers(_ frame: UInt64) -> Bool { frames.withLock { $0.contains { $0.contains(frame) } } }

    @inline(__always) public func enter() { sequence.add(1, ordering: .sequentiallyConsistent) }
    @inline(__always) public func exit() { sequence.add(1, ordering: .sequentiallyConsistent) }

    /// Waits until the transfer running now (if any) has ended.
    func waitForTransferInFlight() {
        let seen = sequence.load(ordering: .sequentiallyConsistent)
        guard seen & 1 == 1 else { return }
        while sequence.load(ordering: .sequentiallyConsistent) == seen { _ = sched_yield() }
    }
}

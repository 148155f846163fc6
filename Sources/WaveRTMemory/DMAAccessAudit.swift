import Synchronization

/// The emulated memory's own account of device accesses: a witness, kept apart
/// from the device models' checks, that no DMA engine ever reads or writes a
/// byte outside allocated emulated RAM (the class of QEMU's CVE-2021-3611, an
/// HD Audio DMA reaching its own registers, and the ES1370 out-of-bounds
/// buffer). There is no such DDI: it is the emulator's bookkeeping, what a
/// hypervisor's IOMMU fault log would be.
///
/// Off by default (one relaxed load per copy). When ``isEnabled``, every copy a
/// device makes through ``PhysicalMemory/physicalView`` (DMA data, BDL and
/// descriptor-table fetches, the HD Audio position buffer) is checked page by
/// page: inside the address space, RAM, and allocated. One that is not is a
/// ``violationCount``; a transfer the device refused to make (open bus, a free
/// or reassigned page) is a ``refusedCount``, which the device must also have
/// counted as a fault. Lock-free and allocation-free: called on the real-time path.
public final class DMAAccessAudit: @unchecked Sendable {
    private let enabled = Atomic<Bool>(false)
    private let checked = Atomic<UInt64>(0)
    private let checkedBytes = Atomic<UInt64>(0)
    private let refused = Atomic<UInt64>(0)
    private let violations = Atomic<UInt64>(0)
    private let lastViolationAddress = Atomic<UInt64>(0)
    private let lastViolationLength = Atomic<Int>(0)
    private let map: PhysicalMemoryMap
    private let owners: PageOwnerTable

    init(map: PhysicalMemoryMap, owners: PageOwnerTable) {
        self.map = map
        self.owners = owners
    }

    /// Whether copies are checked (a fuzzer or a test turns it on).
    public var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }

    /// Records a copy of `count` bytes at physical `address` a device is about
    /// to make (`write`: into memory). Returns whether every page was allocated RAM.
    @discardableResult @inline(__always)
    public func access(_ address: UInt64, count: Int, write: Bool) -> Bool {
        guard enabled.load(ordering: .relaxed), count > 0 else { return true }
        checked.add(1, ordering: .relaxed)
        checkedBytes.add(UInt64(count), ordering: .relaxed)
        let (last, overflow) = address.addingReportingOverflow(UInt64(count - 1))
        var ok = !overflow && last < map.end.rawValue
        if ok {
            let ps = UInt64(map.pageSize)
            var page = address / ps
            while page <= last / ps {
                if !map.isRAM(PhysicalAddress(page * ps)) || owners.owner(of: Int(page)) == .freePage {
                    ok = false
                    break
                }
                page += 1
            }
        }
        if !ok {
            violations.add(1, ordering: .relaxed)
            lastViolationAddress.store(address, ordering: .relaxed)
            lastViolationLength.store(count, ordering: .relaxed)
        }
        return ok
    }

    /// Records a transfer a device did not make because its target was not usable RAM.
    @inline(__always)
    public func refusal() {
        guard enabled.load(ordering: .relaxed) else { return }
        refused.add(1, ordering: .relaxed)
    }

    /// Copies checked, and their bytes.
    public var accessCount: UInt64 { checked.load(ordering: .relaxed) }
    public var accessBytes: UInt64 { checkedBytes.load(ordering: .relaxed) }
    /// Transfers refused (each also a device-counted fault).
    public var refusedCount: UInt64 { refused.load(ordering: .relaxed) }
    /// Copies that touched a byte outside allocated RAM: must stay 0.
    public var violationCount: UInt64 { violations.load(ordering: .relaxed) }

    /// "N copies outside allocated RAM (last: 64 bytes at 0x…)", or nil.
    public var violationSummary: String? {
        let n = violationCount
        guard n > 0 else { return nil }
        return "\(n) device cop\(n == 1 ? "y" : "ies") outside allocated RAM (last: \(lastViolationLength.load(ordering: .relaxed)) bytes at 0x\(String(lastViolationAddress.load(ordering: .relaxed), radix: 16)))"
    }
}

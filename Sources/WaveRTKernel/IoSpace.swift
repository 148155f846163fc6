import CWaveRTShim
import Glibc
import Synchronization
import WaveRTHardware
import WaveRTMemory

/// The machine's system-space mappings of device registers (what
/// MmMapIoSpace returns), and the register and port accessors over them.
///
/// A mapping is a range of host addresses reserved with no access rights, so
/// the address is unique and a plain load or store through it faults at once
/// instead of touching anything; READ_/WRITE_REGISTER_* find the device
/// register behind an address here (a scan of a few entries, lock-free).
public final class IoSpace: @unchecked Sendable {
    public static let capacity = 32

    /// One mapping. Boxed so a register access borrows it (no reference counting on the access path).
    final class Mapping: @unchecked Sendable {
        let base: UInt
        let length: Int
        let block: any RegisterBlock
        let blockOffset: Int
        init(base: UInt, length: Int, block: any RegisterBlock, blockOffset: Int) {
            self.base = base
            self.length = length
            self.block = block
            self.blockOffset = blockOffset
        }
    }

    /// Bits of a retained `Mapping` per slot, 0 when free.
    private let slots: UnsafeMutablePointer<Atomic<UInt>>
    private let highWater = Atomic<Int>(0)
    /// Unmapped mappings: kept (and their address reservations too) until the machine goes,
    /// so a racing access or a stale pointer never reaches freed memory or a reused address.
    private let control = Mutex<[Unmanaged<Mapping>]>([])

    init() {
        slots = .allocate(capacity: Self.capacity)
        for i in 0..<Self.capacity { (slots + i).initialize(to: Atomic(0)) }
    }

    deinit {
        var all = control.withLock { $0 }
        for i in 0..<Self.capacity {
            let bits = slots[i].load(ordering: .relaxed)
            if bits != 0 { all.append(Unmanaged<Mapping>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)) }
        }
        for m in all {
            let mapping = m.takeRetainedValue()
            munmap(UnsafeMutableRawPointer(bitPattern: mapping.base), mapping.length)
        }
        slots.deinitialize(count: Self.capacity)
        slots.deallocate()
    }

    func map(_ block: any RegisterBlock, blockOffset: Int, length: Int) -> UnsafeMutableRawPointer? {
        control.withLock { _ in
            guard let slot = (0..<Self.capacity).first(where: { slots[$0].load(ordering: .relaxed) == 0 }) else { return nil }
            guard let va = mmap(nil, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), va != MAP_FAILED else { return nil }
            let mapping = Unmanaged.passRetained(Mapping(base: UInt(bitPattern: va), length: length, block: block, blockOffset: blockOffset))
            slots[slot].store(UInt(bitPattern: mapping.toOpaque()), ordering: .releasing)
            if slot >= highWater.load(ordering: .relaxed) { highWater.store(slot + 1, ordering: .releasing) }
            return va
        }
    }

    func unmap(_ base: UnsafeMutableRawPointer) -> Bool {
        control.withLock { retired in
            let address = UInt(bitPattern: base)
            for i in 0..<highWater.load(ordering: .relaxed) {
                let bits = slots[i].load(ordering: .relaxed)
                guard bits != 0 else { continue }
                let m = Unmanaged<Mapping>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
                guard m._withUnsafeGuaranteedRef({ $0.base == address }) else { continue }
                slots[i].store(0, ordering: .releasing)
                retired.append(m)
                return true
            }
            return false
        }
    }

    /// Calls `body` with the register block and offset behind a mapped address
    /// (borrowed; lock-free, allocation-free), or returns nil when nothing is mapped there.
    @inline(__always)
    package func withRegister<R>(at address: UnsafeRawPointer, _ body: (any RegisterBlock, Int) -> R) -> R? {
        let a = UInt(bitPattern: address)
        let n = highWater.load(ordering: .acquiring)
        var i = 0
        while i < n {
            let bits = slots[i].load(ordering: .acquiring)
            if bits != 0 {
                let hit: R? = Unmanaged<Mapping>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)._withUnsafeGuaranteedRef { m in
                    guard a >= m.base, a < m.base + UInt(m.length) else { return nil }
                    return body(m.block, m.blockOffset + Int(a - m.base))
                }
                if let hit { return hit }
            }
            i += 1
        }
        return nil
    }

    /// The register block and offset behind a mapped address (control path).
    package func resolve(_ address: UnsafeRawPointer) -> (any RegisterBlock, Int)? {
        withRegister(at: address) { ($0, $1) }
    }

    /// Mappings still in place (for the teardown leak check).
    public var liveMappings: Int { (0..<highWater.load(ordering: .acquiring)).filter { slots[$0].load(ordering: .acquiring) != 0 }.count }
}

/// `MmMapIoSpace(PhysicalAddress, NumberOfBytes, CacheType)`: a system-space
/// address for device registers (a BAR from the resource list). NULL when no
/// device decodes the whole range, with the verifier finding
/// MapIoSpaceOutsideDevice naming the address (a deliberate difference:
/// Windows maps whatever physical range it is given; the emulator maps only
/// devices' registers, so a wrong address is said rather than read as all
/// ones). NULL without a finding for a length of 0 or less. ≤ DISPATCH_LEVEL.
public func mmMapIoSpace(_ physicalAddress: PhysicalAddress, _ numberOfBytes: Int, _ cacheType: MemoryCachingType) -> UnsafeMutableRawPointer? {
    checkIrql(atMost: Irql.dispatchLevel, "MmMapIoSpace")
    guard let machine = Machine.current, numberOfBytes > 0 else { return nil }
    guard let (block, offset, _) = machine.bus.memoryBlock(at: physicalAddress),
          numberOfBytes <= block.size - offset else {
        Verifier.record(.mapIoSpaceOutsideDevice, "MmMapIoSpace", detail: physicalAddress.rawValue)
        return nil
    }
    return machine.ioSpace.map(block, blockOffset: offset, length: numberOfBytes)
}

/// `MmMapIoSpaceEx(PhysicalAddress, NumberOfBytes, Protect)`: as MmMapIoSpace (PAGE_NOCACHE | PAGE_READWRITE).
public func mmMapIoSpaceEx(_ physicalAddress: PhysicalAddress, _ numberOfBytes: Int, _ protect: UInt32) -> UnsafeMutableRawPointer? {
    checkIrql(atMost: Irql.dispatchLevel, "MmMapIoSpaceEx")
    return mmMapIoSpace(physicalAddress, numberOfBytes, .nonCached)
}

/// `MmUnmapIoSpace(BaseAddress, NumberOfBytes)`. ≤ DISPATCH_LEVEL.
public func mmUnmapIoSpace(_ baseAddress: UnsafeMutableRawPointer, _ numberOfBytes: Int) {
    checkIrql(atMost: Irql.dispatchLevel, "MmUnmapIoSpace")
    if Machine.current?.ioSpace.unmap(baseAddress) != true { Verifier.record(.unmapWithoutMap, "MmUnmapIoSpace") }
}

@inline(__always)
private func registerRead(_ address: UnsafeRawPointer, _ width: AccessWidth, _ ddi: StaticString) -> UInt64 {
    let value = Machine.withCurrentBorrowed { machine in
        machine.ioSpace.withRegister(at: address) { block, offset in block.read(offset: offset, width: width) }
    }
    guard let value, let value else {
        Verifier.record(.unmappedRegister, ddi, detail: UInt64(UInt(bitPattern: address)))
        return width.mask
    }
    return value
}

@inline(__always)
private func registerWrite(_ address: UnsafeRawPointer, _ width: AccessWidth, _ value: UInt64, _ ddi: StaticString) {
    let done = Machine.withCurrentBorrowed { machine in
        machine.ioSpace.withRegister(at: address) { block, offset in
            block.write(offset: offset, width: width, value: value)
            machine.registerWritten()
        }
    }
    guard let done, done != nil else {
        return Verifier.record(.unmappedRegister, ddi, detail: UInt64(UInt(bitPattern: address)))
    }
}

/// `READ_REGISTER_UCHAR(Register)`. Any IRQL.
@inline(__always) public func readRegisterUchar(_ register: UnsafeRawPointer) -> UInt8 {
    UInt8(truncatingIfNeeded: registerRead(register, .byte, "READ_REGISTER_UCHAR"))
}
/// `READ_REGISTER_USHORT(Register)`.
@inline(__always) public func readRegisterUshort(_ register: UnsafeRawPointer) -> UInt16 {
    UInt16(truncatingIfNeeded: registerRead(register, .word, "READ_REGISTER_USHORT"))
}
/// `READ_REGISTER_ULONG(Register)`.
@inline(__always) public func readRegisterUlong(_ register: UnsafeRawPointer) -> UInt32 {
    UInt32(truncatingIfNeeded: registerRead(register, .dword, "READ_REGISTER_ULONG"))
}
/// `READ_REGISTER_ULONG64(Register)`.
@inline(__always) public func readRegisterUlong64(_ register: UnsafeRawPointer) -> UInt64 {
    registerRead(register, .qword, "READ_REGISTER_ULONG64")
}
/// `WRITE_REGISTER_UCHAR(Register, Value)`.
@inline(__always) public func writeRegisterUchar(_ register: UnsafeRawPointer, _ value: UInt8) {
    registerWrite(register, .byte, UInt64(value), "WRITE_REGISTER_UCHAR")
}
/// `WRITE_REGISTER_USHORT(Register, Value)`.
@inline(__always) public func writeRegisterUshort(_ register: UnsafeRawPointer, _ value: UInt16) {
    registerWrite(register, .word, UInt64(value), "WRITE_REGISTER_USHORT")
}
/// `WRITE_REGISTER_ULONG(Register, Value)`.
@inline(__always) public func writeRegisterUlong(_ register: UnsafeRawPointer, _ value: UInt32) {
    registerWrite(register, .dword, UInt64(value), "WRITE_REGISTER_ULONG")
}
/// `WRITE_REGISTER_ULONG64(Register, Value)`.
@inline(__always) public func writeRegisterUlong64(_ register: UnsafeRawPointer, _ value: UInt64) {
    registerWrite(register, .qword, value, "WRITE_REGISTER_ULONG64")
}

/// An I/O port as the WDK passes it (`PUCHAR Port`): the port number in the pointer's bits.
@inline(__always) func portNumber(_ port: UnsafeRawPointer?) -> UInt16 { UInt16(truncatingIfNeeded: UInt(bitPattern: port)) }

@inline(__always)
private func portRead(_ port: UnsafeRawPointer?, _ width: AccessWidth) -> UInt64 {
    Machine.withCurrentBorrowed { $0.bus.readPort(portNumber(port), width: width) } ?? width.mask
}

@inline(__always)
private func portWrite(_ port: UnsafeRawPointer?, _ width: AccessWidth, _ value: UInt64) {
    Machine.withCurrentBorrowed { machine in
        machine.bus.writePort(portNumber(port), width: width, value: value)
        machine.registerWritten()
    }
}

/// `READ_PORT_UCHAR(Port)`. Any IRQL.
@inline(__always) public func readPortUchar(_ port: UnsafeRawPointer?) -> UInt8 { UInt8(truncatingIfNeeded: portRead(port, .byte)) }
/// `READ_PORT_USHORT(Port)`.
@inline(__always) public func readPortUshort(_ port: UnsafeRawPointer?) -> UInt16 { UInt16(truncatingIfNeeded: portRead(port, .word)) }
/// `READ_PORT_ULONG(Port)`.
@inline(__always) public func readPortUlong(_ port: UnsafeRawPointer?) -> UInt32 { UInt32(truncatingIfNeeded: portRead(port, .dword)) }
/// `WRITE_PORT_UCHAR(Port, Value)`.
@inline(__always) public func writePortUchar(_ port: UnsafeRawPointer?, _ value: UInt8) { portWrite(port, .byte, UInt64(value)) }
/// `WRITE_PORT_USHORT(Port, Value)`.
@inline(__always) public func writePortUshort(_ port: UnsafeRawPointer?, _ value: UInt16) { portWrite(port, .word, UInt64(value)) }
/// `WRITE_PORT_ULONG(Port, Value)`.
@inline(__always) public func writePortUlong(_ port: UnsafeRawPointer?, _ value: UInt32) { portWrite(port, .dword, UInt64(value)) }

/// A port number as the pointer READ_/WRITE_PORT_* take (`(PUCHAR)Port.QuadPart`; port 0 is NULL, as in C).
public func portAddress(_ port: UInt16) -> UnsafeRawPointer? { UnsafeRawPointer(bitPattern: UInt(port)) }

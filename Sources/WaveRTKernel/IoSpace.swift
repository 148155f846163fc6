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

    struct Entry: Sendable {
        var base: UInt
        var length: Int
        var block: any RegisterBlock
        var blockOffset: Int
    }

    private let entries: UnsafeMutablePointer<Entry?>
    private let live: UnsafeMutablePointer<Atomic<Bool>>
    private let highWater = Atomic<Int>(0)
    private let control = Mutex<Void>(())

    init() {
        entries = .allocate(capacity: Self.capacity)
        entries.initialize(repeating: nil, count: Self.capacity)
        live = .allocate(capacity: Self.capacity)
        for i in 0..<Self.capacity { (live + i).initialize(to: Atomic(false)) }
    }

    deinit {
        for i in 0..<Self.capacity { if let e = entries[i], live[i].load(ordering: .relaxed) { munmap(UnsafeMutableRawPointer(bitPattern: e.base), e.length) } }
        entries.deinitialize(count: Self.capacity)
        entries.deallocate()
        live.deinitialize(count: Self.capacity)
        live.deallocate()
    }

    func map(_ block: any RegisterBlock, blockOffset: Int, length: Int) -> UnsafeMutableRawPointer? {
        control.withLock { _ in
            guard let slot = (0..<Self.capacity).first(where: { !live[$0].load(ordering: .relaxed) }) else { return nil }
            guard let va = mmap(nil, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), va != MAP_FAILED else { return nil }
            entries[slot] = Entry(base: UInt(bitPattern: va), length: length, block: block, blockOffset: blockOffset)
            live[slot].store(true, ordering: .releasing)
            if slot >= highWater.load(ordering: .relaxed) { highWater.store(slot + 1, ordering: .releasing) }
            return va
        }
    }

    func unmap(_ base: UnsafeMutableRawPointer) -> Bool {
        control.withLock { _ in
            let address = UInt(bitPattern: base)
            for i in 0..<highWater.load(ordering: .relaxed) where live[i].load(ordering: .relaxed) {
                guard let e = entries[i], e.base == address else { continue }
                live[i].store(false, ordering: .releasing)
                // The reservation stays: an address must not be reused while a stale pointer may read it.
                return true
            }
            return false
        }
    }

    /// The register block and offset behind a mapped address.
    @inline(__always)
    package func resolve(_ address: UnsafeRawPointer) -> (any RegisterBlock, Int)? {
        let a = UInt(bitPattern: address)
        let n = highWater.load(ordering: .acquiring)
        var i = 0
        while i < n {
            if live[i].load(ordering: .acquiring), let e = entries[i], a >= e.base, a < e.base + UInt(e.length) {
                return (e.block, e.blockOffset + Int(a - e.base))
            }
            i += 1
        }
        return nil
    }

    /// Mappings still in place (for the teardown leak check).
    public var liveMappings: Int { (0..<highWater.load(ordering: .acquiring)).filter { live[$0].load(ordering: .acquiring) }.count }
}

/// `MmMapIoSpace(PhysicalAddress, NumberOfBytes, CacheType)`: a system-space
/// address for device registers (a BAR from the resource list). NULL when no
/// device decodes the whole range. ≤ DISPATCH_LEVEL.
public func mmMapIoSpace(_ physicalAddress: PhysicalAddress, _ numberOfBytes: Int, _ cacheType: MemoryCachingType) -> UnsafeMutableRawPointer? {
    checkIrql(atMost: Irql.dispatchLevel, "MmMapIoSpace")
    guard let machine = Machine.current, numberOfBytes > 0,
          let (block, offset, _) = machine.bus.memoryBlock(at: physicalAddress),
          offset + numberOfBytes <= block.size else { return nil }
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
    guard let machine = Machine.current, let (block, offset) = machine.ioSpace.resolve(address) else {
        Verifier.record(.unmappedRegister, ddi, detail: UInt64(UInt(bitPattern: address)))
        return width.mask
    }
    return block.read(offset: offset, width: width)
}

@inline(__always)
private func registerWrite(_ address: UnsafeRawPointer, _ width: AccessWidth, _ value: UInt64, _ ddi: StaticString) {
    guard let machine = Machine.current, let (block, offset) = machine.ioSpace.resolve(address) else {
        return Verifier.record(.unmappedRegister, ddi, detail: UInt64(UInt(bitPattern: address)))
    }
    block.write(offset: offset, width: width, value: value)
    machine.registerWritten()
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
    guard let machine = Machine.current else { return width.mask }
    return machine.bus.readPort(portNumber(port), width: width)
}

@inline(__always)
private func portWrite(_ port: UnsafeRawPointer?, _ width: AccessWidth, _ value: UInt64) {
    guard let machine = Machine.current else { return }
    machine.bus.writePort(portNumber(port), width: width, value: value)
    machine.registerWritten()
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

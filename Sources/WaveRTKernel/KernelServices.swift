import CWaveRTShim
import WaveRTEngine
import WaveRTMemory

// The rest of the WDM surface a WaveRT miniport calls: time, stalls, and the
// memory manager's DDIs with their IRQL rules. Each finds its machine
// through the calling thread (Machine.current).

/// `KeQueryPerformanceCounter(&PerformanceFrequency)`: ticks of a 10 MHz
/// counter on the machine's timebase. Any IRQL.
@inline(__always)
public func keQueryPerformanceCounter(_ frequency: UnsafeMutablePointer<UInt64>? = nil) -> UInt64 {
    frequency?.pointee = Machine.performanceFrequency
    let now = Machine.current?.timebase.now ?? wrt_monotonic_ns()
    return PositionMath.frames(inNanoseconds: now, rate: Machine.performanceFrequency)
}

/// `KeQueryInterruptTime()`: 100-ns units since the machine's clock started. Any IRQL.
@inline(__always)
public func keQueryInterruptTime() -> UInt64 { (Machine.current?.timebase.now ?? wrt_monotonic_ns()) / 100 }

/// `KeStallExecutionProcessor(MicroSeconds)`: busy-waits. On a virtual clock
/// the calling thread's time moves on (inside a pass) or the clock advances
/// (outside one). More than 50 µs is a verifier finding, as the WDK limits it.
public func keStallExecutionProcessor(_ microseconds: UInt32) {
    if microseconds > 50 { Verifier.record(.stallTooLong, "KeStallExecutionProcessor", detail: UInt64(microseconds)) }
    let ns = UInt64(microseconds) * 1000
    let timebase = Machine.current?.timebase ?? MonotonicTimebase.shared
    switch timebase.hostClock {
    case .virtual(let clock):
        clock.stall(nanoseconds: ns)
    case .monotonic:
        let end = wrt_monotonic_ns() + ns
        while wrt_monotonic_ns() < end {}
    }
}

/// `KeMemoryBarrier()`.
@inline(__always) public func keMemoryBarrier() { _ = wrt_atomic_fetch_add_u32(UnsafeMutablePointer(mutating: barrierWord), 0) }
nonisolated(unsafe) private let barrierWord = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)

private func memory(_ ddi: StaticString) -> PhysicalMemory? {
    guard let m = Machine.current else {
        Verifier.record(.callOrder, ddi)
        return nil
    }
    return m.memory
}

/// `MmAllocatePagesForMdlEx(LowAddress, HighAddress, SkipBytes, TotalBytes, CacheType, Flags)`. ≤ APC_LEVEL (≤ DISPATCH_LEVEL with MM_ALLOCATE_NO_WAIT).
public func mmAllocatePagesForMdlEx(_ lowAddress: PhysicalAddress, _ highAddress: PhysicalAddress, _ skipBytes: UInt64,
                                    _ totalBytes: Int, _ cacheType: MemoryCachingType, _ flags: AllocatePagesFlags) -> MDL?
{
    checkIrql(atMost: flags.contains(.noWait) ? Irql.dispatchLevel : Irql.apcLevel, "MmAllocatePagesForMdlEx")
    return memory("MmAllocatePagesForMdlEx")?.allocatePagesForMdlEx(
        lowAddress: lowAddress, highAddress: highAddress, skipBytes: skipBytes, totalBytes: totalBytes,
        cacheType: cacheType, flags: flags)
}

/// `MmAllocatePagesForMdl(LowAddress, HighAddress, SkipBytes, TotalBytes)`. ≤ APC_LEVEL.
public func mmAllocatePagesForMdl(_ lowAddress: PhysicalAddress, _ highAddress: PhysicalAddress, _ skipBytes: UInt64, _ totalBytes: Int) -> MDL? {
    checkIrql(atMost: Irql.apcLevel, "MmAllocatePagesForMdl")
    return memory("MmAllocatePagesForMdl")?.allocatePagesForMdl(lowAddress: lowAddress, highAddress: highAddress,
                                                                skipBytes: skipBytes, totalBytes: totalBytes)
}

/// `MmFreePagesFromMdl(MemoryDescriptorList)`. ≤ DISPATCH_LEVEL.
public func mmFreePagesFromMdl(_ mdl: MDL) {
    checkIrql(atMost: Irql.dispatchLevel, "MmFreePagesFromMdl")
    memory("MmFreePagesFromMdl")?.freePagesFromMdl(mdl)
}

/// `MmMapLockedPagesSpecifyCache(Mdl, KernelMode, CacheType, NULL, FALSE, Priority)`. ≤ DISPATCH_LEVEL.
public func mmMapLockedPagesSpecifyCache(_ mdl: MDL, _ cacheType: MemoryCachingType) -> UnsafeMutableRawPointer? {
    checkIrql(atMost: Irql.dispatchLevel, "MmMapLockedPagesSpecifyCache")
    return memory("MmMapLockedPagesSpecifyCache")?.mapLockedPagesSpecifyCache(mdl, cacheType: cacheType)
}

/// `MmGetSystemAddressForMdlSafe(Mdl, Priority)`: the MDL's system mapping, made on first use. ≤ DISPATCH_LEVEL.
public func mmGetSystemAddressForMdlSafe(_ mdl: MDL) -> UnsafeMutableRawPointer? {
    checkIrql(atMost: Irql.dispatchLevel, "MmGetSystemAddressForMdlSafe")
    if let va = mdl.mappedSystemVa { return va }
    return memory("MmGetSystemAddressForMdlSafe")?.mapLockedPagesSpecifyCache(mdl, cacheType: mdl.cacheType)
}

/// `MmUnmapLockedPages(BaseAddress, Mdl)`. ≤ DISPATCH_LEVEL.
public func mmUnmapLockedPages(_ baseAddress: UnsafeMutableRawPointer, _ mdl: MDL) {
    checkIrql(atMost: Irql.dispatchLevel, "MmUnmapLockedPages")
    memory("MmUnmapLockedPages")?.unmapLockedPages(baseAddress, mdl: mdl)
}

/// `MmAllocateContiguousMemory(NumberOfBytes, HighestAcceptableAddress)`: uninitialised. ≤ DISPATCH_LEVEL.
public func mmAllocateContiguousMemory(_ numberOfBytes: Int, _ highestAcceptableAddress: PhysicalAddress) -> UnsafeMutableRawPointer? {
    checkIrql(atMost: Irql.dispatchLevel, "MmAllocateContiguousMemory")
    return memory("MmAllocateContiguousMemory")?.allocateContiguousMemory(numberOfBytes: numberOfBytes,
                                                                          highestAcceptableAddress: highestAcceptableAddress)
}

/// `MmAllocateContiguousMemorySpecifyCache(NumberOfBytes, Lowest, Highest, BoundaryAddressMultiple, CacheType)`. ≤ DISPATCH_LEVEL.
public func mmAllocateContiguousMemorySpecifyCache(_ numberOfBytes: Int, _ lowestAcceptableAddress: PhysicalAddress,
                                                   _ highestAcceptableAddress: PhysicalAddress, _ boundaryAddressMultiple: PhysicalAddress,
                                                   _ cacheType: MemoryCachingType) -> UnsafeMutableRawPointer?
{
    checkIrql(atMost: Irql.dispatchLevel, "MmAllocateContiguousMemorySpecifyCache")
    return memory("MmAllocateContiguousMemorySpecifyCache")?.allocateContiguousMemory(
        numberOfBytes: numberOfBytes, lowestAcceptableAddress: lowestAcceptableAddress,
        highestAcceptableAddress: highestAcceptableAddress, boundaryAddressMultiple: boundaryAddressMultiple)
}

/// `MmFreeContiguousMemory(BaseAddress)`. ≤ APC_LEVEL.
public func mmFreeContiguousMemory(_ baseAddress: UnsafeMutableRawPointer) {
    checkIrql(atMost: Irql.apcLevel, "MmFreeContiguousMemory")
    memory("MmFreeContiguousMemory")?.freeContiguousMemory(baseAddress)
}

/// `MmGetPhysicalAddress(BaseAddress)`: 0 when the address maps nothing. Any IRQL.
public func mmGetPhysicalAddress(_ baseAddress: UnsafeRawPointer) -> PhysicalAddress {
    Machine.current?.memory.physicalAddress(of: baseAddress) ?? 0
}

/// `DbgPrint` / `KdPrint`: a line of the driver's debug output, kept by its
/// machine (``Machine/debugOutput``) and not printed. Any IRQL; it formats and
/// allocates, so keep it off real-time paths as on Windows.
public func dbgPrint(_ message: String) {
    (Machine.current ?? nil)?.appendDebugOutput(message)
}

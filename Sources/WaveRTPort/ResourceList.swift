import WaveRTHardware
import WaveRTKernel
import WaveRTMemory

/// `CM_RESOURCE_TYPE` values a WaveRT adapter gets.
public enum CmResourceType: UInt8, Sendable, Hashable, CustomStringConvertible {
    case port = 1, interrupt = 2, memory = 3, dma = 4
    public var description: String {
        switch self {
        case .port: "CmResourceTypePort"
        case .interrupt: "CmResourceTypeInterrupt"
        case .memory: "CmResourceTypeMemory"
        case .dma: "CmResourceTypeDma"
        }
    }
}

/// `CM_PARTIAL_RESOURCE_DESCRIPTOR`: one resource as the PnP manager hands it
/// over (translated: the addresses the processor uses).
public struct CMPartialResourceDescriptor: Hashable, Sendable {
    public var type: CmResourceType
    public var shareDisposition: UInt8 = 1  // CmResourceShareDeviceExclusive
    /// Interrupt: CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE (0) or LATCHED (1); port: CM_RESOURCE_PORT_IO (1).
    public var flags: UInt16 = 0
    /// `u.Port.Start` / `u.Memory.Start`.
    public var start: PhysicalAddress = 0
    /// `u.Port.Length` / `u.Memory.Length`.
    public var length: UInt32 = 0
    /// `u.Interrupt.Level`, `.Vector`, `.Affinity`.
    public var level: UInt32 = 0
    public var vector: UInt32 = 0
    public var affinity: UInt64 = 0
    /// `u.Dma.Channel`.
    public var channel: UInt32 = 0

    public static func port(_ base: UInt16, _ length: Int) -> Self {
        CMPartialResourceDescriptor(type: .port, flags: 1, start: PhysicalAddress(UInt64(base)), length: UInt32(length))
    }
    public static func memory(_ base: PhysicalAddress, _ length: Int) -> Self {
        CMPartialResourceDescriptor(type: .memory, start: base, length: UInt32(length))
    }
    public static func interrupt(_ vector: UInt32) -> Self {
        CMPartialResourceDescriptor(type: .interrupt, flags: 0, level: vector, vector: vector, affinity: 1)
    }
    public static func dma(_ channel: UInt32) -> Self { CMPartialResourceDescriptor(type: .dma, channel: channel) }
}

/// `IResourceList`: the adapter's resources. Interrupt entries also carry
/// (privately) the line they stand for, which ``pcNewInterruptSync(resourceList:resourceIndex:mode:)`` connects to.
public final class ResourceList: @unchecked Sendable {
    public let descriptors: [CMPartialResourceDescriptor]
    let lines: [Int: InterruptLine]  // descriptor index -> line

    init(descriptors: [CMPartialResourceDescriptor], lines: [Int: InterruptLine]) {
        self.descriptors = descriptors
        self.lines = lines
    }

    /// `IResourceList::NumberOfEntries`.
    public func numberOfEntries() -> Int { descriptors.count }

    /// `IResourceList::NumberOfEntriesOfType`.
    public func numberOfEntriesOfType(_ type: CmResourceType) -> Int { descriptors.filter { $0.type == type }.count }

    /// `IResourceList::FindTranslatedEntry(Type, Index)`: the `index`-th entry of `type`, or NULL.
    public func findTranslatedEntry(_ type: CmResourceType, _ index: Int) -> CMPartialResourceDescriptor? {
        let matches = descriptors.filter { $0.type == type }
        return index >= 0 && index < matches.count ? matches[index] : nil
    }

    /// `IResourceList::FindUntranslatedEntry(Type, Index)`: the same on this machine (no bus translation).
    public func findUntranslatedEntry(_ type: CmResourceType, _ index: Int) -> CMPartialResourceDescriptor? {
        findTranslatedEntry(type, index)
    }

    func interruptLine(_ index: Int) -> InterruptLine? {
        var n = 0
        for (i, d) in descriptors.enumerated() where d.type == .interrupt {
            if n == index { return lines[i] }
            n += 1
        }
        return nil
    }
}

/// `PcNewInterruptSync(&InterruptSync, NULL, ResourceList, ResourceIndex, Mode)`:
/// an interrupt sync object for the `resourceIndex`-th interrupt resource.
/// STATUS_INVALID_PARAMETER when there is no such resource. PASSIVE_LEVEL.
public func pcNewInterruptSync(resourceList: ResourceList, resourceIndex: Int, mode: InterruptSync.Mode) -> Result<InterruptSync, NTStatus> {
    checkIrql(atMost: Irql.passiveLevel, "PcNewInterruptSync")
    guard let machine = Machine.current else { return .failure(.deviceNotReady) }
    guard let line = resourceList.interruptLine(resourceIndex) else { return .failure(.invalidParameter) }
    return .success(InterruptSync(machine: machine, line: line, mode: mode))
}

import WaveRTDMA
import WaveRTEngine
import WaveRTMemory

/// The simulated PortCls WaveRT port (`IPortWaveRT`) together with what the
/// Windows audio engine does with it: it drives a miniport through the life of
/// a stream as Windows does, and checks every step.
///
/// ```swift
/// let port = SimulatedPortWaveRT(miniport: myMiniport, device: device)
/// try port.initialize()
/// let stream = try port.openStream(StreamRequest(format: .cd48k, bufferBytes: 1920, notificationCount: 2))
/// try stream.run()          // STOP -> ACQUIRE -> PAUSE -> RUN
/// ...
/// let report = stream.close()   // back down, unregister, free, leak check
/// ```
public final class SimulatedPortWaveRT: @unchecked Sendable {
    public let miniport: any MiniportWaveRT
    public let device: EmulatedAudioDevice
    public private(set) var deviceDescription: DeviceDescription?

    public init(miniport: any MiniportWaveRT, device: EmulatedAudioDevice) {
        self.miniport = miniport
        self.device = device
    }

    /// `IMiniportWaveRT::Init`, then `GetDeviceDescription`.
    public func initialize() throws(PortError) {
        let status = miniport.initialize(port: self)
        guard status.isSuccess else { throw .miniport(ddi: "IMiniportWaveRT::Init", status: status) }
        deviceDescription = miniport.getDeviceDescription()
    }

    /// Opens a stream the way the audio engine does: `NewStream`, then the buffer
    /// (with notification when `notificationCount` > 0), mapped for the client,
    /// and the notification event registered. The stream is left in STOP.
    public func openStream(_ request: StreamRequest) throws(PortError) -> PortStream {
        let portStream = SimulatedPortWaveRTStream(memory: device.memory)
        let miniportStream: any MiniportWaveRTStream
        switch miniport.newStream(pin: request.pin, capture: request.capture, format: request.format, portStream: portStream) {
        case .success(let s): miniportStream = s
        case .failure(let status): throw .miniport(ddi: "IMiniportWaveRT::NewStream", status: status)
        }
        return try PortStream(port: self, miniportStream: miniportStream, portStream: portStream, request: request)
    }
}

/// What the audio engine asks for when it opens a stream.
public struct StreamRequest: Sendable {
    public var pin: Int
    public var capture: Bool
    public var format: StreamFormat
    /// The buffer size asked for; the port rounds it up to whole pages first.
    public var bufferBytes: Int
    /// 0: `AllocateAudioBuffer` (no notifications, a polling client); 1 or 2:
    /// `AllocateBufferWithNotification`.
    public var notificationCount: Int

    public init(pin: Int = 0, capture: Bool = false, format: StreamFormat, bufferBytes: Int, notificationCount: Int = 2) {
        self.pin = pin
        self.capture = capture
        self.format = format
        self.bufferBytes = bufferBytes
        self.notificationCount = notificationCount
    }

    /// A request for `milliseconds` of audio.
    public init(format: StreamFormat, bufferMilliseconds: Int, notificationCount: Int = 2) {
        self.init(format: format, bufferBytes: format.bytesPerSecond * bufferMilliseconds / 1000,
                  notificationCount: notificationCount)
    }

    /// The smallest buffer the port accepts: one millisecond per packet, and never
    /// less than one frame per packet.
    public var minimumBufferBytes: Int {
        let packets = max(1, notificationCount)
        return packets * max(1, format.sampleRate / 1000) * format.blockAlign
    }
}

/// Why the port could not do what it was asked. Each case names the DDI and the status.
public enum PortError: Error, Hashable, CustomStringConvertible {
    case miniport(ddi: String, status: NTStatus)
    case bufferTooSmall(actual: Int, minimum: Int)
    case bufferBeyondMDL(actual: Int, offset: Int, mdlBytes: Int)
    case bufferNotUsable(actual: Int, blockAlign: Int, notificationCount: Int)
    case mapFailed
    case stateChange(from: KSState, to: KSState, status: NTStatus)

    public var description: String {
        switch self {
        case .miniport(let ddi, let status): "\(ddi) failed with \(status)"
        case .bufferTooSmall(let actual, let minimum):
            "the miniport's buffer of \(actual) bytes is smaller than the format's minimum of \(minimum) bytes"
        case .bufferBeyondMDL(let actual, let offset, let mdlBytes):
            "the miniport's buffer (\(actual) bytes at offset \(offset)) is larger than its MDL (\(mdlBytes) bytes): a partial allocation was ignored"
        case .bufferNotUsable(let actual, let align, let count):
            "the miniport's buffer of \(actual) bytes is not a whole number of \(count) packets of \(align)-byte frames"
        case .mapFailed: "IPortWaveRTStream::MapAllocatedPages returned NULL for the audio buffer"
        case .stateChange(let from, let to, let status): "SetState \(from) -> \(to) failed with \(status)"
        }
    }
}

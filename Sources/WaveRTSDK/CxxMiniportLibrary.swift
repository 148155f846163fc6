import CWaveRTSDK
import Glibc
import Synchronization
import WaveRTPort

/// Why a miniport library could not be loaded.
public enum CxxMiniportError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case loadFailed(path: String, reason: String)
    case notBuiltWithSDK(path: String)
    case abiMismatch(path: String, library: UInt32, host: UInt32)
    case missingEntryPoint(path: String)
    case unknownHardware(path: String, name: String)
    case needsAddressSanitizer(path: String, runtime: String?)

    public var description: String {
        switch self {
        case .notFound(let path): "\(path): no such file"
        case .loadFailed(let path, let reason): "\(path) could not be loaded: \(reason)"
        case .notBuiltWithSDK(let path): "\(path) does not export WaveRTSdkAttach: build it with `wavert sdk build`, which links the SDK runtime"
        case .abiMismatch(let path, let library, let host):
            "\(path) was built with SDK ABI \(library), this emulator speaks \(host): rebuild it with this `wavert sdk build`"
        case .missingEntryPoint(let path): "\(path) does not export WaveRTCreateMiniport (see portcls.h / wavert_sdk.h)"
        case .unknownHardware(let path, let name): "\(path): WaveRTMiniportHardware() returned \"\(name)\"; use hda, isa or sg"
        case .needsAddressSanitizer(let path, let runtime):
            "\(path) was built with AddressSanitizer, whose runtime must be loaded first: run with LD_PRELOAD=\(runtime ?? "<clang's libclang_rt.asan-x86_64.so>") ASAN_OPTIONS=detect_leaks=0 (the emulator names the miniport's pool leaks itself)"
        }
    }
}

/// A miniport library built with the SDK, loaded (`dlopen`, once per path,
/// never unloaded) and attached to the emulator's kernel.
/// ``makeMiniport(hardware:)`` makes a fresh miniport from it for each run.
public final class CxxMiniportLibrary: @unchecked Sendable {
    public let path: String
    /// What the library's WaveRTMiniportHardware() says, if it exports one.
    public let declaredHardware: HardwareKind?
    let handle: UnsafeMutableRawPointer
    let runtime: UnsafePointer<WrtRuntime>

    private static let loaded = Mutex<[String: CxxMiniportLibrary]>([:])

    private init(path: String, handle: UnsafeMutableRawPointer, runtime: UnsafePointer<WrtRuntime>, declaredHardware: HardwareKind?) {
        self.path = path
        self.handle = handle
        self.runtime = runtime
        self.declaredHardware = declaredHardware
    }

    /// Loads the library at `path` (or returns the one already loaded from there).
    public static func open(path: String) throws(CxxMiniportError) -> CxxMiniportLibrary {
        guard let resolved = realpath(path, nil) else { throw .notFound(path: path) }
        let canonical = String(cString: resolved)
        free(resolved)
        if let library = loaded.withLock({ $0[canonical] }) { return library }
        // An ASan-instrumented library aborts the process if its runtime was not loaded first: say so instead.
        if wrt_sdk_elf_needs(canonical, "libclang_rt.asan") == 1 && dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") == nil {
            throw .needsAddressSanitizer(path: path, runtime: SDKToolchain.addressSanitizerRuntime())
        }
        _ = wrt_sdk_install_crash_handler()
        guard let handle = dlopen(canonical, RTLD_NOW | RTLD_LOCAL) else {
            throw .loadFailed(path: path, reason: dlerror().map { String(cString: $0) } ?? "dlopen failed")
        }
        // Loading may have run a sanitizer's init, which installs fault handlers of its own: the guard goes back in front.
        _ = wrt_sdk_install_crash_handler()
        guard let attachSymbol = dlsym(handle, WRT_ATTACH_SYMBOL) else { throw .notBuiltWithSDK(path: path) }
        guard dlsym(handle, "WaveRTCreateMiniport") != nil else { throw .missingEntryPoint(path: path) }
        let attach = unsafeBitCast(attachSymbol, to: WrtAttachFunction.self)
        var runtime: UnsafePointer<WrtRuntime>?
        let libraryVersion = attach(KernelTable.shared, WRT_ABI_VERSION, &runtime)
        guard libraryVersion == 0, let runtime else {
            throw .abiMismatch(path: path, library: libraryVersion, host: WRT_ABI_VERSION)
        }
        // WaveRTMiniportHardware is the miniport's code: ask it under the guard.
        let probe = UnsafeMutablePointer<WrtInstance>.allocate(capacity: 1)
        probe.initialize(to: WrtInstance())
        probe.pointee.runtime = runtime
        let name = wrt_guarded_hardware(probe).map { String(cString: $0) }
        let crashed = probe.pointee.crashed != 0
        probe.deallocate()
        if crashed { throw .loadFailed(path: path, reason: "WaveRTMiniportHardware() crashed") }
        var declared: HardwareKind?
        if let name {
            guard let kind = HardwareKind(rawValue: name) else { throw .unknownHardware(path: path, name: name) }
            declared = kind
        }
        let library = CxxMiniportLibrary(path: canonical, handle: handle, runtime: runtime, declaredHardware: declared)
        return loaded.withLock { table in
            if let other = table[canonical] { return other }
            table[canonical] = library
            return library
        }
    }

    /// A new miniport from the library, for one run. `hardware` overrides
    /// what the library declares; the default is `hda`.
    public func makeMiniport(hardware: HardwareKind? = nil, monitor: CxxMiniportMonitor = CxxMiniportMonitor()) -> CxxMiniport {
        CxxMiniport(library: self, hardware: hardware ?? declaredHardware ?? .hda, monitor: monitor)
    }
}

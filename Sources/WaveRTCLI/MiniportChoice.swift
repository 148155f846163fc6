import ArgumentParser
import WaveRTExamples
import WaveRTMemory
import WaveRTPort
import WaveRTRunner
import WaveRTSDK

/// Which miniport a command runs (`--example NAME`, or `--miniport LIB.so`
/// with `--hardware`), and the memory it runs on (`--fragment-memory`): what
/// `play`, `record` and `timing` share. Each error names the flag.
enum MiniportChoice {
    /// The example's name when neither flag is given.
    static let defaultExample = "hda"

    /// The miniport `--example` or `--miniport` names (they exclude each other).
    static func resolve(example: String?, miniport: String?, hardware: String?) throws -> RunMiniport {
        if let miniport {
            guard example == nil else {
                throw ValidationError("--example and --miniport both say which miniport runs; give one")
            }
            var kind: HardwareKind?
            if let hardware {
                guard let k = HardwareKind(rawValue: hardware) else {
                    throw ValidationError("--hardware must be hda, isa or sg; got '\(hardware)'")
                }
                kind = k
            }
            let library: CxxMiniportLibrary
            do { library = try CxxMiniportLibrary.open(path: miniport) } catch { throw ValidationError("--miniport: \(error)") }
            // One monitor for every miniport made from the library in this run: the crash, if any, outlives them.
            let monitor = CxxMiniportMonitor()
            let chosen = kind ?? library.declaredHardware ?? .hda
            return RunMiniport(name: miniport, hardware: chosen,
                               make: { library.makeMiniport(hardware: chosen, monitor: monitor) },
                               crashReport: { monitor.crash?.description })
        }
        if hardware != nil {
            throw ValidationError("--hardware chooses a C++ miniport's adapter (with --miniport); an example drives its own hardware")
        }
        let name = example ?? defaultExample
        guard let ex = ExampleMiniport.named(name) else {
            throw ValidationError("no example named '\(name)'; try: \(ExampleMiniport.all.map(\.name).joined(separator: ", "))")
        }
        return RunMiniport(example: ex)
    }

    /// `--fragment-memory SPEC`: each session's physical memory fragmented as a
    /// machine up for days (nil: a fresh machine's). SPEC is `scarce` (99.9 %
    /// of RAM taken, no free run longer than a page: a few pages free below
    /// 16 MiB) or `OCCUPANCY:RUN[:SEED]` (the seed defaults to 7).
    static func memory(_ spec: String?) throws -> (@Sendable () -> PhysicalMemory)? {
        guard let spec else { return nil }
        let (occupancy, run, seed) = try parseFragmentation(spec)
        return {
            let memory = PhysicalMemory()
            memory.fragment(seed: seed, occupancy: occupancy, longestFreeRunPages: run)
            return memory
        }
    }

    static func parseFragmentation(_ spec: String) throws -> (occupancy: Double, run: Int, seed: UInt64) {
        if spec == "scarce" { return (0.999, 1, 7) }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), let occupancy = Double(parts[0]), let run = Int(parts[1]),
              parts.count == 2 || UInt64(parts[2]) != nil
        else {
            throw ValidationError("--fragment-memory is scarce or OCCUPANCY:LONGEST_FREE_RUN_PAGES[:SEED], e.g. 0.999:1 or 0.9:4:42; got '\(spec)'")
        }
        guard occupancy > 0 && occupancy < 1 else {
            throw ValidationError("--fragment-memory '\(spec)': OCCUPANCY is the share of RAM taken, between 0 and 1 (exclusive); got \(parts[0])")
        }
        guard run >= 1 else {
            throw ValidationError("--fragment-memory '\(spec)': LONGEST_FREE_RUN_PAGES must be at least 1; got \(run)")
        }
        return (occupancy, run, parts.count == 3 ? UInt64(parts[2])! : 7)
    }
}

extension PhysicalMemory {
    /// Makes free memory look like that of a system that has been running for
    /// days: allocates "system" pages so that about `occupancy` of RAM is in use
    /// and no free run is longer than `longestFreeRunPages`.
    ///
    /// Deterministic for a seed. Over each RAM range it lays alternating runs:
    /// free runs of 1...`longestFreeRunPages` pages and used runs sized so the
    /// mean matches the occupancy; used runs always separate free ones, so the
    /// bound holds exactly. Pages already allocated stay allocated. Afterwards a
    /// contiguous request larger than the bound fails while a scatter-gather
    /// request of the same size succeeds, as the seeds warn.
    ///
    /// No DDI corresponds: this stands for the rest of the operating system.
    /// ``releaseFragmentation()`` frees the system pages again.
    public func fragment(seed: UInt64, occupancy: Double, longestFreeRunPages: Int) {
        guard occupancy > 0, occupancy < 1, longestFreeRunPages >= 1 else {
            diagnostics.report(Diagnostic(
                severity: .error, ddi: "fragment", argument: occupancy > 0 && occupancy < 1 ? "longestFreeRunPages" : "occupancy",
                rule: "occupancy must be in (0, 1) and longestFreeRunPages at least 1; got \(occupancy), \(longestFreeRunPages)",
                outcome: "memory left as it was"))
            return
        }
        var rng = SplitMix64(seed: seed)
        let meanFree = Double(longestFreeRunPages + 1) / 2
        let meanUsed = max(1, meanFree * occupancy / (1 - occupancy))
        let ps = UInt64(pageSize)
        state.withLock { s in
            for range in map.ramRanges {
                var page = Int(range.start.rawValue / ps)
                let end = Int(range.end.rawValue / ps)
                var free = rng.next() & 1 == 0
                while page < end {
                    let length: Int
                    if free {
                        length = 1 + Int(rng.next() % UInt64(longestFreeRunPages))
                    } else {
                        // Uniform on [1, 2 * meanUsed - 1] has mean meanUsed.
                        let spread = max(1, Int((2 * meanUsed - 1).rounded()))
                        length = 1 + Int(rng.next() % UInt64(spread))
                    }
                    let run = page..<min(end, page + length)
                    if !free {
                        // Only pages that are free now become "system" pages.
                        var taken: [Range<Int>] = []
                        s.frames.forEachFreeRun(in: run.lowerBound...(run.upperBound - 1), highestFirst: false,
                                                limit: run.count) { taken.append($0) }
                        for r in taken {
                            s.frames.set(r, free: false)
                            owners.set(r, to: .systemPages)
                        }
                        s.systemRuns.append(contentsOf: taken)
                    }
                    page = run.upperBound
                    free.toggle()
                }
            }
        }
    }

    /// Frees every page ``fragment(seed:occupancy:longestFreeRunPages:)`` took.
    public func releaseFragmentation() {
        let runs = state.withLock { s in
            defer { s.systemRuns.removeAll() }
            return s.systemRuns
        }
        revokeOwnership(of: runs.flatMap { $0.map(UInt64.init) })
        for r in runs { backing.discard(frames: r) }
        state.withLock { s in for r in runs { s.frames.set(r, free: true) } }
    }

    /// Pages held by the simulated rest of the system.
    public var systemPageCount: Int { state.withLock { $0.systemRuns.reduce(0) { $0 + $1.count } } }
}

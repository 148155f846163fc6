import CWaveRTShim
import Glibc

/// The host memory behind the emulated physical address space.
///
/// One sparse memfd as large as the address space stands for "physical RAM":
/// a page costs host memory only once something touches it, and freeing it
/// punches a hole, which gives the memory back and makes the page read as zero
/// again. The file is mapped once as the *physical view* (physical address p is
/// `physicalView + p`; the DMA controller reads there), and mapped again, run by
/// run, wherever an MDL is mapped into "system space", so the host MMU does the
/// virtual-to-physical translation and a write through a mapping is exactly what
/// a DMA read of that physical page returns.
final class HostBacking: @unchecked Sendable {
    let fd: Int32
    let byteCount: Int
    let pageSize: Int
    /// Base of the physical view. Immutable after init, so readable from any thread.
    let physicalView: UnsafeMutableRawPointer

    init(byteCount: Int, pageSize: Int) throws(HostMemoryError) {
        self.byteCount = byteCount
        self.pageSize = pageSize
        let fd = wrt_memfd_create("wavert-physical-ram")
        guard fd >= 0 else { throw .system(call: "memfd_create", errno: errno) }
        guard ftruncate(fd, off_t(byteCount)) == 0 else {
            let e = errno
            close(fd)
            throw .system(call: "ftruncate", errno: e)
        }
        let base = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0)
        guard let base, base != MAP_FAILED else {
            let e = errno
            close(fd)
            throw .system(call: "mmap", errno: e)
        }
        self.fd = fd
        self.physicalView = base
    }

    deinit {
        munmap(physicalView, byteCount)
        close(fd)
    }

    /// Returns the pages of `frames` to the host; they read as zero afterwards.
    func discard(frames: Range<Int>) {
        _ = wrt_punch_hole(fd, off_t(frames.lowerBound * pageSize), off_t(frames.count * pageSize))
    }

    /// Maps `frames` (in the order given) to one new, virtually contiguous range.
    /// Adjacent frames share one mmap call.
    func map(frames: [UInt64]) throws(HostMemoryError) -> UnsafeMutableRawPointer {
        let length = frames.count * pageSize
        guard let reserved = mmap(nil, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
            reserved != MAP_FAILED
        else { throw .system(call: "mmap", errno: errno) }
        var i = 0
        while i < frames.count {
            var j = i + 1
            while j < frames.count && frames[j] == frames[j - 1] + 1 { j += 1 }
            let target = reserved + i * pageSize
            let r = mmap(target, (j - i) * pageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                         off_t(frames[i]) * off_t(pageSize))
            guard r == target else {
                let e = errno
                munmap(reserved, length)
                throw .system(call: "mmap", errno: e)
            }
            i = j
        }
        return reserved
    }

    func unmap(_ base: UnsafeMutableRawPointer, pageCount: Int) {
        munmap(base, pageCount * pageSize)
    }
}

public enum HostMemoryError: Error, Hashable, CustomStringConvertible {
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .system(let call, let e): "\(call) failed: \(String(cString: strerror(e))) (errno \(e))"
        }
    }
}

import Foundation

/// Reusable scratch buffers for kernels whose working memory is too large for the stack.
///
/// A fresh `malloc` above glibc's mmap threshold (128 KiB) is a fresh mapping, so every forward pass
/// would page-fault and zero its activation copies again (6 % of a SmolLM2 forward when measured). The
/// pool hands out 64-byte-aligned buffers and takes them back; it keeps at most ``capacity`` of them.
/// Thread-safe; a buffer belongs to one caller between ``withBuffer(byteCount:_:)``'s entry and exit.
final class ScratchPool: @unchecked Sendable {
    /// The process-wide pool the kernels use.
    static let shared = ScratchPool()
    /// Buffers kept between uses.
    static let capacity = 8

    private struct Buffer {
        let base: UnsafeMutableRawPointer
        let byteCount: Int
    }

    private let lock = NSLock()
    private var free: [Buffer] = []

    deinit { for buffer in free { buffer.base.deallocate() } }

    /// Runs `body` with a buffer of at least `byteCount` bytes (contents undefined), then takes it back.
    func withBuffer<Result>(byteCount: Int, _ body: (UnsafeMutableRawPointer) throws -> Result) rethrows -> Result {
        let buffer = take(byteCount: max(64, byteCount))
        defer { give(buffer) }
        return try body(buffer.base)
    }

    private func take(byteCount: Int) -> Buffer {
        lock.lock()
        let index = free.indices.filter { free[$0].byteCount >= byteCount }.min { free[$0].byteCount < free[$1].byteCount }
        let found = index.map { free.remove(at: $0) }
        lock.unlock()
        return found ?? Buffer(base: .allocate(byteCount: byteCount, alignment: 64), byteCount: byteCount)
    }

    private func give(_ buffer: Buffer) {
        lock.lock()
        free.append(buffer)
        var evicted: Buffer?
        if free.count > Self.capacity, let smallest = free.indices.min(by: { free[$0].byteCount < free[$1].byteCount }) {
            evicted = free.remove(at: smallest)
        }
        lock.unlock()
        evicted?.base.deallocate()
    }
}

/// Consecutive regions carved from one buffer: each region's float count is rounded up to 16 floats
/// (64 bytes), so in a 64-byte-aligned buffer every region starts 64-byte aligned. The one layout rule of
/// the scratch owners (a forward pass's workspace, attention's per-worker tiles).
public struct AlignedRegions: Sendable, Equatable {
    /// Start of each region, in floats from the buffer's first float, in the order given.
    public let offsets: [Int]
    /// Floats the buffer must hold for all the regions.
    public let totalCount: Int

    /// Lays out regions of `counts` floats (each ≥ 0), in order.
    public init(counts: [Int]) {
        var offsets: [Int] = []
        offsets.reserveCapacity(counts.count)
        var total = 0
        for count in counts {
            precondition(count >= 0, "AlignedRegions: a negative region size")
            offsets.append(total)
            total += (count + 15) & ~15
        }
        self.offsets = offsets
        self.totalCount = total
    }
}

/// The XXH64 non-cryptographic hash (Yann Collet's xxHash, 64-bit variant), written from its
/// specification (`doc/xxhash_spec.md` of the xxHash project). `.diffu` files use it with seed 0 for
/// every checksum: it runs at memory speed, so `diffu verify` of a multi-gigabyte file is limited by
/// the disk, and it detects every error burst a flipped or torn page produces with probability
/// 1 − 2⁻⁶⁴. It is not a defence against deliberate tampering (use the provenance SHA-256 for that).
///
/// Streaming use: `var hasher = XXH64(); hasher.update(a); hasher.update(b); hasher.finalize()`
/// equals `XXH64.hash(a ++ b)`.
public struct XXH64: Sendable {
    static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    private let seed: UInt64
    private var accumulators: (UInt64, UInt64, UInt64, UInt64)
    /// Bytes not yet consumed as a whole 32-byte stripe (at most 31 are kept).
    private var pending: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var pendingCount = 0
    private var totalLength: UInt64 = 0

    /// Starts a hash with `seed` (Diffu always uses 0).
    public init(seed: UInt64 = 0) {
        self.seed = seed
        accumulators = (seed &+ Self.prime1 &+ Self.prime2, seed &+ Self.prime2, seed, seed &- Self.prime1)
    }

    /// The hash of `bytes` in one call.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var hasher = XXH64(seed: seed)
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The hash of a byte array in one call.
    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    @inline(__always)
    private static func rotateLeft(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value &<< count) | (value &>> (64 &- count))
    }

    @inline(__always)
    private static func round(_ accumulator: UInt64, _ lane: UInt64) -> UInt64 {
        rotateLeft(accumulator &+ lane &* prime2, 31) &* prime1
    }

    @inline(__always)
    private static func mergeRound(_ hash: UInt64, _ accumulator: UInt64) -> UInt64 {
        (hash ^ round(0, accumulator)) &* prime1 &+ prime4
    }

    /// Consumes whole 32-byte stripes at `base` (`count` a multiple of 32).
    @inline(__always)
    private mutating func consumeStripes(_ base: UnsafeRawPointer, count: Int) {
        var (v1, v2, v3, v4) = accumulators
        var offset = 0
        while offset < count {
            v1 = Self.round(v1, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            v2 = Self.round(v2, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
            v3 = Self.round(v3, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self)))
            v4 = Self.round(v4, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self)))
            offset += 32
        }
        accumulators = (v1, v2, v3, v4)
    }

    /// Adds bytes to the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var cursor = bytes.baseAddress, bytes.count > 0 else { return }
        var remaining = bytes.count
        totalLength &+= UInt64(remaining)
        if pendingCount > 0 {
            let take = min(32 - pendingCount, remaining)
            withUnsafeMutableBytes(of: &pending) { buffer in
                (buffer.baseAddress! + pendingCount).copyMemory(from: cursor, byteCount: take)
            }
            pendingCount += take
            cursor += take
            remaining -= take
            if pendingCount < 32 { return }
            var stripe = pending
            withUnsafeBytes(of: &stripe) { consumeStripes($0.baseAddress!, count: 32) }
            pendingCount = 0
        }
        let whole = remaining & ~31
        if whole > 0 {
            consumeStripes(cursor, count: whole)
            cursor += whole
            remaining -= whole
        }
        if remaining > 0 {
            withUnsafeMutableBytes(of: &pending) { buffer in
                buffer.baseAddress!.copyMemory(from: cursor, byteCount: remaining)
            }
            pendingCount = remaining
        }
    }

    /// Adds the bytes of an array.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 64-bit hash of everything added so far (the hasher can keep being updated).
    public func finalize() -> UInt64 {
        var hash: UInt64
        if totalLength >= 32 {
            let (v1, v2, v3, v4) = accumulators
            hash = Self.rotateLeft(v1, 1) &+ Self.rotateLeft(v2, 7) &+ Self.rotateLeft(v3, 12) &+ Self.rotateLeft(v4, 18)
            hash = Self.mergeRound(hash, v1)
            hash = Self.mergeRound(hash, v2)
            hash = Self.mergeRound(hash, v3)
            hash = Self.mergeRound(hash, v4)
        } else {
            hash = seed &+ Self.prime5
        }
        hash &+= totalLength
        var tail = pending
        let count = pendingCount
        withUnsafeBytes(of: &tail) { buffer in
            let base = buffer.baseAddress!
            var offset = 0
            while offset + 8 <= count {
                let lane = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                hash ^= Self.round(0, lane)
                hash = Self.rotateLeft(hash, 27) &* Self.prime1 &+ Self.prime4
                offset += 8
            }
            if offset + 4 <= count {
                let lane = UInt64(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                hash ^= lane &* Self.prime1
                hash = Self.rotateLeft(hash, 23) &* Self.prime2 &+ Self.prime3
                offset += 4
            }
            while offset < count {
                hash ^= UInt64(base.load(fromByteOffset: offset, as: UInt8.self)) &* Self.prime5
                hash = Self.rotateLeft(hash, 11) &* Self.prime1
                offset += 1
            }
        }
        hash ^= hash >> 33
        hash &*= Self.prime2
        hash ^= hash >> 29
        hash &*= Self.prime3
        hash ^= hash >> 32
        return hash
    }
}

/// `bf16`: bfloat16 (the upper 16 bits of a binary32), little-endian; rounded to nearest even (relative
/// error ≤ 2⁻⁸ in the normal range).
///
/// Block (1024 bytes): the `(k · 16 + c)`-th bfloat16 holds input `k`, lane `c`.
public enum BF16Codec: StorageCodec {
    /// `"bf16"`.
    @inlinable public static var name: String { "bf16" }
    /// 2 bytes.
    @inlinable public static var elementByteCount: Int? { 2 }
    /// `nil`: a float type.
    @inlinable public static var codeRange: ClosedRange<Int>? { nil }
    /// 1024 bytes: 512 bfloat16 values.
    @inlinable public static var blockByteCount: Int { 1024 }

    /// Rounds each value to bfloat16 at `2 · (k · 16 + c)`.
    public static func encode(_ values: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        TwoByteFloatBlock.encode(values, into: block) { HalfPrecision.bfloat16Bits($0) }
    }

    /// Widens the bfloat16 values of the lane (exact).
    public static func decode(_ block: UnsafeRawPointer, lane: Int, count: Int, into output: UnsafeMutablePointer<Float>) {
        TwoByteFloatBlock.decode(block, lane: lane, count: count, into: output) { HalfPrecision.float(bfloat16Bits: $0) }
    }

    /// 512 bfloat16 values per block at `k * 16 + c`, already in tile order → zero-extend
    /// (`vpmovzxwd`) and shift into the high half, 8 lanes at a time.
    @inline(never)
    public static func decodeTile(_ source: UnsafeRawPointer, blockCount: Int, into tile: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(tile)
        for index in 0..<(blockCount * PanelGeometry.blockLength * PanelGeometry.panelWidth / 8) {
            let bits = source.loadUnaligned(fromByteOffset: 16 * index, as: SIMD8<UInt16>.self)
            let wide = LaneConversion.uint32(bits) &<< 16
            out.storeBytes(of: unsafeBitCast(wide, to: SIMD8<Float>.self), toByteOffset: 32 * index, as: SIMD8<Float>.self)
        }
    }
}

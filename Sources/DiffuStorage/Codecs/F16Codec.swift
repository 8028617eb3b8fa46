/// `f16`: IEEE 754 binary16, little-endian; rounded to nearest even (relative error ≤ 2⁻¹¹ in the normal
/// range).
///
/// Block (1024 bytes): the `(k · 16 + c)`-th binary16 holds input `k`, lane `c`.
public enum F16Codec: StorageCodec {
    /// `"f16"`.
    @inlinable public static var name: String { "f16" }
    /// 2 bytes.
    @inlinable public static var elementByteCount: Int? { 2 }
    /// `nil`: a float type.
    @inlinable public static var codeRange: ClosedRange<Int>? { nil }
    /// 1024 bytes: 512 binary16 values.
    @inlinable public static var blockByteCount: Int { 1024 }

    /// Rounds each value to binary16 at `2 · (k · 16 + c)`.
    public static func encode(_ values: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        TwoByteFloatBlock.encode(values, into: block) { HalfPrecision.float16Bits($0) }
    }

    /// Widens the binary16 values of the lane (exact).
    public static func decode(_ block: UnsafeRawPointer, lane: Int, count: Int, into output: UnsafeMutablePointer<Float>) {
        TwoByteFloatBlock.decode(block, lane: lane, count: count, into: output) { HalfPrecision.float(float16Bits: $0) }
    }

    /// 512 binary16 values per block at `k * 16 + c`, already in tile order → `vcvtph2ps` per 8 lanes.
    @inline(never)
    public static func decodeTile(_ source: UnsafeRawPointer, blockCount: Int, into tile: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(tile)
        for index in 0..<(blockCount * PanelGeometry.blockLength * PanelGeometry.panelWidth / 8) {
            let halves = source.loadUnaligned(fromByteOffset: 16 * index, as: SIMD8<UInt16>.self)
            out.storeBytes(of: HalfPrecision.widen(halves), toByteOffset: 32 * index, as: SIMD8<Float>.self)
        }
    }
}

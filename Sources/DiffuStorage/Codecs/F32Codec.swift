/// `f32`: IEEE 754 binary32, little-endian; exact.
///
/// Block (2048 bytes): the `(k · 16 + c)`-th binary32 holds input `k`, lane `c` — already the f32 tile
/// of ``StorageCodec/decodeTile(_:blockCount:into:)``, so the matrix multiply reads f32 payloads in place.
public enum F32Codec: StorageCodec {
    /// `"f32"`.
    @inlinable public static var name: String { "f32" }
    /// 4 bytes.
    @inlinable public static var elementByteCount: Int? { 4 }
    /// `nil`: a float type.
    @inlinable public static var codeRange: ClosedRange<Int>? { nil }
    /// 2048 bytes: 512 binary32 values.
    @inlinable public static var blockByteCount: Int { 2048 }

    /// Stores each value unchanged at `4 · (k · 16 + c)`.
    public static func encode(_ values: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        for k in 0..<length {
            for c in 0..<width { block.storeBytes(of: values[c * length + k], toByteOffset: 4 * (k * width + c), as: Float.self) }
        }
    }

    /// Loads the binary32 values of the lane.
    public static func decode(_ block: UnsafeRawPointer, lane: Int, count: Int, into output: UnsafeMutablePointer<Float>) {
        for k in 0..<count {
            output[k] = block.loadUnaligned(fromByteOffset: 4 * (k * PanelGeometry.panelWidth + lane), as: Float.self)
        }
    }

    /// A copy (the matrix multiply reads f32 blocks in place instead).
    @inline(never)
    public static func decodeTile(_ source: UnsafeRawPointer, blockCount: Int, into tile: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(tile).copyMemory(from: source, byteCount: blockCount * blockByteCount)
    }
}

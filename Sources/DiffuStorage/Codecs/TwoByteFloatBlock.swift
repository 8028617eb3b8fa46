/// The block layout the two 2-byte float codecs share (``F16Codec``, ``BF16Codec``): 1024 bytes, the
/// `(k · 16 + c)`-th little-endian `UInt16` holds input `k`, lane `c` — already the order of the f32 tile.
/// The reference encoder and decoder loops, given each codec's bit conversion (inlined into each codec); the
/// tile decoders stay in the codecs (a closure there was left out of line in the bf16 one: a call per 8 lanes).
enum TwoByteFloatBlock {
    /// Stores `bits(values[c * 32 + k])` at byte `2 · (k · 16 + c)` for every input and lane.
    @inline(__always)
    static func encode(_ values: UnsafePointer<Float>, into block: UnsafeMutableRawPointer, _ bits: (Float) -> UInt16) {
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        for k in 0..<length {
            for c in 0..<width {
                block.storeBytes(of: bits(values[c * length + k]), toByteOffset: 2 * (k * width + c), as: UInt16.self)
            }
        }
    }

    /// `output[k] = value(bits of input k, lane lane)` for `k` in `0..<count`.
    @inline(__always)
    static func decode(_ block: UnsafeRawPointer, lane: Int, count: Int, into output: UnsafeMutablePointer<Float>,
                       _ value: (UInt16) -> Float) {
        for k in 0..<count {
            output[k] = value(block.loadUnaligned(fromByteOffset: 2 * (k * PanelGeometry.panelWidth + lane), as: UInt16.self))
        }
    }
}

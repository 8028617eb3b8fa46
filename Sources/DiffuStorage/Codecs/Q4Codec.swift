/// `q4`: symmetric int4 blocks, 32 inputs of one lane sharing one f16 scale (llama.cpp's Q4_0 rounding).
/// Panel layout only.
///
/// Block (288 bytes): 16 binary16 scales `d[c]` (bytes 0..<32), then 256 bytes: byte `32 + j · 16 + c`
/// (`j` = 0..<16) holds input `j` in its low nibble and input `j + 16` in its high nibble, each as `q + 8`
/// with `q` in −8…7. Value = `d[c] × q`.
///
/// Encoder: `m` = the value of largest magnitude (sign kept), `d = m / −8`,
/// `q = min(15, trunc(x / d + 8.5)) − 8`, scale stored as f16. Error bound per value:
/// `|x − x̂| ≤ amax/16 + amax·2⁻¹⁰` for values of the sign of `m`, and `≤ amax/8` at worst for values of
/// the opposite sign near `−m` (the int4 range is asymmetric).
public enum Q4Codec: ScaledIntegerCodec {
    /// `"q4"`.
    @inlinable public static var name: String { "q4" }
    /// `true`: both integer routes decode q4 tiles.
    @inlinable public static var hasIntegerKernels: Bool { true }
    /// `nil`: panel layout only.
    @inlinable public static var elementByteCount: Int? { nil }
    /// −8…7.
    @inlinable public static var codeRange: ClosedRange<Int>? { -8...7 }
    /// 288 bytes: 32 bytes of scales, 256 bytes of nibble pairs.
    @inlinable public static var blockByteCount: Int { 288 }

    /// Quantizes each lane's 32 values with `d = m / −8` (llama.cpp's Q4_0 rounding).
    public static func encode(_ values: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        for c in 0..<width {
            var amax: Float = 0, signedMax: Float = 0
            for k in 0..<length {
                let value = values[c * length + k]
                if abs(value) > amax { amax = abs(value); signedMax = value }
            }
            let d = signedMax / -8
            let inverse = inverseScale(d)
            storeScale(HalfPrecision.float16Bits(d), lane: c, into: block)
            for j in 0..<(length / 2) {
                let low = min(15, UInt8(values[c * length + j] * inverse + 8.5))
                let high = min(15, UInt8(values[c * length + j + 16] * inverse + 8.5))
                block.storeBytes(of: low | (high << 4), toByteOffset: 32 + j * width + c, as: UInt8.self)
            }
        }
    }

    /// Packs codes `j` and `j + 16` of the lane, each `+ 8`, into byte `32 + j · 16 + lane`.
    /// - Precondition: every code lies in −8…7.
    public static func storeCodes(_ codes: SIMD32<Int8>, lane: Int, into block: UnsafeMutableRawPointer) {
        precondition(codes.min() >= -8 && codes.max() <= 7, "q4 codes lie in -8...7")
        for j in 0..<(PanelGeometry.blockLength / 2) {
            let low = UInt8(codes[j] + 8), high = UInt8(codes[j + 16] + 8)
            block.storeBytes(of: low | (high << 4), toByteOffset: 32 + j * PanelGeometry.panelWidth + lane, as: UInt8.self)
        }
    }

    /// `d[lane] × q` for each input of the lane.
    public static func decode(_ block: UnsafeRawPointer, lane: Int, count: Int, into output: UnsafeMutablePointer<Float>) {
        let d = scale(block, lane: lane)
        for k in 0..<count {
            let byte = block.load(fromByteOffset: 32 + (k % 16) * PanelGeometry.panelWidth + lane, as: UInt8.self)
            let nibble = k < 16 ? byte & 0x0F : byte >> 4
            output[k] = d * Float(Int(nibble) - 8)
        }
    }

    /// Per block and nibble row `j`, 8 lanes at a time: the low nibbles give input `j`, the high ones input
    /// `j + 16`; `q = nibble − 8` converted and scaled (`d × q`, computed exactly as the reference decoder).
    @inline(never)
    public static func decodeTile(_ source: UnsafeRawPointer, blockCount: Int, into tile: UnsafeMutablePointer<Float>) {
        for block in 0..<blockCount {
            let base = source + block * blockByteCount
            let out = UnsafeMutableRawPointer(tile + block * PanelGeometry.blockLength * PanelGeometry.panelWidth)
            let (scaleLow, scaleHigh) = scales(base)
            for j in 0..<(PanelGeometry.blockLength / 2) {
                let bytesLow = base.loadUnaligned(fromByteOffset: 32 + 16 * j, as: SIMD8<UInt8>.self)
                let bytesHigh = base.loadUnaligned(fromByteOffset: 40 + 16 * j, as: SIMD8<UInt8>.self)
                let offset = SIMD8<Int32>(repeating: 8)
                let q0 = LaneConversion.int32(bytesLow & 0x0F) &- offset
                let q1 = LaneConversion.int32(bytesHigh & 0x0F) &- offset
                let q2 = LaneConversion.int32(bytesLow &>> 4) &- offset
                let q3 = LaneConversion.int32(bytesHigh &>> 4) &- offset
                out.storeBytes(of: LaneConversion.float(q0) * scaleLow, toByteOffset: 64 * j, as: SIMD8<Float>.self)
                out.storeBytes(of: LaneConversion.float(q1) * scaleHigh, toByteOffset: 64 * j + 32, as: SIMD8<Float>.self)
                out.storeBytes(of: LaneConversion.float(q2) * scaleLow, toByteOffset: 64 * (j + 16), as: SIMD8<Float>.self)
                out.storeBytes(of: LaneConversion.float(q3) * scaleHigh, toByteOffset: 64 * (j + 16) + 32, as: SIMD8<Float>.self)
            }
        }
    }
}

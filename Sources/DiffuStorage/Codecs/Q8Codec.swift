/// `q8`: symmetric int8 blocks, 32 inputs of one lane sharing one f16 scale (llama.cpp's Q8_0 rounding).
/// Panel layout only.
///
/// Block (544 bytes): 16 binary16 scales `d[c]` (bytes 0..<32), then 512 int8 `q` at byte `32 + k · 16 + c`.
/// Value = `d[c] × q`.
///
/// Encoder: `d = amax / 127`, `q = round(x / d)` (half away from zero), scale stored as f16. Error bound
/// per value: `|x − x̂| ≤ amax/254 + amax·2⁻¹¹` (rounding, plus the f16 scale). Blocks stored unchanged
/// (``ScaledIntegerCodec/storeCodes(_:lane:into:)``) may hold any int8 code, −128 included.
public enum Q8Codec: ScaledIntegerCodec {
    /// `"q8"`.
    @inlinable public static var name: String { "q8" }
    /// `true`: both integer routes decode q8 tiles.
    @inlinable public static var hasIntegerKernels: Bool { true }
    /// `nil`: panel layout only.
    @inlinable public static var elementByteCount: Int? { nil }
    /// Any int8.
    @inlinable public static var codeRange: ClosedRange<Int>? { -128...127 }
    /// 544 bytes: 32 bytes of scales, 512 codes.
    @inlinable public static var blockByteCount: Int { 544 }

    /// Quantizes each lane's 32 values with `d = amax / 127`.
    public static func encode(_ values: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        for c in 0..<width {
            var amax: Float = 0
            for k in 0..<length { amax = max(amax, abs(values[c * length + k])) }
            let d = amax / 127
            let inverse = inverseScale(d)
            storeScale(HalfPrecision.float16Bits(d), lane: c, into: block)
            for k in 0..<length {
                let q = Int8((values[c * length + k] * inverse).rounded(.toNearestOrAwayFromZero))
                block.storeBytes(of: q, toByteOffset: 32 + k * width + c, as: Int8.self)
            }
        }
    }

    /// Stores code `k` of the lane at byte `32 + k · 16 + lane`.
    public static func storeCodes(_ codes: SIMD32<Int8>, lane: Int, into block: UnsafeMutableRawPointer) {
        for k in 0..<PanelGeometry.blockLength {
            block.storeBytes(of: codes[k], toByteOffset: 32 + k * PanelGeometry.panelWidth + lane, as: Int8.self)
        }
    }

    /// `d[lane] × q` for each input of the lane.
    public static func decode(_ block: UnsafeRawPointer, lane: Int, count: Int, into output: UnsafeMutablePointer<Float>) {
        let d = scale(block, lane: lane)
        for k in 0..<count {
            output[k] = d * Float(block.load(fromByteOffset: 32 + k * PanelGeometry.panelWidth + lane, as: Int8.self))
        }
    }

    /// Per block and input, 8 lanes at a time: sign-extend (`vpmovsxbd`), convert (`vcvtdq2ps`), scale.
    @inline(never)
    public static func decodeTile(_ source: UnsafeRawPointer, blockCount: Int, into tile: UnsafeMutablePointer<Float>) {
        for block in 0..<blockCount {
            let base = source + block * blockByteCount
            let out = UnsafeMutableRawPointer(tile + block * PanelGeometry.blockLength * PanelGeometry.panelWidth)
            let (scaleLow, scaleHigh) = scales(base)
            for k in 0..<PanelGeometry.blockLength {
                let low = base.loadUnaligned(fromByteOffset: 32 + 16 * k, as: SIMD8<Int8>.self)
                let high = base.loadUnaligned(fromByteOffset: 40 + 16 * k, as: SIMD8<Int8>.self)
                out.storeBytes(of: LaneConversion.float(LaneConversion.int32(low)) * scaleLow,
                               toByteOffset: 64 * k, as: SIMD8<Float>.self)
                out.storeBytes(of: LaneConversion.float(LaneConversion.int32(high)) * scaleHigh,
                               toByteOffset: 64 * k + 32, as: SIMD8<Float>.self)
            }
        }
    }
}

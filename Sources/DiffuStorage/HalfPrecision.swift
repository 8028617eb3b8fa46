/// Scalar and 8-lane conversions between binary32 and the 16-bit float formats.
public enum HalfPrecision {
    /// Rounds a binary32 to bfloat16 bits, to nearest with ties to even (NaN stays NaN).
    @inlinable
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    /// Widens bfloat16 bits to binary32 (exact).
    @inlinable
    public static func float(bfloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Rounds a binary32 to binary16 bits (IEEE round to nearest even).
    @inlinable
    public static func float16Bits(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// Widens binary16 bits to binary32 (exact). On x86-64 without F16C (the baseline and debug builds,
    /// where `Float(Float16)` is a library call) this is lane 0 of ``widen(_:)``, which gives the same bits
    /// for every one of the 65 536 patterns (`HalfPrecisionTests` checks them all).
    @inlinable
    public static func float(float16Bits bits: UInt16) -> Float {
        #if arch(x86_64) && !DIFFU_AVX2
        return widen(SIMD8(repeating: bits))[0]
        #else
        return Float(Float16(bitPattern: bits))
        #endif
    }

    /// 8 binary16 bit patterns → Float, exactly. F16C builds (`DIFFU_AVX2`) use `vcvtph2ps`; the baseline
    /// build (no F16C, where the conversion would be a library call per lane) rebuilds the bits with integer
    /// operations: exponent and mantissa moved into place and rescaled by 2¹¹² (exact for normals and
    /// subnormals), infinities and NaNs given the all-ones exponent, and signaling NaNs quieted (payload
    /// kept) as `vcvtph2ps` and the standard library's conversion do, so every build gives the same bits.
    @inlinable @inline(__always)
    public static func widen(_ bits: SIMD8<UInt16>) -> SIMD8<Float> {
        #if DIFFU_AVX2
        return LaneConversion.float(unsafeBitCast(bits, to: SIMD8<Float16>.self))
        #else
        let wide = LaneConversion.uint32(bits)
        let sign = (wide & 0x8000) &<< 16
        let magnitude = wide & 0x7FFF
        let scaled = unsafeBitCast(magnitude &<< 13, to: SIMD8<Float>.self) * SIMD8(repeating: 0x1p112)
        let infinityOrNaN = (magnitude &<< 13) | 0x7F80_0000
        let quieted = infinityOrNaN.replacing(with: infinityOrNaN | 0x0040_0000, where: magnitude .> 0x7C00)
        let special = unsafeBitCast(quieted, to: SIMD8<Float>.self)
        let value = scaled.replacing(with: special, where: magnitude .>= 0x7C00)
        return unsafeBitCast(unsafeBitCast(value, to: SIMD8<UInt32>.self) | sign, to: SIMD8<Float>.self)
        #endif
    }
}

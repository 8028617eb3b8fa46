// The x86 instructions the AVX-512 kernels need that no Swift source form makes LLVM emit, called
// through the `Builtin` module (this target is compiled with `-parse-stdlib`, as the standard library
// is): each wrapper is one LLVM intrinsic on the vector inside a standard `SIMD` value, `@inlinable` so
// it inlines into the kernels as one instruction.
//
// Why not the loop vectorizer: a scalar `acc &+= Int32(a[i]) &* Int32(b[i])` loop becomes
// `vpmaddwd`/`vpdpwssd` only as a *reduction* (one sum), never the vertical 16-output accumulation a
// GEMM micro-kernel needs; every vertical form tried (interleaved pairs, quads, shifts, `evenHalf`)
// compiled to `vpmulld` or to `vpdpwssd` on half-empty words (tools/kernels/check_assembly.sh keeps
// the evidence that this module's wrappers do emit what they name).
//
// Compiled only for x86-64 release and debug builds with the AVX-512 flags (`DIFFU_AVX512`); the
// caller must have checked the CPU (`KernelVariant`) before any of these run.
import Swift

#if arch(x86_64) && DIFFU_AVX512

/// One-instruction wrappers over AVX-512 F/BW/VNNI intrinsics (512-bit vectors).
public enum AVX512Intrinsics {
    /// `vpdpbusd`: for each 32-bit lane `i`, `accumulator[i] + Σ_{j<4} UInt8(unsigned byte 4i+j) ·
    /// Int8(signed byte 4i+j)` (AVX512-VNNI; no saturation).
    @inlinable @inline(__always)
    public static func dotProductAccumulate(
        _ accumulator: SIMD16<Int32>, unsignedBytes: SIMD16<Int32>, signedBytes: SIMD16<Int32>
    ) -> SIMD16<Int32> {
        var result = accumulator
        result._storage._value = Builtin.int_x86_avx512_vpdpbusd_512(
            accumulator._storage._value, unsignedBytes._storage._value, signedBytes._storage._value)
        return result
    }

    /// `vpermd`: `result[i] = table[indices[i] & 15]` across the whole 512-bit register (AVX-512 F).
    @inlinable @inline(__always)
    public static func permuteLanes(_ table: SIMD16<Int32>, indices: SIMD16<Int32>) -> SIMD16<Int32> {
        var result = table
        result._storage._value = Builtin.int_x86_avx512_permvar_si_512(table._storage._value, indices._storage._value)
        return result
    }

    /// `vpshufb`: inside each 128-bit lane, `result[i] = bytes[lane base + (mask[i] & 15)]`, or 0 when
    /// `mask[i]` has its top bit set (AVX-512 BW).
    @inlinable @inline(__always)
    public static func shuffleBytesInLanes(_ bytes: SIMD64<UInt8>, mask: SIMD64<UInt8>) -> SIMD64<UInt8> {
        var result = bytes
        result._storage._value = Builtin.int_x86_avx512_pshuf_b_512(bytes._storage._value, mask._storage._value)
        return result
    }

    /// `vcvtdq2ps`: each Int32 lane to the nearest Float (exact below 2²⁴ in magnitude).
    @inlinable @inline(__always)
    public static func convertToFloat(_ value: SIMD16<Int32>) -> SIMD16<Float> {
        var result = SIMD16<Float>()
        result._storage._value = Builtin.sitofp_Vec16xInt32_Vec16xFPIEEE32(value._storage._value)
        return result
    }

    /// `vcvttps2dq`: each Float lane to Int32, rounding toward zero (values must be in Int32 range).
    @inlinable @inline(__always)
    public static func truncateToInt32(_ value: SIMD16<Float>) -> SIMD16<Int32> {
        var result = SIMD16<Int32>()
        result._storage._value = Builtin.fptosi_Vec16xFPIEEE32_Vec16xInt32(value._storage._value)
        return result
    }

    /// `vpmovdb`: the low byte of each Int32 lane.
    @inlinable @inline(__always)
    public static func truncateToBytes(_ value: SIMD16<Int32>) -> SIMD16<UInt8> {
        var result = SIMD16<UInt8>()
        result._storage._value = Builtin.trunc_Vec16xInt32_Vec16xInt8(value._storage._value)
        return result
    }

    /// `vpmaxud`: lane-wise unsigned maximum.
    @inlinable @inline(__always)
    public static func maximum(_ a: SIMD16<UInt32>, _ b: SIMD16<UInt32>) -> SIMD16<UInt32> {
        var result = a
        result._storage._value = Builtin.int_umax_Vec16xInt32(a._storage._value, b._storage._value)
        return result
    }

    /// The largest lane (unsigned), by a shuffle-and-`vpmaxud` tree.
    @inlinable @inline(__always)
    public static func horizontalMaximum(_ value: SIMD16<UInt32>) -> UInt32 {
        UInt32(Builtin.int_vector_reduce_umax_Vec16xInt32(value._storage._value))
    }

    /// The wrapping sum of the lanes, by a shuffle-and-add tree.
    @inlinable @inline(__always)
    public static func horizontalSum(_ value: SIMD16<Int32>) -> Int32 {
        Int32(Builtin.int_vector_reduce_add_Vec16xInt32(value._storage._value))
    }

    /// `vpmovzxwd` + `vpslld 16`: 16 bfloat16 bit patterns to Float, exactly (each pattern becomes the
    /// high half of a 32-bit lane).
    @inlinable @inline(__always)
    public static func widenHighHalf(_ bits: SIMD16<UInt16>) -> SIMD16<Float> {
        var wide = SIMD16<UInt32>()
        wide._storage._value = Builtin.zext_Vec16xInt16_Vec16xInt32(bits._storage._value)
        return unsafeBitCast(wide &<< 16, to: SIMD16<Float>.self)
    }

    /// `vmaxps`: lane-wise `a < b ? b : a` — a NaN lane of `a` is kept, a NaN lane of `b` ignored. (The
    /// standard library's `replacing(with:where:)` on 16 lanes compiles lane group by lane group.)
    @inlinable @inline(__always)
    public static func maximum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        var result = a
        let less = Builtin.fcmp_olt_Vec16xFPIEEE32(a._storage._value, b._storage._value)
        result._storage._value = Builtin.select_Vec16xInt1_Vec16xFPIEEE32(less, b._storage._value, a._storage._value)
        return result
    }

    /// `vminps`: lane-wise `b < a ? b : a` — a NaN lane of `a` is kept, a NaN lane of `b` ignored.
    @inlinable @inline(__always)
    public static func minimum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        var result = a
        let less = Builtin.fcmp_olt_Vec16xFPIEEE32(b._storage._value, a._storage._value)
        result._storage._value = Builtin.select_Vec16xInt1_Vec16xFPIEEE32(less, b._storage._value, a._storage._value)
        return result
    }

    /// Lane-wise `x < limit ? replacement : value` (a compare into a mask register and a masked move).
    @inlinable @inline(__always)
    public static func replacing(
        _ value: SIMD16<Float>, with replacement: SIMD16<Float>, whereLessThan limit: SIMD16<Float>, compared x: SIMD16<Float>
    ) -> SIMD16<Float> {
        var result = value
        let less = Builtin.fcmp_olt_Vec16xFPIEEE32(x._storage._value, limit._storage._value)
        result._storage._value = Builtin.select_Vec16xInt1_Vec16xFPIEEE32(less, replacement._storage._value, value._storage._value)
        return result
    }

    /// `vpcmpud` + `vpcompressd` + `popcnt`: the lanes of `values` whose `compared` lane is below `limit`
    /// (unsigned), packed in lane order to the front of the result (the other lanes keep `values`' own), and
    /// how many there are.
    @inlinable @inline(__always)
    public static func compress(
        _ values: SIMD16<Int32>, whereBelow limit: SIMD16<UInt32>, compared: SIMD16<UInt32>
    ) -> (packed: SIMD16<Int32>, count: Int) {
        let below = Builtin.cmp_ult_Vec16xInt32(compared._storage._value, limit._storage._value)
        var packed = values
        packed._storage._value = Builtin.int_x86_avx512_mask_compress_Vec16xInt32(
            values._storage._value, values._storage._value, below)
        let bits: Builtin.Int16 = Builtin.bitcast_Vec16xInt1_Int16(below)
        return (packed, UInt16(bits).nonzeroBitCount)
    }

    /// `vcvtph2ps`: 16 binary16 values to Float, exactly.
    @inlinable @inline(__always)
    public static func widen(_ value: SIMD16<Float16>) -> SIMD16<Float> {
        var result = SIMD16<Float>()
        result._storage._value = Builtin.fpext_Vec16xFPIEEE16_Vec16xFPIEEE32(value._storage._value)
        return result
    }
}

#endif

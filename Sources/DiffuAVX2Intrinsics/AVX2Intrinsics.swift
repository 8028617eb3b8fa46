// The x86 instructions the AVX2 integer kernels need that no Swift source form makes LLVM emit, called
// through the `Builtin` module (this target is compiled with `-parse-stdlib`, as the standard library
// is): each wrapper is one LLVM intrinsic or vector operation on the vector inside a standard `SIMD`
// value, `@inlinable` so it inlines into the kernels as one instruction (256-bit, `-march=x86-64-v3`).
//
// Why not the loop vectorizer: it emits `vpmaddwd` only for a reduction (one sum), never the vertical
// 8-output accumulation a GEMM micro-kernel needs, and never `vpmaddubsw`; `SIMD` conversions between
// lane widths (`init(truncatingIfNeeded:)`) compile lane by lane. tools/kernels/check_assembly.sh keeps
// the evidence that the kernels built on these wrappers do emit what they name.
//
// Compiled only for x86-64 builds with the AVX2 kernel flags (`DIFFU_AVX2_KERNELS`); the caller must
// have checked the CPU (`KernelVariant`) before any of these run.
import Swift

#if arch(x86_64) && DIFFU_AVX2_KERNELS

/// One-instruction wrappers over AVX2 intrinsics (256-bit vectors).
public enum AVX2Intrinsics {
    /// `vpmaddubsw`: for each 16-bit lane `i`, `UInt8(u[2i]) · Int8(s[2i]) + UInt8(u[2i+1]) · Int8(s[2i+1])`,
    /// saturated to Int16.
    @inlinable @inline(__always)
    public static func multiplyAddPairs(unsignedBytes: SIMD8<Int32>, signedBytes: SIMD8<Int32>) -> SIMD16<Int16> {
        var result = SIMD16<Int16>()
        let u = unsafeBitCast(unsignedBytes, to: SIMD32<UInt8>.self), s = unsafeBitCast(signedBytes, to: SIMD32<UInt8>.self)
        result._storage._value = Builtin.int_x86_avx2_pmadd_ub_sw(u._storage._value, s._storage._value)
        return result
    }

    /// `vpmaddwd`: for each 32-bit lane `i`, `Int32(a[2i]) · Int32(b[2i]) + Int32(a[2i+1]) · Int32(b[2i+1])`.
    @inlinable @inline(__always)
    public static func multiplyAddPairs(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
        var result = SIMD8<Int32>()
        result._storage._value = Builtin.int_x86_avx2_pmadd_wd(a._storage._value, b._storage._value)
        return result
    }

    /// `vpaddw`: lane-wise wrapping addition of 16-bit lanes.
    @inlinable @inline(__always)
    public static func add(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD16<Int16> {
        var result = a
        result._storage._value = Builtin.add_Vec16xInt16(a._storage._value, b._storage._value)
        return result
    }

    /// `vpmovsxbd`: 8 signed bytes to 8 Int32 lanes.
    @inlinable @inline(__always)
    public static func signExtend(_ bytes: SIMD8<Int8>) -> SIMD8<Int32> {
        var result = SIMD8<Int32>()
        result._storage._value = Builtin.sext_Vec8xInt8_Vec8xInt32(bytes._storage._value)
        return result
    }

    /// `vpmovzxbd`: 8 unsigned bytes to 8 Int32 lanes.
    @inlinable @inline(__always)
    public static func zeroExtend(_ bytes: SIMD8<UInt8>) -> SIMD8<Int32> {
        var result = SIMD8<Int32>()
        result._storage._value = Builtin.zext_Vec8xInt8_Vec8xInt32(bytes._storage._value)
        return result
    }

    /// `vcvtdq2ps`: each Int32 lane to the nearest Float (exact below 2²⁴ in magnitude).
    @inlinable @inline(__always)
    public static func convertToFloat(_ value: SIMD8<Int32>) -> SIMD8<Float> {
        var result = SIMD8<Float>()
        result._storage._value = Builtin.sitofp_Vec8xInt32_Vec8xFPIEEE32(value._storage._value)
        return result
    }

    /// `vcvttps2dq`: each Float lane to Int32, rounding toward zero (values must be in Int32 range).
    @inlinable @inline(__always)
    public static func truncateToInt32(_ value: SIMD8<Float>) -> SIMD8<Int32> {
        var result = SIMD8<Int32>()
        result._storage._value = Builtin.fptosi_Vec8xFPIEEE32_Vec8xInt32(value._storage._value)
        return result
    }

    /// The low byte of each Int32 lane (a pack/shuffle sequence: AVX2 has no `vpmovdb`).
    @inlinable @inline(__always)
    public static func truncateToBytes(_ value: SIMD8<Int32>) -> SIMD8<Int8> {
        var result = SIMD8<Int8>()
        result._storage._value = Builtin.trunc_Vec8xInt32_Vec8xInt8(value._storage._value)
        return result
    }

    /// The low 16 bits of each Int32 lane.
    @inlinable @inline(__always)
    public static func truncateToInt16(_ value: SIMD8<Int32>) -> SIMD8<Int16> {
        var result = SIMD8<Int16>()
        result._storage._value = Builtin.trunc_Vec8xInt32_Vec8xInt16(value._storage._value)
        return result
    }

    /// `vpmaxud`: lane-wise unsigned maximum.
    @inlinable @inline(__always)
    public static func maximum(_ a: SIMD8<UInt32>, _ b: SIMD8<UInt32>) -> SIMD8<UInt32> {
        var result = a
        result._storage._value = Builtin.int_umax_Vec8xInt32(a._storage._value, b._storage._value)
        return result
    }

    /// The largest lane, unsigned (a short shuffle-and-maximum tree).
    @inlinable @inline(__always)
    public static func horizontalMaximum(_ value: SIMD8<UInt32>) -> UInt32 {
        UInt32(Builtin.int_vector_reduce_umax_Vec8xInt32(value._storage._value))
    }

    /// The wrapping sum of all lanes.
    @inlinable @inline(__always)
    public static func horizontalSum(_ value: SIMD8<Int32>) -> Int32 {
        Int32(Builtin.int_vector_reduce_add_Vec8xInt32(value._storage._value))
    }

    /// `vcvtph2ps`: 8 half-precision values to Float (F16C).
    @inlinable @inline(__always)
    public static func widen(_ value: SIMD8<Float16>) -> SIMD8<Float> {
        var result = SIMD8<Float>()
        result._storage._value = Builtin.fpext_Vec8xFPIEEE16_Vec8xFPIEEE32(value._storage._value)
        return result
    }
}
#endif

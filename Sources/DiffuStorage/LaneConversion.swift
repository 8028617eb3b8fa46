/// The 8-lane conversions of the tile decoders, each a loop over the lanes marked `@inline(__always)`.
///
/// They compute what the standard library's `SIMD8` conversion initializers compute (the same scalar
/// conversion per lane), but those initializers are generic functions the optimizer specializes without
/// always inlining, and a multi-threaded whole-module build (SwiftPM's release build) emits such a
/// specialization in the object of the first file that uses it: every other file then calls it, once
/// per 8 lanes (the q4 tile decoder did, in its own file). These loops inline into every caller, and LLVM
/// turns each into one instruction under `-march=x86-64-v3` (`vcvtph2ps`, `vcvtdq2ps`, `vpmovsxbd`,
/// `vpmovzxbd`, `vpmovzxwd`; `tools/kernels/check_assembly.sh` checks the tile decoders).
@usableFromInline
enum LaneConversion {
    /// Binary16 → Float, per lane (exact).
    @inlinable @inline(__always)
    static func float(_ lanes: SIMD8<Float16>) -> SIMD8<Float> {
        var result = SIMD8<Float>()
        for index in 0..<8 { result[index] = Float(lanes[index]) }
        return result
    }

    /// Int32 → Float, per lane (exact for the codes of the integer types).
    @inlinable @inline(__always)
    static func float(_ lanes: SIMD8<Int32>) -> SIMD8<Float> {
        var result = SIMD8<Float>()
        for index in 0..<8 { result[index] = Float(lanes[index]) }
        return result
    }

    /// Int8 → Int32, sign-extended.
    @inlinable @inline(__always)
    static func int32(_ lanes: SIMD8<Int8>) -> SIMD8<Int32> {
        var result = SIMD8<Int32>()
        for index in 0..<8 { result[index] = Int32(lanes[index]) }
        return result
    }

    /// UInt8 → Int32, zero-extended.
    @inlinable @inline(__always)
    static func int32(_ lanes: SIMD8<UInt8>) -> SIMD8<Int32> {
        var result = SIMD8<Int32>()
        for index in 0..<8 { result[index] = Int32(lanes[index]) }
        return result
    }

    /// UInt16 → UInt32, zero-extended.
    @inlinable @inline(__always)
    static func uint32(_ lanes: SIMD8<UInt16>) -> SIMD8<UInt32> {
        var result = SIMD8<UInt32>()
        for index in 0..<8 { result[index] = UInt32(lanes[index]) }
        return result
    }
}

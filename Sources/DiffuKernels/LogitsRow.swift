#if arch(x86_64) && DIFFU_AVX512
import DiffuKernelsAVX512
#endif

/// The softmax weights of one row of logits over a vocabulary, as the samplers define them: `w = eˣ` with
/// `x = logit − maximum` in single precision (``exponential(_:)``), and their sum in double precision in a fixed
/// order. Every variant computes the same bits, so the variant a CPU runs never changes a draw.
///
/// Layout: `count` contiguous Floats, written in place.
public enum LogitsRow {
    /// Below this, `eˣ` is under the smallest normal Float (2⁻¹²⁶) and the weight is 0: such a token is
    /// below the top token by a factor of 2¹²⁶, beneath the resolution of every double-precision sum and
    /// draw that follows, so no result can depend on it.
    public static let lowestExponent: Float = -87.336_54

    /// `eˣ` in single precision for x ≤ 0: 0 below ``lowestExponent``, NaN for NaN; within 8.2e-8
    /// relative error of the exact value on [−87.34, 0] (under one unit in the last place), equal to the
    /// correctly rounded `Float(exp(Double(x)))` for 99.16 % of all Floats in [−87.34, 0] and one unit off for
    /// the rest (checked over every one of them, for every variant: `swift run -c release
    /// check-sampler-exponential`) — the rounding the f32 weights of the reference's own softmax carry.
    ///
    /// Method (Cephes' `expf`): `x = n·ln2 + r` with the Cody–Waite split of ln2 (`0.693359375` exact in
    /// 9 bits, so `n·ln2_hi` is exact), `eʳ ≈ 1 + r + r²·p(r)` with `p` of degree 5 on |r| ≤ ln2/2, `2ⁿ`
    /// from exponent bits. Plain multiplies and adds — no fused multiply-add, whatever the CPU has, so that
    /// every variant (the 16-lane one in `DiffuKernelsAVX512.WideLogitsRow` too) rounds the same way — and
    /// no branch, so the loop of ``exponentials(_:count:maximum:variant:)`` vectorizes at the build's width.
    @inline(__always)
    public static func exponential(_ x: Float) -> Float {
        // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low mantissa bits.
        let magic: Float = 12_582_912
        let shifted = x * 1.442_695_04 + magic
        let n = shifted - magic
        let r = (x - n * 0.693_359_375) - n * -2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let power = p * (r * r) + r + 1
        let exponent = Int32(bitPattern: shifted.bitPattern) &- Int32(bitPattern: magic.bitPattern)
        let scale = Float(bitPattern: UInt32(bitPattern: (exponent &+ 127) &<< 23))
        return x < lowestExponent ? 0 : power * scale
    }

    /// `row[i] = eˣ` with `x = row[i] − maximum` (``exponential(_:)``) for every `i < count`, and returns
    /// Σ row[i] in double precision, summed in this order (every variant the same): for each whole chunk of 16
    /// floats, its first 8 lanes go to one `SIMD8<Double>` partial sum and its last 8 to another; the partial sums
    /// are added as `(low + high).sum()`; then the tail after the last whole chunk is added in index order.
    ///
    /// `avx512` runs the fused 16-lane loop of `WideLogitsRow` (one pass: the exponentials, their store and the
    /// sum); the other variants run two passes at the build's width (the exponentials, then the sum over the
    /// row, now in cache).
    ///
    /// - Parameter variant: the kernel set to run (``KernelVariant/active`` by default; it must be supported).
    public static func exponentials(_ row: UnsafeMutablePointer<Float>, count: Int, maximum: Float,
                                    variant: KernelVariant = .active) -> Double {
        #if arch(x86_64) && DIFFU_AVX512
        if variant == .avx512 { return WideLogitsRow.exponentials(row, count: count, maximum: maximum) }
        #endif
        for index in 0..<count { row[index] = exponential(row[index] - maximum) }
        var low = SIMD8<Double>(), high = low
        var index = 0
        while index + 16 <= count {
            low += SIMD8<Double>(UnsafeRawPointer(row + index).loadUnaligned(as: SIMD8<Float>.self))
            high += SIMD8<Double>(UnsafeRawPointer(row + index + 8).loadUnaligned(as: SIMD8<Float>.self))
            index += 16
        }
        var total = (low + high).sum()
        while index < count { total += Double(row[index]); index += 1 }
        return total
    }

    /// Writes the indices `i < count` whose weight `row[i]` lies in an exponent bucket of `buckets` (`bitPattern >> 23`:
    /// exactly the positive normal floats of those exponents, for buckets within 1 ..< 255) to the front of `output`,
    /// ascending, and returns how many there are. `output` must hold `count + 16` Int32s (the `avx512` variant stores
    /// whole 16-lane chunks; the others store one index per element, also where it is not a member). Zeros, subnormals,
    /// negative values, infinities and NaN are never members.
    ///
    /// `avx512` packs 16 lanes per compare by `vpcompressd`; the other variants run a branch-free scalar loop
    /// (every index stored, the count advanced by one unsigned compare: a range that holds every other token costs
    /// no mispredicted branches).
    ///
    /// - Parameter variant: the kernel set to run (``KernelVariant/active`` by default; it must be supported).
    public static func indices(inBuckets buckets: Range<Int>, _ row: UnsafePointer<Float>, count: Int,
                               into output: UnsafeMutablePointer<Int32>, variant: KernelVariant = .active) -> Int {
        let lower = UInt32(clamping: min(max(buckets.lowerBound, 1), 255))
        let upper = UInt32(clamping: min(max(buckets.upperBound, 1), 255))
        guard lower < upper else { return 0 }
        let first = lower << 23, width = (upper - lower) << 23
        #if arch(x86_64) && DIFFU_AVX512
        if variant == .avx512 { return WideLogitsRow.indices(from: first, width: width, row, count: count, into: output) }
        #endif
        var found = 0
        for index in 0..<count {
            output[found] = Int32(truncatingIfNeeded: index)
            found &+= Int(unsafeBitCast(row[index].bitPattern &- first < width, to: UInt8.self))
        }
        return found
    }
}

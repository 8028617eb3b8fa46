/// Vectorized elementary functions for the kernels, written in pure Swift (no C math library).
///
/// All functions work on `SIMD8<Float>` (one AVX register in release builds) with plain multiplies and
/// adds (no fused multiply-add, so portable builds without FMA stay fast), and reach about 1e-7 relative
/// accuracy over the ranges the transformer needs.
public enum FastMath {
    /// `eˣ` for every lane. Relative error ≲ 2e-7 for x in [-87.3, 88]; returns exactly 0 below -87.3
    /// (so that masked attention scores of `-∞` contribute nothing) and `e⁸⁸` above 88.
    ///
    /// Method: `x = n·ln2 + r` with `|r| ≤ ln2/2` (Cody–Waite split of ln2, exact `n·ln2_hi`), degree-7
    /// Taylor polynomial of `eʳ` (truncation error `r⁸/8! < 6e-9`), and `2ⁿ` built from exponent bits.
    @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let lowest = SIMD8<Float>(repeating: -87.33654)
        let clamped = minimum(maximum(x, lowest), SIMD8(repeating: 88))
        // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low mantissa bits.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = clamped * SIMD8(repeating: 1.442_695_04) + magic
        let n = shifted - magic
        let r = (clamped - n * SIMD8(repeating: 0.693_359_375)) - n * SIMD8(repeating: -2.121_944_4e-4)
        var p = SIMD8<Float>(repeating: 1.0 / 5040)
        p = p * r + SIMD8(repeating: 1.0 / 720)
        p = p * r + SIMD8(repeating: 1.0 / 120)
        p = p * r + SIMD8(repeating: 1.0 / 24)
        p = p * r + SIMD8(repeating: 1.0 / 6)
        p = p * r + SIMD8(repeating: 0.5)
        p = p * r + SIMD8(repeating: 1)
        p = p * r + SIMD8(repeating: 1)
        let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let scale = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
        return (p * scale).replacing(with: 0, where: x .< lowest)
    }

    /// Lane-wise maximum. (The standard library's `pointwiseMax` and `clamped` are emitted as out-of-line
    /// generic specializations in this toolchain — 6 % of a forward pass in calls; compare-and-select
    /// inlines to a compare and a blend.) A NaN lane of `a` is kept (so `exp` propagates NaN); a NaN lane
    /// of `b` is ignored.
    @inline(__always)
    public static func maximum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        a.replacing(with: b, where: a .< b)
    }

    /// Lane-wise minimum (see `maximum`): a NaN lane of `a` is kept, of `b` ignored.
    @inline(__always)
    public static func minimum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        a.replacing(with: b, where: b .< a)
    }

    /// The largest lane (for the softmax maxima; NaN lanes give no guarantee).
    @inline(__always)
    public static func horizontalMaximum(_ x: SIMD8<Float>) -> Float {
        let half = maximum(x.lowHalf, x.highHalf)
        return Swift.max(Swift.max(half[0], half[1]), Swift.max(half[2], half[3]))
    }

    @inline(__always)
    private static func maximum(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> {
        a.replacing(with: b, where: a .< b)
    }

    /// The logistic function `1 / (1 + e⁻ˣ)` for every lane.
    @inline(__always)
    public static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8(repeating: 1) / (SIMD8(repeating: 1) + exp(-x))
    }

    /// `tanh x` for every lane, relative error ≲ 4e-7.
    ///
    /// `|x| < 0.4`: odd Taylor series to x¹³ (truncation < 2e-9 relative); otherwise
    /// `1 − 2 / (e²ˣ + 1)` on `|x|` with the sign restored (no cancellation there since `tanh ≥ 0.38`).
    @inline(__always)
    public static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let magnitude = x.replacing(with: -x, where: x .< 0)
        let large = SIMD8<Float>(repeating: 1) - SIMD8(repeating: 2) / (exp(magnitude + magnitude) + SIMD8(repeating: 1))
        let signedLarge = large.replacing(with: -large, where: x .< 0)
        let square = x * x
        var p = SIMD8<Float>(repeating: 21844.0 / 6_081_075)
        p = p * square - SIMD8(repeating: 1382.0 / 155_925)
        p = p * square + SIMD8(repeating: 62.0 / 2835)
        p = p * square - SIMD8(repeating: 17.0 / 315)
        p = p * square + SIMD8(repeating: 2.0 / 15)
        p = p * square - SIMD8(repeating: 1.0 / 3)
        let small = x + x * square * p
        return small.replacing(with: signedLarge, where: magnitude .>= 0.4)
    }

    /// Scalar `eˣ` through the vector routine (for setup code and loop tails).
    @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(SIMD8(repeating: x))[0] }

    /// Scalar `tanh x` through the vector routine.
    @inline(__always)
    public static func tanh(_ x: Float) -> Float { tanh(SIMD8(repeating: x))[0] }
}

/// Double-precision elementary functions for tables computed once (RoPE frequencies and angles), written
/// in pure Swift. Accuracy ≈ 1e-15 relative, so rounding the result to `Float` gives the correctly
/// rounded single-precision value in all but rare ties.
public enum PreciseMath {
    /// Natural logarithm of a positive finite `x`.
    public static func log(_ x: Double) -> Double {
        precondition(x > 0 && x.isFinite, "log of a non-positive or non-finite value")
        // x = m · 2^e with m in [√½, √2).
        var exponent = Double(x.exponent)
        var m = x.significand  // [1, 2)
        if m > 1.414_213_562_373_095 { m /= 2; exponent += 1 }
        // log m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.1716: series to s²¹ (error < 1e-17).
        let s = (m - 1) / (m + 1)
        let square = s * s
        var series = 0.0
        var power = s
        var denominator = 1.0
        for _ in 0..<11 {
            series += power / denominator
            power *= square
            denominator += 2
        }
        return 2 * series + exponent * 0.693_147_180_559_945_3
    }

    /// `eˣ` for `|x| < 700`.
    public static func exp(_ x: Double) -> Double {
        precondition(x.isFinite && abs(x) < 700, "exp argument out of range")
        let n = (x / 0.693_147_180_559_945_3).rounded()
        // ln 2 split so that n · ln2High is exact for |n| < 2¹⁰.
        let r = (x - n * 0.693_147_180_369_123_8) - n * 1.908_214_929_270_587_7e-10
        var term = 1.0, sum = 1.0
        for k in 1...20 {
            term *= r / Double(k)
            sum += term
        }
        return Double(sign: .plus, exponent: Int(n), significand: sum)
    }

    /// `xʸ` for positive `x`.
    public static func pow(_ x: Double, _ y: Double) -> Double { exp(y * log(x)) }

    /// `(sin θ, cos θ)` for `|θ| < 1e6`.
    public static func sineCosine(_ angle: Double) -> (sine: Double, cosine: Double) {
        precondition(angle.isFinite && abs(angle) < 1e6, "angle out of range")
        // Reduce by π/2 with a three-part split of π/2 (fdlibm's constants): error ≈ |k|·1e-32.
        let k = (angle * 0.636_619_772_367_581_4).rounded()
        let r = ((angle - k * 1.570_796_326_734_125_6) - k * 6.077_100_506_303_966e-11)
            - k * 2.022_266_248_795_950_7e-21
        let square = r * r
        var sine = 0.0, cosine = 0.0
        var sineTerm = r, cosineTerm = 1.0
        for index in 0..<12 {
            sine += sineTerm
            cosine += cosineTerm
            let twice = Double(2 * index)
            sineTerm *= -square / ((twice + 2) * (twice + 3))
            cosineTerm *= -square / ((twice + 1) * (twice + 2))
        }
        switch Int(k) & 3 {
        case 0: return (sine, cosine)
        case 1: return (cosine, -sine)
        case 2: return (-sine, -cosine)
        default: return (-cosine, sine)
        }
    }
}

/// Multiply-add helpers for the hot loops.
enum Arithmetic {
    /// `c + a·b`: one fused multiply-add in AVX2/FMA builds (`DIFFU_AVX2`), a multiply and an add
    /// otherwise (a fused operation without hardware FMA would be a slow library call per lane).
    @inline(__always)
    static func multiplyAdd(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
        #if DIFFU_AVX2
        return c.addingProduct(a, b)
        #else
        return c + a * b
        #endif
    }
}

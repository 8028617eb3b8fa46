#if arch(x86_64) && DIFFU_AVX512
import DiffuAVX512Intrinsics

/// The `avx512` variants of `DiffuKernels.LogitsRow`: the samplers' softmax weights of one logits row at 16
/// lanes, in one pass (the exponentials, their store and the double-precision sum), and the indices of a range of
/// exponent buckets of those weights (the nucleus filter's candidates) by compress-stores.
///
/// Layout: `count` contiguous Floats, rewritten in place.
///
/// Bit for bit the result of `LogitsRow.exponentials` on every other variant: the same Cephes polynomial in
/// the same order with plain multiplies and adds (no fused multiply-add, though this variant has it), the
/// same cut-off, and the same summation order — two `SIMD8<Double>` partial sums, one per half of each
/// 16-float chunk (`vcvtps2pd zmm`), then `(low + high).sum()`, then the tail in index order.
public enum WideLogitsRow {
    /// `row[i] = eˣ`, `x = row[i] − maximum`, and Σ row[i] in the documented order (see the type).
    public static func exponentials(_ row: UnsafeMutablePointer<Float>, count: Int, maximum: Float) -> Double {
        var low = SIMD8<Double>(), high = low
        let shift = SIMD16<Float>(repeating: maximum)
        var index = 0
        while index + 16 <= count {
            let raw = UnsafeMutableRawPointer(row + index)
            let weights = exponential(raw.loadUnaligned(as: SIMD16<Float>.self) - shift)
            raw.storeBytes(of: weights, as: SIMD16<Float>.self)
            low += SIMD8<Double>(weights.lowHalf)
            high += SIMD8<Double>(weights.highHalf)
            index += 16
        }
        var total = (low + high).sum()
        while index < count {
            row[index] = exponential(SIMD16<Float>(repeating: row[index] - maximum))[0]
            total += Double(row[index])
            index += 1
        }
        return total
    }

    /// The indices `i` whose bit pattern `b = row[i].bitPattern` satisfies `b − first < width` (unsigned, wrapping: the
    /// positive floats from `first` on, `width` patterns of them), ascending, at the front of `output`; returns how
    /// many. 16 lanes per compare-and-compress (`vpcompressd`), each chunk's packed indices stored whole: `output` must
    /// hold `count + 16` Int32s.
    public static func indices(from first: UInt32, width: UInt32, _ row: UnsafePointer<Float>, count: Int,
                               into output: UnsafeMutablePointer<Int32>) -> Int {
        let firsts = SIMD16<UInt32>(repeating: first), widths = SIMD16<UInt32>(repeating: width)
        var lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let step = SIMD16<Int32>(repeating: 16)
        var found = 0, index = 0
        while index + 16 <= count {
            let bits = UnsafeRawPointer(row + index).loadUnaligned(as: SIMD16<UInt32>.self)
            let (packed, members) = AVX512Intrinsics.compress(lanes, whereBelow: widths, compared: bits &- firsts)
            UnsafeMutableRawPointer(output + found).storeBytes(of: packed, as: SIMD16<Int32>.self)
            found &+= members
            lanes &+= step
            index += 16
        }
        while index < count {
            if row[index].bitPattern &- first < width { output[found] = Int32(truncatingIfNeeded: index); found += 1 }
            index += 1
        }
        return found
    }

    /// `eˣ` per lane, each lane exactly `LogitsRow.exponential(x)`: 0 below −87.33654 (and for −∞), NaN for NaN.
    @inline(__always)
    static func exponential(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let magic = SIMD16<Float>(repeating: 12_582_912)
        let shifted = x * SIMD16(repeating: 1.442_695_04) + magic
        let n = shifted - magic
        let r = (x - n * SIMD16(repeating: 0.693_359_375)) - n * SIMD16(repeating: -2.121_944_4e-4)
        var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
        p = p * r + SIMD16(repeating: 1.398_199_95e-3)
        p = p * r + SIMD16(repeating: 8.333_451_9e-3)
        p = p * r + SIMD16(repeating: 4.166_579_59e-2)
        p = p * r + SIMD16(repeating: 1.666_666_55e-1)
        p = p * r + SIMD16(repeating: 5.000_000_12e-1)
        let power = p * (r * r) + r + SIMD16(repeating: 1)
        let exponent = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        let scale = unsafeBitCast((exponent &+ 127) &<< 23, to: SIMD16<Float>.self)
        return AVX512Intrinsics.replacing(power * scale, with: .zero, whereLessThan: SIMD16(repeating: -87.336_54), compared: x)
    }
}
#endif

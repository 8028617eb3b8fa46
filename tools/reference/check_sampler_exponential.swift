// Checks the samplers' exponential (RowPreparer.exponentials, single precision) for EVERY Float x in
// [-87.33654, 0] against the correctly rounded value Float(exp(Double(x))): how many are equal, how many
// differ by 1, 2, … units in the last place, and the largest relative error against the exact value;
// and that every x below RowPreparer.lowestExponent (down to -104) gives 0. Not part of the package build
// or CI (about a billion values; ~2 minutes). Run from the repository root:
//   mkdir -p .build && swiftc -O -Xcc -march=x86-64-v3 -parse-as-library Sources/DiffuSamplers/*.swift tools/reference/check_sampler_exponential.swift -o .build/check_sampler_exponential
//   .build/check_sampler_exponential
import Foundation

@main
struct SamplerExponentialCheck {
    static func main() {
        // Non-positive floats from -0 down to the cutoff, then on to -104 (bit patterns grow as x falls).
        let cutoff = RowPreparer.lowestExponent.bitPattern, last = (-104 as Float).bitPattern
        var histogram = [Int](repeating: 0, count: 4)  // 0, 1, 2, ≥ 3 ulp
        var worstRelative = 0.0, worstAt: Float = 0, nonZeroBelow = 0, checked = 0
        var bits: UInt32 = 0x8000_0000
        while bits <= last {
            let count = Int(min(last - bits + 1, 4096))
            var row = (0..<count).map { Float(bitPattern: bits + UInt32($0)) }
            let inputs = row
            _ = row.withUnsafeMutableBufferPointer { RowPreparer.exponentials($0.baseAddress!, count: count, maximum: 0) }
            for index in 0..<count {
                let x = inputs[index]
                if x.bitPattern > cutoff {
                    if row[index] != 0 { nonZeroBelow += 1 }
                    continue
                }
                let exact = Foundation.exp(Double(x))
                let rounded = Float(exact)
                let distance = Int(row[index].bitPattern) - Int(rounded.bitPattern)
                histogram[min(abs(distance), 3)] += 1
                let relative = abs(Double(row[index]) - exact) / exact
                if relative > worstRelative { worstRelative = relative; worstAt = x }
            }
            checked += count
            bits += UInt32(count)
        }
        let inRange = histogram.reduce(0, +)
        print("checked \(checked) floats in [-104, 0]; \(inRange) in [\(RowPreparer.lowestExponent), 0]:")
        print("  equal to Float(exp(Double(x))): \(histogram[0]) (\(String(format: "%.2f", 100 * Double(histogram[0]) / Double(inRange))) %)")
        print("  1 ulp off: \(histogram[1]), 2 ulp: \(histogram[2]), 3 or more: \(histogram[3])")
        print("  largest relative error against exp(x): \(worstRelative) (at x = \(worstAt))")
        print("  below the cutoff, non-zero results: \(nonZeroBelow)")
    }
}

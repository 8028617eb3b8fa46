// Checks the samplers' exponential (DiffuKernels.LogitsRow.exponentials, single precision), for every kernel
// variant this CPU runs, on EVERY Float x in [-87.33654, 0] against the correctly rounded value
// Float(exp(Double(x))): how many are equal, how many differ by 1, 2, … units in the last place, and the
// largest relative error against the exact value; that every x below LogitsRow.lowestExponent (down to -104)
// gives 0; and that every variant returns the same bits (weights and sums) as the first. Exits 1 on a
// difference between variants or a non-zero weight below the cut-off. Not part of CI (about a billion values per
// variant; ~1 minute each). Run from the repository root:
//   swift run -c release SamplerExponentialCheck
import DiffuKernels
import Foundation

@main
struct SamplerExponentialCheck {
    static func main() {
        let variants = KernelVariant.supported
        var failed = false
        // Non-positive floats from -0 down to the cutoff, then on to -104 (bit patterns grow as x falls).
        let cutoff = LogitsRow.lowestExponent.bitPattern, last = (-104 as Float).bitPattern
        for variant in variants {
            var histogram = [Int](repeating: 0, count: 4)  // 0, 1, 2, ≥ 3 ulp
            var worstRelative = 0.0, worstAt: Float = 0, nonZeroBelow = 0, checked = 0, differences = 0
            var bits: UInt32 = 0x8000_0000
            while bits <= last {
                // 4099 per row: whole 16-lane chunks and a tail, so both paths of every variant are checked.
                let count = Int(min(last - bits + 1, 4099))
                let inputs = (0..<count).map { Float(bitPattern: bits + UInt32($0)) }
                var row = inputs
                let sum = row.withUnsafeMutableBufferPointer {
                    LogitsRow.exponentials($0.baseAddress!, count: count, maximum: 0, variant: variant)
                }
                if variant != variants[0] {
                    var first = inputs
                    let firstSum = first.withUnsafeMutableBufferPointer {
                        LogitsRow.exponentials($0.baseAddress!, count: count, maximum: 0, variant: variants[0])
                    }
                    if firstSum.bitPattern != sum.bitPattern || first.map(\.bitPattern) != row.map(\.bitPattern) { differences += 1 }
                }
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
            print("variant \(variant): checked \(checked) floats in [-104, 0]; \(inRange) in [\(LogitsRow.lowestExponent), 0]:")
            print("  equal to Float(exp(Double(x))): \(histogram[0]) (\(String(format: "%.2f", 100 * Double(histogram[0]) / Double(inRange))) %)")
            print("  1 ulp off: \(histogram[1]), 2 ulp: \(histogram[2]), 3 or more: \(histogram[3])")
            print("  largest relative error against exp(x): \(worstRelative) (at x = \(worstAt))")
            print("  below the cutoff, non-zero results: \(nonZeroBelow)")
            if variant != variants[0] { print("  rows whose weights or sum differ from variant \(variants[0]): \(differences)") }
            failed = failed || nonZeroBelow > 0 || differences > 0
        }
        if failed { exit(1) }
    }
}

// Compares the samplers' exponential (RowPreparer.exponential, double-precision polynomial rounded to
// Float) with the C library's `expf` for EVERY Float x in [-104, 0]: counts the values where the two
// differ, the largest difference in units in the last place, and which of the two agrees with the
// double-precision `exp` rounded to Float (the correctly rounded value except in astronomically rare cases). Not part of the package build or CI
// (about a billion values; ~1 minute). Run from the repository root:
//   mkdir -p .build && swiftc -O -Xcc -march=x86-64-v3 -parse-as-library Sources/DiffuSamplers/*.swift tools/reference/check_sampler_exponential.swift -o .build/check_sampler_exponential
//   .build/check_sampler_exponential
import Foundation

@main
struct SamplerExponentialCheck {
    static func main() {
        // Non-positive floats from -0 down to -104 (bit patterns 0x8000_0000 ... bits of -104).
        let last = (-104 as Float).bitPattern
        var differing = 0, worst: UInt32 = 0, checked = 0
        var example: Float = 0
        var oursCorrect = 0, libraryCorrect = 0
        var bits: UInt32 = 0x8000_0000
        while bits <= last {
            let count = Int(min(last - bits + 1, 4096))
            var row = (0..<count).map { Float(bitPattern: bits + UInt32($0)) }
            let expected = row.map { expf($0) }
            _ = row.withUnsafeMutableBufferPointer { RowPreparer.exponentials($0.baseAddress!, count: count, maximum: 0) }
            for index in 0..<count where row[index] != expected[index] {
                differing += 1
                let rounded = Float(Foundation.exp(Double(Float(bitPattern: bits + UInt32(index)))))
                if row[index] == rounded { oursCorrect += 1 }
                if expected[index] == rounded { libraryCorrect += 1 }
                let distance = row[index].bitPattern > expected[index].bitPattern
                    ? row[index].bitPattern - expected[index].bitPattern : expected[index].bitPattern - row[index].bitPattern
                if distance > worst { worst = distance; example = Float(bitPattern: bits + UInt32(index)) }
            }
            checked += count
            bits += UInt32(count)
        }
        print("checked \(checked) floats in [-104, 0]: \(differing) differ from expf, largest difference \(worst) ulp (at x = \(example))")
        print("where they differ, Float(exp(Double(x))) equals ours \(oursCorrect) times, expf's \(libraryCorrect) times")
    }
}

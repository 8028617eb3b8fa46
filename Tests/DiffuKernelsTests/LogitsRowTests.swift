import DiffuKernels
import DiffuTestSupport
import Foundation
import Testing

/// The samplers' softmax weights (`LogitsRow`) on every variant this CPU runs, against double-precision
/// `exp` (the reference) and against each other (every variant must give the same bits, so the CPU never
/// changes a draw).
@Suite struct LogitsRowTests {
    /// Logits spread over [-110, 10) with a few special values, `count` of them.
    static func logits(_ count: Int, seed: UInt64) -> [Float] {
        var random = KernelRandom(seed)
        return (0..<count).map { index in
            switch index % 97 {
            case 13: -.infinity
            case 41: -1e30
            default: random.next() * 60 - 50
            }
        }
    }

    @Test(arguments: [0, 1, 7, 15, 16, 17, 31, 33, 4099, 49157])
    func weightsMatchDoubleExponentialOnEveryVariant(count: Int) {
        let input = Self.logits(count, seed: UInt64(count) + 5)
        let maximum = input.max() ?? 0
        var firstBits: [UInt32]? = nil
        var firstSum: Double? = nil
        for variant in KernelVariant.supported {
            var row = input + [7]  // a sentinel past the row: nothing may be written there
            let sum = row.withUnsafeMutableBufferPointer {
                LogitsRow.exponentials($0.baseAddress!, count: count, maximum: maximum, variant: variant)
            }
            #expect(row.removeLast() == 7, "\(variant) count \(count): wrote past the row")
            var worstUlps = 0, nonZeroBelow = 0
            var exactSum = 0.0
            for index in 0..<count {
                let x = input[index] - maximum
                if x < LogitsRow.lowestExponent {
                    if row[index] != 0 { nonZeroBelow += 1 }
                    continue
                }
                let rounded = Float(Foundation.exp(Double(x)))
                worstUlps = max(worstUlps, abs(Int(row[index].bitPattern) - Int(rounded.bitPattern)))
                exactSum += Foundation.exp(Double(x))
            }
            #expect(worstUlps <= 1, "\(variant) count \(count): a weight is \(worstUlps) ulp from Float(exp(Double(x)))")
            #expect(nonZeroBelow == 0, "\(variant) count \(count): \(nonZeroBelow) weights below the cut-off are not 0")
            #expect(abs(sum - exactSum) <= 1e-6 * max(exactSum, 1e-300), "\(variant) count \(count): Σ \(sum), exact \(exactSum)")
            let bits = row.map(\.bitPattern)
            if let firstBits, let firstSum {
                #expect(bits == firstBits, "\(variant) count \(count): weights differ from \(KernelVariant.supported[0])'s")
                #expect(sum.bitPattern == firstSum.bitPattern, "\(variant) count \(count): Σ \(sum) differs from \(firstSum)")
            } else {
                firstBits = bits
                firstSum = sum
            }
        }
    }

    @Test func notANumberStaysNotANumber() {
        for variant in KernelVariant.supported {
            var row = [Float](repeating: -3, count: 40)
            row[5] = .nan
            row[37] = .nan
            _ = row.withUnsafeMutableBufferPointer {
                LogitsRow.exponentials($0.baseAddress!, count: 40, maximum: 0, variant: variant)
            }
            #expect(row[5].isNaN && row[37].isNaN, "\(variant)")
            #expect(row[6] == Float(Foundation.exp(-3.0)) || abs(Int(row[6].bitPattern) - Int(Float(Foundation.exp(-3.0)).bitPattern)) <= 1,
                    "\(variant)")
        }
    }

    @Test(arguments: [1, 15, 16, 17, 4099])
    func bucketIndicesAreTheMembersInOrderOnEveryVariant(count: Int) {
        var random = KernelRandom(UInt64(count) * 3 + 1)
        // Weights in (0, 1] over a few exponents, and what is never a member of buckets 1 ... 254: zeros (±), NaN
        // (±), ±∞ (bucket 255), a negative weight and a subnormal (bucket 0).
        let row: [Float] = (0..<count).map { index in
            switch index % 23 {
            case 3: 0
            case 5: -0.0
            case 9: .nan
            case 11: -Float.nan
            case 13: -0.5
            case 15: Float.leastNonzeroMagnitude * 7
            case 17: .infinity
            case 19: -.infinity
            default: Float(Foundation.exp(Double(random.next() * 6 - 6)))
            }
        }
        let buckets = Set(row.filter { $0 > 0 && $0.isNormal }.map { Int($0.bitPattern >> 23) }).sorted()
        #expect(!buckets.isEmpty)
        for variant in KernelVariant.supported {
            let ranges = buckets.map { $0..<($0 + 1) } + buckets.map { $0..<255 } + [1..<255, 1..<2, 254..<255, 120..<120, 0..<300]
            for range in ranges {
                let expected = row.indices.filter { row[$0] > 0 && row[$0].isNormal && range.contains(Int(row[$0].bitPattern >> 23)) }
                var output = [Int32](repeating: -1, count: count + 16)
                let found = row.withUnsafeBufferPointer { values in
                    output.withUnsafeMutableBufferPointer {
                        LogitsRow.indices(inBuckets: range, values.baseAddress!, count: count, into: $0.baseAddress!, variant: variant)
                    }
                }
                #expect(found == expected.count, "\(variant) buckets \(range): \(found) members, want \(expected.count)")
                #expect(output[0..<min(found, output.count)].map(Int.init) == expected, "\(variant) buckets \(range)")
            }
        }
    }
}

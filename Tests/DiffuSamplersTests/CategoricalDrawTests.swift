import Testing
import DiffuSamplers

/// The inverse-CDF draw (`SeededRandomSource.inverseCumulativeIndex`) against an exact reference: weights
/// that are multiples of 2⁻¹⁰ (so every prefix sum is exact in `Double`, whatever the summation order),
/// the index whose exact half-open interval `[prefix(i), prefix(i+1))` holds `uniform · total`. Covers
/// vocabularies across several 64-weight blocks, runs of zero weights (whole blocks of them, leading
/// and trailing), uniforms at 0, at exact interval boundaries and just below 1.
@Suite struct CategoricalDrawTests {
    /// The exact reference: integer weights in units of 2⁻¹⁰, integer arithmetic on the target.
    static func reference(uniform: Double, units: [Int]) -> Int {
        let total = units.reduce(0, +)
        let target = uniform * Double(total)  // exact: total < 2⁵³ and the product of a uniform by it is rounded once
        var prefix = 0
        for (index, weight) in units.enumerated() where weight > 0 {
            prefix += weight
            if target < Double(prefix) { return index }
        }
        return units.lastIndex { $0 > 0 }!
    }

    @Test(arguments: [1, 3, 63, 64, 65, 200, 1000, 4099])
    func matchesExactReference(count: Int) {
        var state: UInt64 = 0x9E37_79B9 &+ UInt64(count)
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        for trial in 0..<20 {
            // Mostly zeros in some trials (sparse rows after top-p), whole zero blocks in others.
            var units = (0..<count).map { index -> Int in
                let r = next() % 100
                if trial % 3 == 0 && r < 80 { return 0 }
                if trial % 3 == 1 && (index / 64) % 2 == 1 { return 0 }
                return Int(next() % 4096)
            }
            if units.allSatisfy({ $0 == 0 }) { units[count / 2] = 1 }
            let weights = units.map { Float($0) / 1024 }
            let total = units.reduce(0, +)
            var uniforms: [Double] = [0, 0.999_999_999_999]
            for _ in 0..<30 { uniforms.append(Double(next() % 1_000_000) / 1_000_000) }
            // Exact interval boundaries: uniform · total lands exactly on a prefix sum.
            var prefix = 0
            for weight in units.prefix(5) { prefix += weight; uniforms.append(Double(prefix) / Double(total)) }
            for uniform in uniforms where uniform < 1 {
                let expected = Self.reference(uniform: uniform, units: units)
                let got = weights.withUnsafeBufferPointer {
                    SeededRandomSource.inverseCumulativeIndex(uniform: uniform, weights: $0)
                }
                #expect(got == expected, "count \(count) trial \(trial) uniform \(uniform)")
                #expect(weights[got] > 0)
            }
        }
    }
}

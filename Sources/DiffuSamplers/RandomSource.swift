/// The one protocol through which all randomness enters a sampler.
///
/// Samplers consume draws in a documented order (see ``DiffusionSampler``), so a recorded list of
/// draws replays a run exactly (``RecordedRandomSource``).
public protocol RandomSource {
    /// A uniform draw in `[0, 1)`.
    mutating func nextUniform() -> Double
    /// A categorical draw: an index `i` with probability `weights[i] / Σ weights`.
    ///
    /// `probabilities` holds non-negative finite weights that need not sum to 1 (zero means
    /// impossible); at least one is positive.
    mutating func nextCategorical(probabilities: UnsafeBufferPointer<Float>) -> Int
    /// Whether ``nextCategorical(probabilities:)`` is exactly
    /// ``inverseCumulativeIndex(uniform:weights:)`` of one ``nextUniform()``. When it is, a sampler may
    /// take a categorical's uniform early and compute the weights only if the outcome is used (random-keep
    /// skips the rows of positions it does not reveal); the draws and results are the same.
    var categoricalIsInverseCumulativeOfOneUniform: Bool { get }
}

extension RandomSource {
    /// `false`: a source whose categorical draws are not one uniform through the inverse CDF (a replay of
    /// recorded outcomes, for instance) is asked for every categorical the documented order contains.
    public var categoricalIsInverseCumulativeOfOneUniform: Bool { false }

    /// Inverse-CDF categorical draw from one uniform: the first index whose running sum of weights
    /// exceeds `uniform · Σ weights` (sums in `Double`); zero-weight entries are never returned.
    ///
    /// One vectorizable pass sums blocks of ``drawBlockLength`` weights (four interleaved partial sums
    /// each); the walk then adds whole blocks until the target falls inside one and goes weight by weight
    /// only there, continuing into the next blocks should rounding put the target past the block's end
    /// (the running sums are the block sums, not one sequential chain, so a uniform within ~1e-16 of a
    /// boundary may pick the neighbour a purely sequential sum would — the distribution is the same).
    public static func inverseCumulativeIndex(uniform: Double, weights: UnsafeBufferPointer<Float>) -> Int {
        guard let base = weights.baseAddress, !weights.isEmpty else { return 0 }
        var lastPositive = weights.count - 1
        while lastPositive >= 0 && !(base[lastPositive] > 0) { lastPositive -= 1 }
        guard lastPositive >= 0 else { return 0 }
        let blockLength = drawBlockLength
        let blockCount = (weights.count + blockLength - 1) / blockLength
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: blockCount) { blockSums in
            var total = 0.0
            for block in 0..<blockCount {
                let sum = blockSum(base + block * blockLength, count: min(blockLength, weights.count - block * blockLength))
                blockSums[block] = sum
                total += sum
            }
            let target = uniform * total
            var running = 0.0
            var block = 0
            while block < blockCount - 1 && !(target < running + blockSums[block]) {
                running += blockSums[block]
                block += 1
            }
            for index in (block * blockLength)..<weights.count where base[index] > 0 {
                running += Double(base[index])
                if target < running { return index }
            }
            return lastPositive
        }
    }

    /// Weights per block of ``inverseCumulativeIndex(uniform:weights:)``'s first pass.
    static var drawBlockLength: Int { 64 }

    /// Σ of `count` weights (those that are not positive count as 0) in four interleaved `Double`
    /// partial sums.
    @inline(__always)
    static func blockSum(_ weights: UnsafePointer<Float>, count: Int) -> Double {
        @inline(__always) func positive(_ index: Int) -> Double { weights[index] > 0 ? Double(weights[index]) : 0 }
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var index = 0
        while index + 4 <= count {
            s0 += positive(index); s1 += positive(index + 1); s2 += positive(index + 2); s3 += positive(index + 3)
            index += 4
        }
        while index < count { s0 += positive(index); index += 1 }
        return (s0 + s1) + (s2 + s3)
    }
}

/// The default seeded generator: xoshiro256** (Blackman & Vigna), state seeded from a 64-bit seed
/// through ``SplitMix64``.
///
/// - ``nextUniform()`` is `(next() >> 11) · 2⁻⁵³` (53 random bits, in `[0, 1)`).
/// - ``nextCategorical(probabilities:)`` is the inverse-CDF draw of one ``nextUniform()``.
/// The same seed gives the same sequence on every platform.
public struct SeededRandomSource: RandomSource, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// Creates a generator from a seed (any value, zero included).
    public init(seed: UInt64) {
        var splitMix = SplitMix64(state: seed)
        state = (splitMix.next(), splitMix.next(), splitMix.next(), splitMix.next())
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    /// A uniform draw in `[0, 1)` with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// An inverse-CDF categorical draw over non-negative weights.
    public mutating func nextCategorical(probabilities: UnsafeBufferPointer<Float>) -> Int {
        Self.inverseCumulativeIndex(uniform: nextUniform(), weights: probabilities)
    }

    /// `true`: ``nextCategorical(probabilities:)`` is the inverse CDF of one ``nextUniform()``.
    public var categoricalIsInverseCumulativeOfOneUniform: Bool { true }

    private func rotateLeft(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }
}

/// A random source that replays recorded draws, for reproducing a reference run token-exactly.
///
/// Uniform and categorical draws come from two separate queues, each consumed in order. When a queue
/// runs dry the source returns a fallback (0.0, or the first positive weight) and sets
/// ``exhausted``; a test then fails on that flag rather than on a trap. Optionally each categorical
/// draw is checked against the probability the reference assigned to the drawn index and the number
/// of tokens with non-zero probability (which pins down temperature and top-p/top-k filtering); any
/// disagreement is appended to ``mismatches``.
public struct RecordedRandomSource: RandomSource, Sendable {
    /// What the reference knew about one categorical draw.
    public struct CategoricalCheck: Sendable, Equatable {
        /// The reference's probability of the drawn index (weights normalised).
        public var probability: Double
        /// How many indices had non-zero probability.
        public var supportSize: Int
        /// Creates a check.
        public init(probability: Double, supportSize: Int) {
            self.probability = probability
            self.supportSize = supportSize
        }
    }

    /// The recorded uniforms, in consumption order.
    public let uniforms: [Double]
    /// The recorded categorical outcomes, in consumption order.
    public let categoricals: [Int]
    /// Optional per-draw checks, parallel to ``categoricals``.
    public let checks: [CategoricalCheck]?
    /// Relative tolerance for ``CategoricalCheck/probability``.
    public let probabilityTolerance: Double
    /// How many uniforms have been consumed.
    public private(set) var uniformsConsumed = 0
    /// How many categorical draws have been consumed.
    public private(set) var categoricalsConsumed = 0
    /// Set when a draw was requested after its queue ran dry.
    public private(set) var exhausted = false
    /// Descriptions of categorical draws that disagreed with the recorded checks.
    public private(set) var mismatches: [String] = []

    /// Creates a replaying source.
    public init(uniforms: [Double], categoricals: [Int], checks: [CategoricalCheck]? = nil,
                probabilityTolerance: Double = 1e-4) {
        self.uniforms = uniforms
        self.categoricals = categoricals
        self.checks = checks
        self.probabilityTolerance = probabilityTolerance
    }

    /// Whether every recorded draw was consumed and none was missing.
    public var consumedExactly: Bool {
        !exhausted && uniformsConsumed == uniforms.count && categoricalsConsumed == categoricals.count
    }

    /// The next recorded uniform.
    public mutating func nextUniform() -> Double {
        guard uniformsConsumed < uniforms.count else {
            exhausted = true
            return 0
        }
        defer { uniformsConsumed += 1 }
        return uniforms[uniformsConsumed]
    }

    /// The next recorded categorical outcome, checked against the weights when checks were given.
    public mutating func nextCategorical(probabilities: UnsafeBufferPointer<Float>) -> Int {
        guard categoricalsConsumed < categoricals.count else {
            exhausted = true
            return probabilities.firstIndex(where: { $0 > 0 }) ?? 0
        }
        let drawIndex = categoricalsConsumed
        categoricalsConsumed += 1
        let index = categoricals[drawIndex]
        guard index >= 0, index < probabilities.count else {
            mismatches.append("draw \(drawIndex): recorded index \(index) outside 0..<\(probabilities.count)")
            return 0
        }
        if let checks, drawIndex < checks.count {
            var total = 0.0
            var support = 0
            for weight in probabilities where weight > 0 {
                total += Double(weight)
                support += 1
            }
            let probability = total > 0 ? Double(probabilities[index]) / total : 0
            let expected = checks[drawIndex]
            if support != expected.supportSize {
                mismatches.append("draw \(drawIndex): support \(support), reference \(expected.supportSize)")
            }
            if abs(probability - expected.probability) > probabilityTolerance * max(expected.probability, 1e-12) {
                mismatches.append("draw \(drawIndex): p(\(index)) = \(probability), reference \(expected.probability)")
            }
        }
        return index
    }
}

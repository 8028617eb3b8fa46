import Foundation
import Testing
import DiffuSamplers

/// Observer order, cancellation, validation, canvases, AR mode, block announcements and the nucleus
/// filter on a large vocabulary.
@Suite struct SamplerBehaviourTests {
    static let vocabulary = 48
    static let mask: Int32 = 47

    func provider() -> FakeLogitsProvider {
        FakeLogitsProvider(vocabularySize: Self.vocabulary, maskToken: Self.mask)
    }

    @Test(arguments: SamplerAlgorithm.allCases)
    func observerSeesStepsInOrder(algorithm: SamplerAlgorithm) throws {
        let parameters = SamplingParameters(algorithm: algorithm, maskToken: Self.mask, steps: 6, temperature: 0.9,
                                            topP: algorithm.acceptsTopP ? 0.9 : nil)
        let sampler = try DiffusionSampler(parameters: parameters)
        let canvas = try Canvas.prefix(prompt: [3, 9, 12], generationLength: 10)
        var random = SeededRandomSource(seed: 7)
        var events: [SamplerStep] = []
        let result = try sampler.generate(canvas: canvas, provider: provider(), random: &random) { step in
            events.append(step)
            return .proceed
        }
        #expect(events.map(\.index) == Array(0..<events.count))
        #expect(events.count == result.steps)
        var previous = canvas.tokens.enumerated().map { canvas.isFixed[$0.offset] ? $0.element : Self.mask }
        var remaining = canvas.generatedPositions.count
        for event in events {
            #expect(event.plannedSteps == 6)
            // Exactly the reported positions changed from mask to a token; nothing else moved.
            for position in 0..<canvas.count {
                if event.revealed.contains(position) {
                    #expect(previous[position] == Self.mask && event.tokens[position] != Self.mask)
                } else {
                    #expect(event.tokens[position] == previous[position])
                }
            }
            remaining -= event.revealed.count
            #expect(event.remainingMasks == remaining)
            previous = event.tokens
        }
        #expect(remaining == 0)
        #expect(result.tokens == previous)
        #expect(!result.tokens.contains(Self.mask))
    }

    @Test func observerStopsTheLoop() throws {
        let sampler = try DiffusionSampler(parameters: .randomKeep(maskToken: Self.mask, steps: 10))
        let canvas = try Canvas.prefix(prompt: [1, 2], generationLength: 12)
        let logits = provider()
        var random = SeededRandomSource(seed: 3)
        var seen = 0
        var revealingSteps = 0
        let result = try sampler.generate(canvas: canvas, provider: logits, random: &random) { step in
            seen += 1
            revealingSteps += step.revealed.isEmpty ? 0 : 1
            return step.index == 2 ? .stop : .proceed
        }
        #expect(seen == 3)
        #expect(result.stopped)
        #expect(result.steps == 3)
        // random-keep asks only for the rows it reveals: a step that reveals none runs no forward pass.
        #expect(logits.requests.count == revealingSteps)
        #expect(result.forwardPasses == revealingSteps)
        // With 10 steps, three steps reveal each position with probability ≤ 1/8: masks remain.
        #expect(result.tokens.contains(Self.mask))
        #expect(Array(result.tokens[0..<2]) == [1, 2])
    }

    @Test func seededRunsAreReproducible() throws {
        let sampler = try DiffusionSampler(parameters: .dream(maskToken: Self.mask, steps: 8, algorithm: .maskgitPlus,
                                                              temperature: 0.8))
        let canvas = try Canvas.prefix(prompt: [5, 6, 7], generationLength: 16)
        var first = SeededRandomSource(seed: 11)
        var second = SeededRandomSource(seed: 11)
        var other = SeededRandomSource(seed: 12)
        let a = try sampler.generate(canvas: canvas, provider: provider(), random: &first)
        let b = try sampler.generate(canvas: canvas, provider: provider(), random: &second)
        let c = try sampler.generate(canvas: canvas, provider: provider(), random: &other)
        #expect(a == b)
        #expect(a.tokens != c.tokens)
    }

    @Test func autoregressiveModeIsGreedyLeftToRight() throws {
        let sampler = try DiffusionSampler(parameters: .autoregressive(maskToken: Self.mask))
        let prompt: [Int32] = [4, 8, 15]
        let canvas = try Canvas.prefix(prompt: prompt, generationLength: 7)
        let logits = provider()
        var random = SeededRandomSource(seed: 0)
        let result = try sampler.generate(canvas: canvas, provider: logits, random: &random)
        // Independent loop: causal logits of row j−1, argmax, append.
        var expected = prompt
        let check = provider()
        while expected.count < canvas.count {
            let padded = expected + Array(repeating: Self.mask, count: canvas.count - expected.count)
            let row = try check.logits(tokens: padded, positions: [expected.count - 1], causal: true)
            expected.append(Int32(row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }!))
        }
        #expect(result.tokens == expected)
        #expect(logits.requests.map(\.positions) == (2..<9).map { [$0] })
        #expect(logits.requests.allSatisfy { $0.causal })
    }

    @Test func blockCachingProviderSeesBlocksInOrderWithAFrozenPrefix() throws {
        final class Recording: BlockCachingLogitsProvider, @unchecked Sendable {
            let inner = FakeLogitsProvider(vocabularySize: SamplerBehaviourTests.vocabulary, maskToken: SamplerBehaviourTests.mask)
            var blocks: [Range<Int>] = []
            var prefixAtBlockStart: [Int32] = []
            var prefixChanged = false
            var vocabularySize: Int { inner.vocabularySize }
            func beginBlock(_ block: Range<Int>, tokens: [Int32]) throws {
                blocks.append(block)
                prefixAtBlockStart = Array(tokens[..<block.lowerBound])
            }
            func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
                if let block = blocks.last, Array(tokens[..<block.lowerBound]) != prefixAtBlockStart { prefixChanged = true }
                if let block = blocks.last, positions.contains(where: { $0 >= block.upperBound }) { prefixChanged = true }
                return try inner.logits(tokens: tokens, positions: positions, causal: causal)
            }
        }
        let parameters = SamplingParameters(algorithm: .entropy, maskToken: Self.mask, steps: 8, temperature: 0.7,
                                            topP: 0.95, blockLength: 5)
        let sampler = try DiffusionSampler(parameters: parameters)
        let canvas = try Canvas.prefix(prompt: [1, 2, 3], generationLength: 13)
        let logits = Recording()
        var random = SeededRandomSource(seed: 5)
        let result = try sampler.generate(canvas: canvas, provider: logits, random: &random)
        #expect(logits.blocks == [3..<8, 8..<13, 13..<16])
        #expect(!logits.prefixChanged)
        #expect(!result.tokens.contains(Self.mask))
    }

    @Test func thresholdDecodingRevealsAtLeastOnePerStep() throws {
        for threshold: Float in [0.99, 0.1, 0.0] {
            let parameters = SamplingParameters(algorithm: .maskgitPlus, maskToken: Self.mask, steps: 1, temperature: 0,
                                                confidenceThreshold: threshold)
            let sampler = try DiffusionSampler(parameters: parameters)
            let canvas = try Canvas.prefix(prompt: [9], generationLength: 9)
            var random = SeededRandomSource(seed: 1)
            var counts: [Int] = []
            let result = try sampler.generate(canvas: canvas, provider: provider(), random: &random) { step in
                #expect(step.plannedSteps == nil)
                counts.append(step.revealed.count)
                return .proceed
            }
            #expect(counts.allSatisfy { $0 >= 1 })
            #expect(counts.reduce(0, +) == 9)
            #expect(!result.tokens.contains(Self.mask))
            if threshold == 0.99 { #expect(counts == Array(repeating: 1, count: 9)) }
            if threshold == 0.0 { #expect(counts == [9]) }
        }
    }

    @Test func canvasLayouts() throws {
        let infill = try Canvas.infill(prefix: [1, 2], middleLength: 3, suffix: [7, 8])
        #expect(infill.tokens == [1, 2, 0, 0, 0, 7, 8])
        #expect(infill.isFixed == [true, true, false, false, false, true, true])
        #expect(infill.generatedPositions == [2, 3, 4])
        let instruction = try Canvas.instruction(beginToken: 1, source: [20, 21], separatorToken: 4936, targetLength: 2)
        #expect(instruction.tokens == [1, 20, 21, 4936, 0, 0])
        #expect(instruction.isFixed == [true, true, true, true, false, false])
        let unconditional = try Canvas.unconditional(length: 3)
        #expect(unconditional.isFixed == [false, false, false])
        #expect(throws: SamplerError.emptyCanvas) { try Canvas.unconditional(length: 0) }
        #expect(throws: SamplerError.invalidLength(-1)) { try Canvas.infill(prefix: [1], middleLength: -1, suffix: []) }
        #expect(throws: SamplerError.canvasLengthMismatch(tokens: 2, flags: 1)) { try Canvas(tokens: [1, 2], isFixed: [true]) }
    }

    @Test func infillKeepsPrefixAndSuffix() throws {
        let sampler = try DiffusionSampler(parameters: .confidence(maskToken: Self.mask, steps: 4, greedy: true))
        let canvas = try Canvas.infill(prefix: [1, 2, 3], middleLength: 5, suffix: [10, 11])
        var random = SeededRandomSource(seed: 0)
        let result = try sampler.generate(canvas: canvas, provider: provider(), random: &random)
        #expect(Array(result.tokens[0..<3]) == [1, 2, 3])
        #expect(Array(result.tokens[8...]) == [10, 11])
        #expect(result.generatedPositions == [3, 4, 5, 6, 7])
    }

    @Test func absurdParametersAreTypedErrors() throws {
        func make(_ change: (inout SamplingParameters) -> Void, algorithm: SamplerAlgorithm = .maskgitPlus) -> SamplingParameters {
            var parameters = SamplingParameters(algorithm: algorithm, maskToken: 1, steps: 4, temperature: 0.5)
            change(&parameters)
            return parameters
        }
        let cases: [(SamplingParameters, SamplerError)] = [
            (make { $0.steps = 0 }, .invalidSteps(0)),
            (make { $0.steps = -3 }, .invalidSteps(-3)),
            (make { $0.temperature = -1 }, .invalidTemperature(-1)),
            (make { $0.temperature = .infinity }, .invalidTemperature(.infinity)),
            (make { $0.topP = 0 }, .invalidTopP(0)),
            (make { $0.topP = 1.5 }, .invalidTopP(1.5)),
            (make { $0.topK = 0 }, .invalidTopK(0)),
            (make { $0.epsilon = 1 }, .invalidEpsilon(1)),
            (make { $0.algorithmTemperature = -0.5 }, .invalidAlgorithmTemperature(-0.5)),
            (make { $0.blockLength = 0 }, .invalidBlockLength(0)),
            (make { $0.confidenceThreshold = .infinity }, .invalidThreshold(.infinity)),
            (make({ $0.blockLength = 4 }, algorithm: .randomKeep), .unsupportedParameter(algorithm: .randomKeep, parameter: "block length")),
            (make({ $0.topP = 0.9 }, algorithm: .confidence), .unsupportedParameter(algorithm: .confidence, parameter: "top-p")),
            (make({ $0.confidenceThreshold = 0.9 }, algorithm: .origin), .unsupportedParameter(algorithm: .origin, parameter: "confidence threshold")),
            (make({ $0.guidanceScale = -1 }, algorithm: .lowConfidence), .invalidGuidanceScale(-1)),
            (make({ $0.guidanceScale = .infinity }, algorithm: .randomRemask), .invalidGuidanceScale(.infinity)),
            (make({ $0.guidanceScale = 1 }, algorithm: .entropy), .unsupportedParameter(algorithm: .entropy, parameter: "guidance scale")),
            (make({ $0.topP = 0.9 }, algorithm: .lowConfidence), .unsupportedParameter(algorithm: .lowConfidence, parameter: "top-p")),
            (make({ $0.topK = 5 }, algorithm: .randomRemask), .unsupportedParameter(algorithm: .randomRemask, parameter: "top-k")),
            (make({ $0.confidenceThreshold = 0.9 }, algorithm: .lowConfidence),
             .unsupportedParameter(algorithm: .lowConfidence, parameter: "confidence threshold")),
        ]
        for (parameters, error) in cases {
            #expect(throws: error) { try DiffusionSampler(parameters: parameters) }
            #expect(!error.description.isEmpty)
        }
        var nan = make { _ in }
        nan.temperature = .nan
        #expect(throws: SamplerError.self) { try DiffusionSampler(parameters: nan) }
        nan = make { $0.topP = .nan }
        #expect(throws: SamplerError.self) { try DiffusionSampler(parameters: nan) }
        nan = make({ $0.guidanceScale = .nan }, algorithm: .lowConfidence)
        #expect(throws: SamplerError.self) { try DiffusionSampler(parameters: nan) }
        // LLaDA's sampler takes the block schedule and guidance.
        #expect(throws: Never.self) { try DiffusionSampler(parameters: .llada(maskToken: Self.mask, steps: 8, blockLength: 4, guidanceScale: 2)) }
    }

    @Test func badVocabularyAndLogitsAreTypedErrors() throws {
        var random = SeededRandomSource(seed: 0)
        let canvas = try Canvas.prefix(prompt: [1], generationLength: 3)
        let outside = try DiffusionSampler(parameters: .randomKeep(maskToken: 48))
        #expect(throws: SamplerError.maskTokenOutOfVocabulary(token: 48, vocabularySize: 48)) {
            try outside.generate(canvas: canvas, provider: provider(), random: &random)
        }
        let sampler = try DiffusionSampler(parameters: .randomKeep(maskToken: Self.mask))
        let badToken = try Canvas.prefix(prompt: [1, 99], generationLength: 3)
        #expect(throws: SamplerError.tokenOutOfVocabulary(position: 1, token: 99, vocabularySize: 48)) {
            try sampler.generate(canvas: badToken, provider: provider(), random: &random)
        }
        struct Short: LogitsProvider {
            var vocabularySize: Int { 8 }
            func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] { [0, 1] }
        }
        struct NotANumber: LogitsProvider {
            var vocabularySize: Int { 8 }
            func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
                Array(repeating: .nan, count: positions.count * 8)
            }
        }
        // One step: it is the last, so random-keep reveals (and asks for) every masked row.
        let small = try DiffusionSampler(parameters: .randomKeep(maskToken: 7, steps: 1))
        #expect(throws: SamplerError.logitsCountMismatch(expected: 24, actual: 2)) {
            try small.generate(canvas: canvas, provider: Short(), random: &random)
        }
        #expect(throws: SamplerError.invalidLogits(row: 0)) {
            try small.generate(canvas: canvas, provider: NotANumber(), random: &random)
        }
        // LLaDA's sampler (no shift: row 1 predicts the first generated position), with and without guidance.
        for guidance: Float in [0, 1.5] {
            let llada = try DiffusionSampler(parameters: .llada(maskToken: 7, steps: 2, blockLength: nil, temperature: 0.5, guidanceScale: guidance))
            #expect(throws: SamplerError.logitsCountMismatch(expected: 24, actual: 2)) {
                try llada.generate(canvas: canvas, provider: Short(), random: &random)
            }
            #expect(throws: SamplerError.invalidLogits(row: 1)) {
                try llada.generate(canvas: canvas, provider: NotANumber(), random: &random)
            }
        }
    }

    /// Classifier-free guidance: every step asks for the same rows of the canvas and then of a copy whose
    /// fixed positions (prompt and suffix) hold the mask id, the generated positions unchanged.
    @Test func guidancePassMasksEveryFixedPosition() throws {
        final class Recording: LogitsProvider, @unchecked Sendable {
            let inner: FakeLogitsProvider
            var calls: [(tokens: [Int32], positions: [Int])] = []
            init(_ inner: FakeLogitsProvider) { self.inner = inner }
            var vocabularySize: Int { inner.vocabularySize }
            func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
                calls.append((tokens, positions))
                return try inner.logits(tokens: tokens, positions: positions, causal: causal)
            }
        }
        let provider = Recording(provider())
        let canvas = try Canvas.infill(prefix: [3, 9], middleLength: 6, suffix: [12])
        let sampler = try DiffusionSampler(parameters: .llada(maskToken: Self.mask, steps: 4, blockLength: 3, guidanceScale: 2))
        var random = SeededRandomSource(seed: 1)
        let result = try sampler.generate(canvas: canvas, provider: provider, random: &random)
        #expect(result.forwardPasses == 8 && provider.calls.count == 8)
        for pair in stride(from: 0, to: provider.calls.count, by: 2) {
            let (conditional, unconditional) = (provider.calls[pair], provider.calls[pair + 1])
            #expect(conditional.positions == unconditional.positions)
            for position in canvas.tokens.indices {
                let expected = canvas.isFixed[position] ? Self.mask : conditional.tokens[position]
                #expect(unconditional.tokens[position] == expected)
            }
            #expect(Array(conditional.tokens[0..<2]) == [3, 9] && conditional.tokens[8] == 12)
        }
    }

    /// The reference's nucleus by a full sort: tokens by descending weight (ties by index, the sort is
    /// stable), kept while the mass before them is ≤ p of the total (the top token always).
    static func referenceNucleus(_ weights: [Double], topP: Float) -> Set<Int> {
        let total = weights.reduce(0, +)
        var kept = Set<Int>()
        var before = 0.0
        for index in weights.indices.sorted(by: { weights[$0] > weights[$1] }) {
            if !kept.isEmpty && before / total > Double(topP) { break }
            kept.insert(index)
            before += weights[index]
        }
        return kept
    }

    @Test func nucleusOnALargeVocabularyMatchesAFullSort() throws {
        // Logits spread over [0, 40): most tokens fall below the first sorting cutoff, and p = 0.9999
        // forces the filter to widen it; the support must equal a naive full-vocabulary sort.
        final class CapturingSource: RandomSource {
            var supports: [Set<Int>] = []
            func nextUniform() -> Double { 0.5 }
            func nextCategorical(probabilities: UnsafeBufferPointer<Float>) -> Int {
                supports.append(Set(probabilities.indices.filter { probabilities[$0] > 0 }))
                return probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
            }
        }
        struct Spread: LogitsProvider {
            var vocabularySize: Int { 5000 }
            func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
                positions.flatMap { row in
                    (0..<5000).map { token in
                        Float(FakeLogitsProvider.mix(UInt64(row * 7919 + token)) >> 40) * 0x1.0p-24 * 40
                    }
                }
            }
        }
        for topP: Float in [0.5, 0.9, 0.9999] {
            let sampler = try DiffusionSampler(parameters: .randomKeep(maskToken: 0, temperature: 1, topP: topP, steps: 1,
                                                                       shiftLogits: false))
            let canvas = try Canvas.prefix(prompt: [], generationLength: 2)
            var source = CapturingSource()
            _ = try sampler.generate(canvas: canvas, provider: Spread(), random: &source)
            let rows = try Spread().logits(tokens: [0, 0], positions: [0, 1], causal: false)
            for row in 0..<2 {
                let logits = Array(rows[(row * 5000)..<((row + 1) * 5000)])
                let maximum = logits.max()!
                let weights = logits.map { Double(expf($0 - maximum)) }
                let kept = Self.referenceNucleus(weights, topP: topP)
                #expect(source.supports[row] == kept, "top-p \(topP) row \(row): \(source.supports[row].count) vs \(kept.count)")
            }
        }
    }

    /// Rows whose nucleus closes inside a crowded exponent bucket (a flat distribution, logits on a coarse
    /// grid so that thousands of tokens tie, and a long-tailed shape), and a steep row whose tail lies far below
    /// the filter's candidate floor (the path that buckets only the candidates): the kept support must equal a full
    /// sort of the same weights (descending, ties by index) walked with the reference's rule. The weights
    /// are captured from the same sampler without top-p, so the check isolates the filter (its bucket and
    /// sub-bucket walk) from the exponential.
    @Test(arguments: [0.3, 0.9, 0.95, 0.999_999_94] as [Float])
    func nucleusClosingInACrowdedBucketMatchesAFullSort(topP: Float) throws {
        final class CapturingSource: RandomSource {
            var supports: [[Float]] = []
            func nextUniform() -> Double { 0.5 }
            func nextCategorical(probabilities: UnsafeBufferPointer<Float>) -> Int {
                supports.append(Array(probabilities))
                return probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
            }
        }
        struct Crowded: LogitsProvider {
            var vocabularySize: Int { 49152 }
            func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
                positions.flatMap { row in
                    (0..<49152).map { token -> Float in
                        let unit = Float(FakeLogitsProvider.mix(UInt64(row * 104_729 + token)) >> 40) * 0x1.0p-24
                        let square = unit * unit
                        switch row % 4 {
                        case 0: return (unit * 64).rounded(.down) / 64          // flat, 64 levels: ties everywhere
                        case 1: return 12 * square * square * square            // most near 0, a few up to 12
                        case 2: return (unit * 6).rounded(.down)               // 6 levels, ~8 k tokens each
                        default: return 60 * square * square * square * square  // steep: most 60 below the top
                        }
                    }
                }
            }
        }
        func supports(_ topP: Float?) throws -> [[Float]] {
            let sampler = try DiffusionSampler(parameters: .randomKeep(maskToken: 49151, temperature: 1, topP: topP ?? 1, steps: 1,
                                                                       shiftLogits: false))
            var source = CapturingSource()
            _ = try sampler.generate(canvas: try Canvas.prefix(prompt: [], generationLength: 4), provider: Crowded(), random: &source)
            return source.supports
        }
        let filtered = try supports(topP), unfiltered = try supports(nil)
        #expect(filtered.count == 4 && unfiltered.count == 4)
        for row in 0..<min(filtered.count, unfiltered.count) {
            let weights = unfiltered[row].map(Double.init)
            let kept = Self.referenceNucleus(weights, topP: topP)
            let support = Set(filtered[row].indices.filter { filtered[row][$0] > 0 })
            #expect(support == kept, "top-p \(topP) row \(row): \(support.count) kept vs \(kept.count) in the full sort")
        }
    }

    /// Dream's entropy and top-k margin confidences do not depend on the drawn token, so with a seeded source the
    /// sampler takes every position's uniform in order and searches only the rows it reveals; a source that does not
    /// declare its categorical as one uniform's inverse CDF (the same generator behind a wrapper) draws every token on
    /// the way. Both must reveal the same tokens at the same steps — with ranked and sampled slot choice, a confidence
    /// threshold, blocks and top-k.
    @Test(arguments: [SamplerAlgorithm.entropy, .topkMargin])
    func deferredDreamDrawsMatchTheEagerPath(algorithm: SamplerAlgorithm) throws {
        struct Opaque: RandomSource {
            var inner: SeededRandomSource
            mutating func nextUniform() -> Double { inner.nextUniform() }
            mutating func nextCategorical(probabilities: UnsafeBufferPointer<Float>) -> Int {
                inner.nextCategorical(probabilities: probabilities)
            }
        }
        var variants: [SamplingParameters] = []
        for (steps, blockLength, topK) in [(5, nil, nil), (12, 8, 7), (20, nil, 3)] as [(Int, Int?, Int?)] {
            var parameters = SamplingParameters.dream(maskToken: Self.mask, steps: steps, algorithm: algorithm, temperature: 0.8,
                                                      topP: 0.95, topK: topK, blockLength: blockLength)
            variants.append(parameters)
            parameters.algorithmTemperature = 0.5
            variants.append(parameters)
        }
        var threshold = SamplingParameters.dream(maskToken: Self.mask, steps: 8, algorithm: algorithm, temperature: 0.7)
        threshold.confidenceThreshold = algorithm == .entropy ? -1.5 : 0.05
        variants.append(threshold)
        for (index, parameters) in variants.enumerated() {
            let sampler = try DiffusionSampler(parameters: parameters)
            let canvas = try Canvas.prefix(prompt: [3, 9, 12], generationLength: 24)
            var deferredEvents: [[Int32]] = [], eagerEvents: [[Int32]] = []
            var seeded = SeededRandomSource(seed: UInt64(index) + 11)
            var opaque = Opaque(inner: SeededRandomSource(seed: UInt64(index) + 11))
            let deferred = try sampler.generate(canvas: canvas, provider: provider(), random: &seeded) { step in
                deferredEvents.append(step.tokens)
                return .proceed
            }
            let eager = try sampler.generate(canvas: canvas, provider: provider(), random: &opaque) { step in
                eagerEvents.append(step.tokens)
                return .proceed
            }
            #expect(deferred.tokens == eager.tokens, "\(algorithm) variant \(index)")
            #expect(deferredEvents == eagerEvents, "\(algorithm) variant \(index)")
            #expect(!deferred.tokens.contains(Self.mask), "\(algorithm) variant \(index)")
            #expect(seeded.nextUniform() == opaque.nextUniform(), "\(algorithm) variant \(index): the sources drifted apart")
        }
    }

    /// random-keep with a seeded source asks only for the rows it reveals; a source that does not declare
    /// its categorical as one uniform's inverse CDF (here: the same generator behind a wrapper) takes the
    /// reference's path, which fetches every masked row. Both must give the same tokens, step by step,
    /// with and without the shift, greedy and sampled, and the fast path must request fewer rows.
    @Test(arguments: [(true, Float(0.9)), (false, Float(0.9)), (true, Float(0)), (false, Float(1))])
    func randomKeepRevealedRowsOnlyMatchesTheReferencePath(shift: Bool, temperature: Float) throws {
        struct Opaque: RandomSource {
            var inner: SeededRandomSource
            mutating func nextUniform() -> Double { inner.nextUniform() }
            mutating func nextCategorical(probabilities: UnsafeBufferPointer<Float>) -> Int {
                inner.nextCategorical(probabilities: probabilities)
            }
        }
        for (steps, seed) in [(1, 1), (4, 2), (16, 3), (40, 4)] as [(Int, UInt64)] {
            let sampler = try DiffusionSampler(parameters: .randomKeep(maskToken: Self.mask, temperature: temperature,
                                                                       topP: temperature == 0 ? 1 : 0.9,
                                                                       steps: steps, shiftLogits: shift))
            let canvas = try Canvas.prefix(prompt: [3, 9, 12], generationLength: 20)
            var fastEvents: [[Int32]] = [], referenceEvents: [[Int32]] = []
            let fastLogits = provider(), referenceLogits = provider()
            var seeded = SeededRandomSource(seed: seed)
            var opaque = Opaque(inner: SeededRandomSource(seed: seed))
            let fast = try sampler.generate(canvas: canvas, provider: fastLogits, random: &seeded) { step in
                fastEvents.append(step.tokens)
                return .proceed
            }
            let reference = try sampler.generate(canvas: canvas, provider: referenceLogits, random: &opaque) { step in
                referenceEvents.append(step.tokens)
                return .proceed
            }
            #expect(fast.tokens == reference.tokens, "steps \(steps) seed \(seed)")
            #expect(fastEvents == referenceEvents)
            #expect(!fast.tokens.contains(Self.mask))
            let fastRows = fastLogits.requests.map(\.positions.count).reduce(0, +)
            let referenceRows = referenceLogits.requests.map(\.positions.count).reduce(0, +)
            #expect(fastRows <= referenceRows && fast.forwardPasses <= reference.forwardPasses)
            if temperature > 0 && steps >= 4 { #expect(fastRows < referenceRows) }
            if temperature == 0 {
                // Greedy takes the revealed-rows path with any source: check each revealed token against the
                // argmax of its row of the logits of the canvas before that step, computed here.
                var before = canvas.tokens.enumerated().map { canvas.isFixed[$0.offset] ? $0.element : Self.mask }
                for tokens in fastEvents {
                    for position in 0..<canvas.count where before[position] == Self.mask && tokens[position] != Self.mask {
                        guard let row = shift ? (position == 0 ? nil : position - 1) : position else { continue }
                        let logits = try provider().logits(tokens: before, positions: [row], causal: false)
                        #expect(Int(tokens[position]) == logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) })
                    }
                    before = tokens
                }
            }
        }
    }

    /// The sampler hands each step's logits array back to the provider's in-place path: after the first
    /// request every request arrives with storage already allocated (no fresh large allocation per step) — under
    /// LLaDA's guidance too, whose steps hold two arrays (after the first step's pair).
    @Test(arguments: [(SamplerAlgorithm.confidence, Float(0)), (.maskgitPlus, 0), (.lowConfidence, 0), (.lowConfidence, 1.5)])
    func logitsArraysAreHandedBackForReuse(algorithm: SamplerAlgorithm, guidanceScale: Float) throws {
        final class InPlace: LogitsProvider {
            let inner = FakeLogitsProvider(vocabularySize: SamplerBehaviourTests.vocabulary, maskToken: SamplerBehaviourTests.mask)
            var capacities: [Int] = []
            var vocabularySize: Int { inner.vocabularySize }
            func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
                try inner.logits(tokens: tokens, positions: positions, causal: causal)
            }
            func logits(tokens: [Int32], positions: [Int], causal: Bool, into output: inout [Float]) throws {
                capacities.append(output.capacity)
                output = try inner.logits(tokens: tokens, positions: positions, causal: causal)
            }
        }
        let parameters = SamplingParameters(algorithm: algorithm, maskToken: Self.mask, steps: 6, temperature: 0.9,
                                            topP: algorithm.acceptsTopP ? 0.9 : nil, guidanceScale: guidanceScale)
        let provider = InPlace()
        var random = SeededRandomSource(seed: 5)
        let result = try DiffusionSampler(parameters: parameters)
            .generate(canvas: try Canvas.prefix(prompt: [3, 9], generationLength: 12), provider: provider, random: &random)
        let fresh = guidanceScale > 0 ? 2 : 1  // the first step's arrays
        #expect(provider.capacities.count == result.forwardPasses && result.forwardPasses >= fresh + 1)
        #expect(provider.capacities.prefix(fresh).allSatisfy { $0 == 0 })
        #expect(provider.capacities.dropFirst(fresh).allSatisfy { $0 > 0 }, "\(provider.capacities)")
    }
}

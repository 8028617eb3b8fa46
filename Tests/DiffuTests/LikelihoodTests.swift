import DiffuTestSupport
import Foundation
import Testing
import Diffu

/// The diffusion likelihood bound, the AR negative log-likelihood and choice scoring against the
/// independent reference of `tools/fixtures/make_likelihood_fixtures.py` (transformers forwards of the same tiny
/// checkpoints, numpy cross-entropies, the seeded generator's draws re-implemented in Python): the same
/// seed masks the same positions, so the estimates agree to f32 rounding of the logits.
@Suite struct LikelihoodTests {
    struct Draw: Decodable {
        let time: Double
        let masked: [Int]
    }

    struct BoundCase: Decodable {
        let name: String
        let tokens: [Int32]
        let contextLength: Int
        let samples: Int
        let seed: UInt64
        let shift: Bool
        let nll: Double
        let nllPerToken: Double
        let standardError: Double
        let draws: [Draw]
    }

    struct AutoregressiveCase: Decodable {
        let name: String
        let tokens: [Int32]
        let contextLength: Int
        let nll: Double
        let nllPerToken: Double
    }

    struct ScoredChoice: Decodable {
        let tokens: [Int32]
        let nll: Double
        let nllPerToken: Double
    }

    struct ScoreCase: Decodable {
        let context: [Int32]
        let samples: Int
        let seed: UInt64
        let choices: [ScoredChoice]
        let orderTotal: [Int]
        let orderPerToken: [Int]
    }

    struct ModelCases: Decodable {
        let name: String
        let maskId: Int32
        let bound: [BoundCase]
        let autoregressive: [AutoregressiveCase]
        let score: ScoreCase
    }

    struct Fixture: Decodable {
        let epsilon: Double
        let models: [ModelCases]
    }

    /// Serves a model's logits and records every request.
    final class RecordingProvider: LogitsProvider {
        let model: DiffuModel
        private(set) var requests: [(tokens: [Int32], positions: [Int], causal: Bool)] = []

        init(model: DiffuModel) { self.model = model }

        var vocabularySize: Int { model.configuration.vocabularySize }

        func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
            requests.append((tokens, positions, causal))
            return try model.logits(tokens: tokens, positions: positions, causal: causal, threads: 2)
        }
    }

    /// Returns a NaN in every row.
    struct NaNProvider: LogitsProvider {
        let vocabularySize: Int
        func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
            var rows = [Float](repeating: 0, count: positions.count * vocabularySize)
            rows[vocabularySize - 1] = .nan
            return rows
        }
    }

    static let fixture: Fixture = {
        let url = TestFixtures.url("likelihood/expected.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try! decoder.decode(Fixture.self, from: Data(contentsOf: url))
    }()

    static func cases(_ name: String) throws -> ModelCases {
        try #require(fixture.models.first { $0.name == name })
    }

    static func expectClose(_ actual: Double, _ expected: Double, relative: Double = 1e-4, _ label: String) {
        #expect(abs(actual - expected) <= relative * abs(expected), "\(label): \(actual), reference \(expected)")
    }

    static let modelNames = ["gpt2_diffugpt_f16", "llama_sharded_bf16"]

    @Test func drawsMatchTheReferenceGenerator() throws {
        #expect(Self.fixture.epsilon == LikelihoodEstimator.timeEpsilon)
        for name in Self.modelNames {
            for reference in try Self.cases(name).bound {
                var random = SeededRandomSource(seed: reference.seed)
                for (sample, expected) in reference.draws.enumerated() {
                    let draw = LikelihoodEstimator.drawMask(length: reference.tokens.count, contextLength: reference.contextLength,
                                                            random: &random)
                    #expect(draw.time == expected.time, "\(reference.name) sample \(sample)")
                    #expect(draw.maskedPositions == expected.masked, "\(reference.name) sample \(sample)")
                }
            }
        }
    }

    /// The bound, with and without the shift rule, through the estimator on a recording provider: the
    /// forwards see exactly the reference's masks, ask for the rows the shift rule names, and the
    /// estimate equals the reference's.
    @Test(arguments: modelNames)
    func boundMatchesReference(name: String) throws {
        let cases = try Self.cases(name)
        let (model, directory) = try EndToEndTests.convertedModel(name, recipe: .f32)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(model.maskToken == cases.maskId)
        #expect(model.diffusion.shiftLogits)
        for reference in cases.bound {
            let estimator = LikelihoodEstimator(maskToken: model.maskToken, shiftLogits: reference.shift,
                                                maximumPositions: model.configuration.maximumPositions)
            let provider = RecordingProvider(model: model)
            var random = SeededRandomSource(seed: reference.seed)
            let estimate = try estimator.diffusionBound(tokens: reference.tokens, contextLength: reference.contextLength,
                                                        samples: reference.samples, random: &random, provider: provider)
            let label = "\(name) \(reference.name)"
            Self.expectClose(estimate.negativeLogLikelihoodPerToken, reference.nllPerToken, label)
            Self.expectClose(estimate.negativeLogLikelihood, reference.nll, label)
            Self.expectClose(estimate.standardErrorPerToken, reference.standardError, relative: 1e-3, "\(label) standard error")
            #expect(estimate.scoredTokens == reference.tokens.count - reference.contextLength)
            #expect(estimate.samples == reference.samples)
            let maskedDraws = reference.draws.filter { !$0.masked.isEmpty }
            try #require(provider.requests.count == maskedDraws.count, "\(label): one forward per sample that masks a token")
            #expect(estimate.forwardPasses == maskedDraws.count)
            for (request, draw) in zip(provider.requests, maskedDraws) {
                #expect(!request.causal)
                let masked = request.tokens.indices.filter { request.tokens[$0] != reference.tokens[$0] }
                #expect(masked == draw.masked, "\(label)")
                #expect(masked.allSatisfy { request.tokens[$0] == model.maskToken })
                #expect(request.positions == draw.masked.map { reference.shift ? $0 - 1 : $0 }, "\(label): rows")
            }
        }
    }

    /// The facade (the model's own mask id and shift rule, the seeded generator) gives the reference's
    /// shifted bounds and AR values.
    @Test(arguments: modelNames)
    func facadeMatchesReference(name: String) throws {
        let cases = try Self.cases(name)
        let (model, directory) = try EndToEndTests.convertedModel(name, recipe: .f32)
        defer { try? FileManager.default.removeItem(at: directory) }
        for reference in cases.bound where reference.shift {
            let parameters = LikelihoodParameters(samples: reference.samples, seed: reference.seed, threads: 2)
            let result = try model.likelihood(tokens: reference.tokens, contextLength: reference.contextLength, parameters: parameters)
            Self.expectClose(result.estimate.negativeLogLikelihoodPerToken, reference.nllPerToken, "\(name) \(reference.name)")
            #expect(result.sequenceTokens == reference.tokens.count)
            let again = try model.likelihood(tokens: reference.tokens, contextLength: reference.contextLength, parameters: parameters)
            #expect(again.estimate == result.estimate, "deterministic given the seed")
            var reseeded = parameters
            reseeded.seed += 1
            let other = try model.likelihood(tokens: reference.tokens, contextLength: reference.contextLength, parameters: reseeded)
            #expect(other.estimate.negativeLogLikelihood != result.estimate.negativeLogLikelihood, "another seed, other masks")
        }
        for reference in cases.autoregressive {
            let parameters = LikelihoodParameters(autoregressive: true, threads: 2)
            let result = try model.likelihood(tokens: reference.tokens, contextLength: reference.contextLength, parameters: parameters)
            Self.expectClose(result.estimate.negativeLogLikelihood, reference.nll, "\(name) \(reference.name)")
            Self.expectClose(result.estimate.negativeLogLikelihoodPerToken, reference.nllPerToken, "\(name) \(reference.name)")
            #expect(result.estimate.samples == 0)
            Self.expectClose(result.estimate.perplexity, exp(reference.nllPerToken), "\(name) \(reference.name) perplexity")
        }
    }

    /// Choices scored against the reference, ranked by total and per-token NLL as the reference ranks them.
    @Test(arguments: modelNames)
    func scoreMatchesReference(name: String) throws {
        let reference = try Self.cases(name).score
        let (model, directory) = try EndToEndTests.convertedModel(name, recipe: .f32)
        defer { try? FileManager.default.removeItem(at: directory) }
        let parameters = LikelihoodParameters(samples: reference.samples, seed: reference.seed, threads: 2)
        for (ranking, order) in [(ChoiceRanking.total, reference.orderTotal), (.perToken, reference.orderPerToken)] {
            let scores = try model.score(contextTokens: reference.context, choiceTokens: reference.choices.map(\.tokens),
                                         parameters: parameters, ranking: ranking)
            #expect(scores.map(\.index) == order, "\(name) \(ranking)")
            for score in scores {
                let expected = reference.choices[score.index]
                Self.expectClose(score.estimate.negativeLogLikelihood, expected.nll, "\(name) choice \(score.index)")
                Self.expectClose(score.estimate.negativeLogLikelihoodPerToken, expected.nllPerToken, "\(name) choice \(score.index)")
                #expect(score.estimate.scoredTokens == expected.tokens.count)
                #expect(score.text == model.tokenizer.decode(expected.tokens))
            }
        }
        #expect(reference.orderTotal != reference.orderPerToken, "the fixture tells the two rankings apart")
    }

    /// Conditional masking: over many samples the context is never masked, never asked for (beyond the
    /// row that predicts the first continuation token under the shift), while every continuation
    /// position is masked at some point.
    @Test func conditionalBoundNeverMasksTheContext() throws {
        let (model, directory) = try EndToEndTests.convertedModel("gpt2_diffugpt_f16", recipe: .f32)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokens: [Int32] = [5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45, 49]
        let contextLength = 5
        let provider = RecordingProvider(model: model)
        var random = SeededRandomSource(seed: 42)
        _ = try model.likelihoodEstimator.diffusionBound(tokens: tokens, contextLength: contextLength, samples: 64,
                                                          random: &random, provider: provider)
        #expect(provider.requests.count > 32)
        var everMasked = Set<Int>()
        for request in provider.requests {
            #expect(Array(request.tokens[..<contextLength]) == Array(tokens[..<contextLength]), "context untouched")
            #expect(request.positions.allSatisfy { $0 >= contextLength - 1 }, "no row predicts a context token")
            for position in contextLength..<tokens.count where request.tokens[position] == model.maskToken {
                everMasked.insert(position)
            }
        }
        #expect(everMasked == Set(contextLength..<tokens.count))
    }

    /// Windows: one window over everything equals no window; smaller windows add up the estimates of
    /// their slices (each given the token before it), drawn in order from one generator; a sequence
    /// longer than the model is refused whole and scored in windows.
    @Test func windowsAddUpTheirSlices() throws {
        let (model, directory) = try EndToEndTests.convertedModel("gpt2_diffugpt_f16", recipe: .f32)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokens: [Int32] = (0..<20).map { Int32(2 + ($0 * 37) % 90) }
        var parameters = LikelihoodParameters(samples: 6, seed: 4, threads: 2)
        let whole = try model.likelihood(tokens: tokens, contextLength: 1, parameters: parameters)
        parameters.window = 19
        #expect(try model.likelihood(tokens: tokens, contextLength: 1, parameters: parameters).estimate == whole.estimate)
        for autoregressive in [false, true] {
            parameters.window = 7
            parameters.autoregressive = autoregressive
            let windowed = try model.likelihood(tokens: tokens, contextLength: 1, parameters: parameters)
            #expect(windowed.windows == 3)
            #expect(windowed.estimate.scoredTokens == 19)
            var random = SeededRandomSource(seed: 4)
            var total = 0.0
            for range in [1..<8, 8..<15, 15..<20] {
                let slice = Array(tokens[(range.lowerBound - 1)..<range.upperBound])
                let provider = RecordingProvider(model: model)
                let part = autoregressive
                    ? try model.likelihoodEstimator.autoregressive(tokens: slice, contextLength: 1, provider: provider)
                    : try model.likelihoodEstimator.diffusionBound(tokens: slice, contextLength: 1, samples: 6, random: &random,
                                                                   provider: provider)
                total += part.negativeLogLikelihood
            }
            Self.expectClose(windowed.estimate.negativeLogLikelihood, total, relative: 1e-9, "windows, autoregressive \(autoregressive)")
        }
        parameters.autoregressive = false
        let limit = model.configuration.maximumPositions
        let long: [Int32] = (0..<(limit + 8)).map { Int32(2 + ($0 * 13) % 90) }
        parameters.window = nil
        #expect(throws: LikelihoodError.sequenceTooLong(tokens: limit + 8, limit: limit)) {
            try model.likelihood(tokens: long, contextLength: 1, parameters: parameters)
        }
        parameters.window = limit - 1
        let windowed = try model.likelihood(tokens: long, contextLength: 1, parameters: parameters)
        #expect(windowed.windows == 2 && windowed.estimate.scoredTokens == limit + 7)
        #expect(windowed.estimate.negativeLogLikelihoodPerToken.isFinite)
        parameters.window = 0
        #expect(throws: DiffuError.invalidRequest("window must be at least 1 (got 0)")) {
            try model.likelihood(tokens: tokens, contextLength: 1, parameters: parameters)
        }
    }

    @Test func badInputGivesTypedErrors() throws {
        let (model, directory) = try EndToEndTests.convertedModel("gpt2_diffugpt_f16", recipe: .f32)
        defer { try? FileManager.default.removeItem(at: directory) }
        let parameters = LikelihoodParameters(samples: 4, threads: 1)
        let tokens: [Int32] = [5, 9, 13, 17]
        #expect(throws: LikelihoodError.emptyText("the text")) { try model.likelihood(text: "", parameters: parameters) }
        let limit = model.configuration.maximumPositions
        let long = [Int32](repeating: 7, count: limit + 1)
        #expect(throws: LikelihoodError.sequenceTooLong(tokens: limit + 1, limit: limit)) {
            try model.likelihood(tokens: long, contextLength: 1, parameters: parameters)
        }
        for samples in [0, -3, LikelihoodEstimator.maximumSamples + 1] {
            #expect(throws: LikelihoodError.invalidSampleCount(samples)) {
                try model.likelihood(tokens: tokens, contextLength: 1, parameters: LikelihoodParameters(samples: samples, threads: 1))
            }
        }
        #expect(throws: LikelihoodError.invalidContextLength(contextLength: 0, tokens: 4), "the shift rule needs a first token") {
            try model.likelihood(tokens: tokens, contextLength: 0, parameters: parameters)
        }
        #expect(throws: LikelihoodError.emptyText("the sequence after its 4 context tokens")) {
            try model.likelihood(tokens: tokens, contextLength: 4, parameters: parameters)
        }
        let vocabulary = model.configuration.vocabularySize
        #expect(throws: LikelihoodError.tokenOutOfVocabulary(token: Int32(vocabulary), vocabularySize: vocabulary)) {
            try model.likelihood(tokens: [5, Int32(vocabulary)], contextLength: 1, parameters: parameters)
        }
        #expect(throws: LikelihoodError.noChoices) {
            try model.score(contextTokens: tokens, choiceTokens: [], parameters: parameters)
        }
        #expect(throws: LikelihoodError.emptyText("choice 2")) {
            try model.score(contextTokens: tokens, choiceTokens: [[3], []], parameters: parameters)
        }
        #expect(throws: DiffuError.invalidRequest("threads must be at least 1 (got 0)")) {
            try model.likelihood(tokens: tokens, contextLength: 1, parameters: LikelihoodParameters(samples: 4, threads: 0))
        }
        let estimator = LikelihoodEstimator(maskToken: 1, shiftLogits: true, maximumPositions: 32)
        var random = SeededRandomSource(seed: 1)
        #expect(throws: LikelihoodError.nonFiniteLogits(position: 0)) {
            try estimator.autoregressive(tokens: tokens, contextLength: 1, provider: NaNProvider(vocabularySize: vocabulary))
        }
        #expect(throws: LikelihoodError.self) {
            try estimator.diffusionBound(tokens: tokens, contextLength: 1, samples: 8, random: &random,
                                         provider: NaNProvider(vocabularySize: vocabulary))
        }
    }
}

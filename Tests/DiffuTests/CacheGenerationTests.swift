import Foundation
import Testing
@testable import Diffu

/// The facade's approximate KV cache (`GenerationParameters.cache`): exact where Fast-dLLM's cache is
/// exact (every block's first step is a full pass), windowed afterwards, refilled when the block
/// contract is broken. Logits are compared with the exact full pass of the same converted model.
@Suite struct CacheGenerationTests {
    static func model(_ name: String = "llama_sharded_bf16") throws -> (DiffuModel, URL) {
        try EndToEndTests.convertedModel(name, recipe: .f32)
    }

    static func parameters(_ model: DiffuModel, cache: CacheMode, blockLength: Int?, steps: Int) -> GenerationParameters {
        var parameters = model.defaultParameters
        parameters.sampler = .maskgitPlus
        parameters.temperature = 0
        parameters.topP = nil
        parameters.length = 12
        parameters.steps = steps
        parameters.blockLength = blockLength
        parameters.threads = 2
        parameters.cache = cache
        return parameters
    }

    static func firstStep(_ model: DiffuModel, _ parameters: GenerationParameters) throws -> [Int32] {
        var first: [Int32]?
        _ = try model.generateSynchronously(.tokens([5, 6, 7]), parameters: parameters) { step in
            if first == nil { first = step.tokens }
            return true
        }
        return first ?? []
    }

    /// One block covering the whole span: the first step is the exact full pass, so its canvas equals
    /// full recomputation's exactly.
    @Test func oneBlockFirstStepIsExact() throws {
        let (model, directory) = try Self.model()
        defer { try? FileManager.default.removeItem(at: directory) }
        let exact = try Self.firstStep(model, Self.parameters(model, cache: .none, blockLength: nil, steps: 6))
        #expect(exact.count == 15)
        for cache in [CacheMode.prefix, .dual] {
            #expect(try Self.firstStep(model, Self.parameters(model, cache: cache, blockLength: nil, steps: 6)) == exact, "\(cache)")
        }
    }

    /// One step per block: every step is a block's first step (a refreshed, exact pass), so the whole
    /// generation equals full recomputation's.
    @Test func oneStepPerBlockEqualsFullRecompute() throws {
        let (model, directory) = try Self.model()
        defer { try? FileManager.default.removeItem(at: directory) }
        let exact = try model.generateSynchronously(.tokens([5, 6, 7]), parameters: Self.parameters(model, cache: .none, blockLength: 4, steps: 3))
        #expect(exact.steps == 3)
        for cache in [CacheMode.prefix, .dual] {
            let cached = try model.generateSynchronously(.tokens([5, 6, 7]), parameters: Self.parameters(model, cache: cache, blockLength: 4, steps: 3))
            #expect(cached.generatedTokens == exact.generatedTokens, "\(cache)")
        }
    }

    /// Several steps per block: the generation completes, keeps the prompt and reveals every mask.
    @Test(arguments: [CacheMode.prefix, .dual])
    func cachedGenerationCompletes(cache: CacheMode) throws {
        let (model, directory) = try Self.model()
        defer { try? FileManager.default.removeItem(at: directory) }
        var parameters = Self.parameters(model, cache: cache, blockLength: 4, steps: 12)
        parameters.confidenceThreshold = 0.5
        let result = try model.generateSynchronously(.tokens([5, 6, 7]), parameters: parameters)
        #expect(Array(result.tokens[0..<3]) == [5, 6, 7])
        #expect(!result.generatedTokens.contains(model.maskToken))
    }

    /// The provider: the first request of a block fills the cache (exact logits); later requests on the
    /// same canvas — including the shift row before the block — match the full pass; a changed token
    /// outside the window forces a refill instead of stale rows.
    @Test(arguments: [CacheMode.prefix, .dual])
    func providerWindowsAndRefills(mode: CacheMode) throws {
        let (model, directory) = try Self.model()
        defer { try? FileManager.default.removeItem(at: directory) }
        let provider = CachingModelLogitsProvider(model: model, threads: 2, mode: mode)
        var tokens: [Int32] = [5, 6, 7, 8, 9, 10]
        tokens += [Int32](repeating: model.maskToken, count: 8)
        let block = 6..<10
        try provider.beginBlock(block, tokens: tokens)
        let rows = [5, 6, 7, 8, 9]
        let first = try provider.logits(tokens: tokens, positions: rows, causal: false)
        #expect(first == (try model.logits(tokens: tokens, positions: rows, threads: 2)))
        #expect(provider.fullPasses == 1)

        let second = try provider.logits(tokens: tokens, positions: rows, causal: false)
        #expect(provider.fullPasses == 1, "the second step of the block is a windowed pass")
        let scale = first.map(abs).max()!
        #expect(zip(second, first).map { abs($0 - $1) }.max()! <= 1e-4 * scale)

        // Reveal a block token: still windowed.
        tokens[7] = 11
        _ = try provider.logits(tokens: tokens, positions: [5, 6, 8, 9], causal: false)
        #expect(provider.fullPasses == 1)
        // A prefix token changes (contract broken): refill.
        tokens[2] = 12
        let refilled = try provider.logits(tokens: tokens, positions: [5, 6, 8, 9], causal: false)
        #expect(provider.fullPasses == 2)
        #expect(refilled == (try model.logits(tokens: tokens, positions: [5, 6, 8, 9], threads: 2)))
        // A new block refills.
        try provider.beginBlock(10..<14, tokens: tokens)
        _ = try provider.logits(tokens: tokens, positions: [9, 10, 11, 12], causal: false)
        #expect(provider.fullPasses == 3)
        #expect(provider.forwardPasses == 5)
    }
}

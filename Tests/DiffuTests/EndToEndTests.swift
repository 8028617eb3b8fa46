import DiffuTestSupport
import Foundation
import Testing
@testable import Diffu
import DiffuConversion

/// The whole path a user takes: a Hugging Face checkpoint in each real layout → `diffu convert` →
/// memory-mapped `.diffu` → logits, compared with HF transformers' logits saved by
/// `tools/fixtures/make_model_fixtures.py` (independent reference).
@Suite struct EndToEndTests {

    /// A scratch checkpoint directory: the fixture's files plus a real tokenizer (the converter embeds it).
    static func checkpoint(_ name: String) throws -> URL {
        let fixture = TestFixtures.url("models/\(name)")
        let tokenizer = TestFixtures.url("tokenizers/gpt2")
        let directory = try TemporaryDirectory.make(prefix: "diffu-e2e-\(name)")
        for source in [fixture, tokenizer] {
            for file in try FileManager.default.contentsOfDirectory(atPath: source.path) {
                try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent(file),
                                                           withDestinationURL: source.appendingPathComponent(file))
            }
        }
        return directory
    }

    static func npy(_ url: URL) throws -> [Float] {
        try NumpyArray(path: url.path).values
    }

    static func sequences(_ name: String) throws -> [[Int32]] {
        struct Inputs: Decodable { let sequences: [[Int32]] }
        let url = TestFixtures.url("models/\(name)/input_ids.json")
        return try JSONDecoder().decode(Inputs.self, from: Data(contentsOf: url)).sequences
    }

    /// Converts the fixture `name` with `recipe` into a scratch directory and opens it; the returned
    /// directory is removed by the caller.
    static func convertedModel(_ name: String, recipe: QuantizationRecipe) throws -> (DiffuModel, URL) {
        let (directory, path) = try convertedFile(name, recipe: recipe)
        return (try DiffuModel.open(path: path), directory)
    }

    /// `model`'s default parameters with a small canvas: `length` masks, `steps` steps, `threads` workers.
    static func parameters(_ model: DiffuModel, length: Int, steps: Int, threads: Int) -> GenerationParameters {
        var parameters = model.defaultParameters
        parameters.length = length
        parameters.steps = steps
        parameters.threads = threads
        return parameters
    }

    /// Converts the fixture `name` with `recipe` into a scratch directory; returns the directory (removed
    /// by the caller) and the `.diffu` path.
    static func convertedFile(_ name: String, recipe: QuantizationRecipe, compress: Bool = true) throws -> (directory: URL, path: String) {
        let directory = try checkpoint(name)
        let path = directory.appendingPathComponent("model-\(recipe.rawValue).diffu").path
        try DiffuModel.convert(source: directory.path, destination: path, recipe: recipe, maskTokenId: 1, compress: compress)
        return (directory, path)
    }

    /// Runs every fixture sequence through `model` and compares with a saved transformers `.npy`:
    /// max |Δ| ≤ 1e-4 · max |logit|.
    static func expectLogitsMatch(_ model: DiffuModel, fixture name: String, reference file: String, causal: Bool) throws {
        let expected = try npy(TestFixtures.url("models/\(name)/\(file)"))
        var actual: [Float] = []
        for sequence in try sequences(name) { actual += try model.logits(tokens: sequence, causal: causal, threads: 2) }
        try #require(actual.count == expected.count)
        let scale = expected.map(abs).max()!
        let difference = zip(actual, expected).map { abs($0 - $1) }.max()!
        #expect(difference <= 1e-4 * scale, "\(name) \(file): max|Δ| \(difference), max|logit| \(scale)")
    }

    @Test(arguments: ["gpt2_diffugpt_f16", "gpt2_plain_f32", "gpt2_diffugpt_m_f16", "llama_sharded_bf16", "qwen2_gqa_f32", "llada_gqa_bf16"])
    func convertedModelMatchesTransformers(name: String) throws {
        let (model, directory) = try Self.convertedModel(name, recipe: .f32)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(model.file.verify().isEmpty)
        try Self.expectLogitsMatch(model, fixture: name, reference: "logits_bidirectional.npy", causal: false)
        try Self.expectLogitsMatch(model, fixture: name, reference: "logits_causal.npy", causal: true)
    }

    /// q8 end to end against transformers run on the q8-rounded weights (same codec, documented in
    /// PanelGeometry): only f32 arithmetic differences remain. Every kernel variant this CPU supports runs;
    /// the integer ones (`avx2`, `avx512`) against the reference whose linear-layer inputs are rounded as it rounds
    /// them (llama.cpp's Q8_0 activation rule, tools/fixtures/make_model_fixtures.py).
    @Test(arguments: ["gpt2_diffugpt_f16", "gpt2_plain_f32", "gpt2_diffugpt_m_f16", "llama_sharded_bf16", "qwen2_gqa_f32", "llada_gqa_bf16"])
    func q8ConversionMatchesRoundedReference(name: String) throws {
        let (directory, path) = try Self.convertedFile(name, recipe: .q8)
        defer { try? FileManager.default.removeItem(at: directory) }
        for variant in KernelVariant.supported {
            let model = try DiffuModel.open(path: path, kernelVariant: variant)
            #expect(model.kernelVariant == variant)
            let reference = variant.multipliesInIntegers(.q8) ? "logits_bidirectional_q8_int8.npy" : "logits_bidirectional_q8.npy"
            try Self.expectLogitsMatch(model, fixture: name, reference: reference, causal: false)
        }
    }

    /// `DIFFU_KERNELS` names the variant `open` picks; an unknown name is a typed error, not a fallback.
    @Test func kernelVariantFromEnvironment() throws {
        #expect(try KernelVariant.requested(environment: [:]) == KernelVariant.detected)
        let own = try #require(KernelVariant.supported.first)  // the build's own: baseline or avx2
        #expect(try KernelVariant.requested(environment: ["DIFFU_KERNELS": own.rawValue]) == own)
        #expect(throws: KernelVariantError.unknown("sse9")) { try KernelVariant.requested(environment: ["DIFFU_KERNELS": "sse9"]) }
        for variant in KernelVariant.allCases where !variant.isSupported {
            #expect(throws: KernelVariantError.unsupported(variant)) {
                try KernelVariant.requested(environment: ["DIFFU_KERNELS": variant.rawValue])
            }
        }
    }

    /// Generation runs end to end on a converted model and respects the canvas rules.
    @Test func generationKeepsPromptAndFillsEveryMask() async throws {
        let (model, directory) = try Self.convertedModel("llama_sharded_bf16", recipe: .q8)
        defer { try? FileManager.default.removeItem(at: directory) }
        let parameters = Self.parameters(model, length: 9, steps: 4, threads: 2)
        let prompt: [Int32] = [5, 6, 7]
        var steps = 0
        var final: GenerationResult?
        for try await event in model.generate(.tokens(prompt), parameters: parameters) {
            switch event {
            case .step(let step):
                #expect(step.index == steps)
                #expect(Array(step.tokens[0..<3]) == prompt)
                steps += 1
            case .finished(let result): final = result
            }
        }
        let result = try #require(final)
        #expect(steps == result.steps)
        #expect(Array(result.tokens[0..<3]) == prompt)
        #expect(result.generatedTokens.count == 9)
        #expect(result.generatedPositions == Array(3..<12))
    }

    /// A consumer that stops iterating cancels the generation between steps.
    @Test func cancellationStopsBetweenSteps() async throws {
        let (model, directory) = try Self.convertedModel("gpt2_plain_f32", recipe: .f32)
        defer { try? FileManager.default.removeItem(at: directory) }
        var parameters = Self.parameters(model, length: 20, steps: 50, threads: 1)
        var seen = 0
        for try await event in model.generate(.tokens([3]), parameters: parameters) {
            if case .step = event { seen += 1 }
            if seen == 2 { break }
        }
        #expect(seen == 2)
        // Concurrent generations on one model give the same result as sequential ones (seeded).
        parameters.steps = 5
        parameters.length = 6
        let fixedParameters = parameters
        let reference = try model.generateSynchronously(.tokens([3]), parameters: fixedParameters).tokens
        try await withThrowingTaskGroup(of: [Int32].self) { group in
            for _ in 0..<4 {
                group.addTask { try model.generateSynchronously(.tokens([3]), parameters: fixedParameters).tokens }
            }
            for try await tokens in group { #expect(tokens == reference) }
        }
    }
}

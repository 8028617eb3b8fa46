import DiffuModels
import DiffuStorage
import DiffuFormat
import Foundation
import Testing
@testable import DiffuConvert

/// Every real checkpoint layout (tiny HF fixtures saved by transformers, `tools/fixtures/make_model_fixtures.py`)
/// imports to exactly the canonical tensors dumped by that script from the HF model's own modules.
@Suite struct CanonicalFixtureTests {
    static let layouts = ["gpt2_diffugpt_f16", "gpt2_plain_f32", "gpt2_diffugpt_m_f16", "llama_sharded_bf16", "qwen2_gqa_f32", "llada_gqa_bf16"]

    static func prepare(_ layout: String) throws -> PreparedConversion {
        let directory = Fixtures.path("models", layout)
        let checkpoint = try HuggingFaceCheckpoint.open(directory: directory)
        let model = try HuggingFaceImporter.sanitize(configuration: checkpoint.configuration, tensors: checkpoint.tensors)
        let diffusion = try ResolvedDiffusion.resolve(
            known: model.knownModel, description: model.modelDescription, architecture: model.configuration.architecture,
            special: model.specialTokens, maskOverride: model.configuration.vocabularySize - 1, vocabularySize: model.configuration.vocabularySize)
        // The model fixtures carry no tokenizer; the pipeline is exercised with a stand-in blob.
        return PreparedConversion(model: model, diffusion: diffusion, tokenizer: TokenizerFiles(kind: .tokenizerJSON, files: ["tokenizer.json": "tokenizer/tokenizer.json"]),
                                  tokenizerBlobs: [.init(tensorName: "tokenizer/tokenizer.json", bytes: Array("{}".utf8))], sourceFiles: [])
    }

    static func write(_ prepared: PreparedConversion, _ options: ConversionOptions) throws -> InMemoryTensorSink {
        let sink = InMemoryTensorSink()
        _ = try Converter.write(prepared, into: sink, options: options)
        return sink
    }

    @Test(arguments: layouts)
    func importsToTheCanonicalDump(layout: String) throws {
        let expected = try ExpectedTensors(topic: "models", json: "\(layout)/canonical.json", bin: "\(layout)/canonical.bin")
        let prepared = try Self.prepare(layout)
        let sink = try Self.write(prepared, ConversionOptions(recipe: .f32, threadCount: 2))
        #expect(Set(sink.tensors.keys.filter { !$0.hasPrefix("tokenizer/") }) == Set(expected.tensors.keys))
        let kinds = Dictionary(uniqueKeysWithValues: (expected.json["tensors"]?.arrayValue ?? []).compactMap { entry in
            entry["name"]?.stringValue.map { ($0, entry["kind"]?.stringValue ?? "") }
        })
        for (name, reference) in expected.tensors {
            let stored = try #require(sink.tensors[name], "\(layout): missing \(name)")
            #expect(stored.shape == reference.shape, "\(layout): \(name)")
            #expect(stored.layout == (kinds[name] == "matrix" ? .panel16 : .rowMajor), "\(layout): \(name) kind \(kinds[name] ?? "?")")
            let values = try #require(sink.floats(name))
            #expect(firstMismatch(values, reference.values) == nil, "\(layout): \(name) differs from the canonical dump")
        }
        let configuration = try JSONDecoder().decode(ModelConfiguration.self, from: Data(try Fixtures.bytes("models", "\(layout)/configuration.json")))
        #expect(prepared.model.configuration == configuration)
        #expect(sink.metadata?.model == configuration)
    }

    /// Every recipe stores each matrix exactly as the reference encoder `WeightPacking.pack` encodes the
    /// canonical values (so chunked and multi-threaded packing change nothing), and vectors stay f32.
    @Test(arguments: QuantizationRecipe.allCases)
    func recipesEncodeLikeTheReferencePacker(recipe: QuantizationRecipe) throws {
        let layout = "llama_sharded_bf16"
        let expected = try ExpectedTensors(topic: "models", json: "\(layout)/canonical.json", bin: "\(layout)/canonical.bin")
        var options = ConversionOptions(recipe: recipe, threadCount: 3)
        options.chunkElements = 100  // forces several row chunks per matrix (whole panels each)
        let sink = try Self.write(try Self.prepare(layout), options)
        for (name, reference) in expected.tensors {
            let stored = try #require(sink.tensors[name])
            if reference.shape.count == 1 {
                #expect(stored.storage == .f32 && stored.layout == .rowMajor)
                continue
            }
            let storage = recipe.storage(forMatrix: name)
            #expect(stored.storage == storage, "\(name)")
            let geometry = try #require(PanelGeometry(rows: reference.shape[0], columns: reference.shape[1], storage: storage))
            var packed = [UInt8](repeating: 0, count: geometry.byteCount)
            try reference.values.withUnsafeBufferPointer { values in
                try packed.withUnsafeMutableBytes { try WeightPacking.pack(values, geometry: geometry, into: $0) }
            }
            #expect(stored.payload == packed, "\(recipe): \(name)")
        }
    }

    /// `q4e` is llama.cpp's Q4_0 mix: only the token embedding and the LM head stay at q8.
    @Test func q4eKeepsEmbeddingAndHeadAtEightBits() {
        let recipe = QuantizationRecipe.q4e
        #expect(recipe.storage(forMatrix: "token_embedding.weight") == .q8)
        #expect(recipe.storage(forMatrix: "output.weight") == .q8)
        #expect(recipe.storage(forMatrix: "layers.0.attention.value.weight") == .q4)
        #expect(recipe.storage(forMatrix: "layers.3.ffn.down.weight") == .q4)
    }

    @Test func q4mKeepsTheSensitiveMatricesAtEightBits() {
        let recipe = QuantizationRecipe.q4m
        #expect(recipe.storage(forMatrix: "token_embedding.weight") == .q8)
        #expect(recipe.storage(forMatrix: "output.weight") == .q8)
        #expect(recipe.storage(forMatrix: "layers.3.attention.value.weight") == .q8)
        #expect(recipe.storage(forMatrix: "layers.3.ffn.down.weight") == .q8)
        #expect(recipe.storage(forMatrix: "layers.3.attention.query.weight") == .q4)
        #expect(recipe.storage(forMatrix: "layers.3.attention.key.weight") == .q4)
        #expect(recipe.storage(forMatrix: "layers.3.attention.output.weight") == .q4)
        #expect(recipe.storage(forMatrix: "layers.3.ffn.gate.weight") == .q4)
        #expect(recipe.storage(forMatrix: "layers.3.ffn.up.weight") == .q4)
    }
}

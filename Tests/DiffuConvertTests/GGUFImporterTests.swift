import DiffuGGUF
import DiffuModels
import DiffuStorage
import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuConvert

/// The GGUF importer against tiny GGUF files written by the `gguf` Python package, whose tensors were
/// dequantized by that package (`tools/fixtures/make_gguf_model_fixtures.py`).
@Suite struct GGUFImporterTests {
    static func convert(_ name: String, recipe: QuantizationRecipe = .f32) throws -> (InMemoryTensorSink, PreparedConversion) {
        let prepared = try Converter.prepare(source: Fixtures.path("convert", "\(name).gguf"), maskTokenId: 7)
        let sink = InMemoryTensorSink()
        _ = try Converter.write(prepared, into: sink, options: ConversionOptions(recipe: recipe, threadCount: 2))
        return (sink, prepared)
    }

    @Test(arguments: ["tiny-llama", "tiny-qwen2"])
    func importsEveryTensorExactly(name: String) throws {
        let expected = try ExpectedTensors(topic: "convert", json: "\(name).expected.json", bin: "\(name).expected.bin")
        let (sink, prepared) = try Self.convert(name)
        #expect(Set(sink.tensors.keys.filter { !$0.hasPrefix("tokenizer/") }) == Set(expected.tensors.keys))
        for (tensorName, reference) in expected.tensors {
            let stored = try #require(sink.tensors[tensorName], "missing \(tensorName)")
            #expect(stored.shape == reference.shape, "\(tensorName)")
            #expect(stored.storage == .f32)
            #expect(stored.layout == (reference.shape.count == 2 ? .panel16 : .rowMajor), "\(tensorName)")
            let values = try #require(sink.floats(tensorName))
            #expect(firstMismatch(values, reference.values) == nil, "\(tensorName) differs from the gguf package's dequantization")
        }
        // Hyperparameters from the GGUF keys.
        let config = try #require(expected.json["config"])
        let model = prepared.model.configuration
        #expect(model.architecture.rawValue == config["architecture"]?.stringValue)
        #expect(model.vocabularySize == config["vocab_size"]?.intValue)
        #expect(model.hiddenSize == config["hidden_size"]?.intValue)
        #expect(model.layerCount == config["num_layers"]?.intValue)
        #expect(model.headCount == config["num_heads"]?.intValue)
        #expect(model.keyValueHeadCount == config["num_kv_heads"]?.intValue)
        #expect(model.headDimension == config["head_dim"]?.intValue)
        #expect(model.intermediateSize == config["intermediate_size"]?.intValue)
        #expect(model.maximumPositions == config["max_positions"]?.intValue)
        #expect(model.normEpsilon == Float(config["norm_eps"]?.doubleValue ?? 0))
        #expect(model.ropeTheta == Float(config["rope_theta"]?.doubleValue ?? 0))
        #expect(model.tiedEmbeddings == config["tied_embeddings"]?.boolValue)
        #expect(model.attentionBias == config["attention_bias"]?.boolValue)
        // Diffusion facts: an AR GGUF model with --mask-id records the shift rule and its special ids.
        let metadata = try #require(sink.metadata)
        #expect(metadata.diffusion.maskTokenID == 7)
        #expect(metadata.diffusion.shiftLogits)
        #expect(metadata.diffusion.bosTokenID == 1)
        #expect(metadata.diffusion.eosTokenID == 2)
        #expect(metadata.diffusion.chatTemplate == "{{ messages }}")
    }

    /// Through the whole pipeline (Q/K un-permutation included, where the source is Q8_0 or Q4_0): a
    /// Q8_0 or Q4_0 source tensor stored as q8, or a Q4_0 one stored as q4, keeps the gguf package's
    /// dequantized values exactly (its blocks are copied, not rounded again).
    @Test(arguments: [(QuantizationRecipe.q8, ["Q8_0", "Q4_0"]), (.q4, ["Q4_0"])])
    func matchingStorageKeepsQuantizedBlocksExactly(recipe: QuantizationRecipe, keptTypes: [String]) throws {
        for name in ["tiny-llama", "tiny-qwen2"] {
            let expected = try ExpectedTensors(topic: "convert", json: "\(name).expected.json", bin: "\(name).expected.bin")
            let (sink, _) = try Self.convert(name, recipe: recipe)
            var kept = 0
            for entry in expected.json["tensors"]?.arrayValue ?? [] {
                guard let type = entry["gguf_type"]?.stringValue, keptTypes.contains(type),
                      let tensorName = entry["name"]?.stringValue, let reference = expected.tensors[tensorName],
                      reference.shape.count == 2 else { continue }
                let values = try #require(sink.floats(tensorName))
                #expect(firstMismatch(values, reference.values) == nil, "\(name): \(tensorName) (\(type)) as \(recipe)")
                kept += 1
            }
            #expect(kept >= 2, "\(name): \(kept) tensors of \(keptTypes)")
        }
    }

    @Test func vocabularyBlobHoldsTheTokenizerKeys() throws {
        let (sink, prepared) = try Self.convert("tiny-llama")
        #expect(prepared.tokenizer.kind == .gguf)
        #expect(prepared.tokenizer.files == ["vocab.gguf": "tokenizer/vocab.gguf"])
        let blob = try #require(sink.tensors["tokenizer/vocab.gguf"])
        #expect(blob.storage == .bytes)
        let vocabulary = try GGUFFile.parse(blob.payload)
        #expect(vocabulary.tensors.isEmpty)
        let expected = try ExpectedTensors(topic: "convert", json: "tiny-llama.expected.json", bin: "tiny-llama.expected.bin")
        let keys = expected.json["vocab_keys"]?.arrayValue?.compactMap { $0.stringValue } ?? []
        #expect(!keys.isEmpty)
        #expect(vocabulary.metadata.map(\.key) == ["general.architecture"] + keys)
        let source = try GGUFCheckpoint.open(path: Fixtures.path("convert", "tiny-llama.gguf"))
        for key in keys { #expect(vocabulary[key] == source.gguf[key], "\(key)") }
    }

    @Test func unknownModelWithoutMaskIdIsATypedError() throws {
        #expect(throws: ConvertError.self) {
            _ = try Converter.prepare(source: Fixtures.path("convert", "tiny-llama.gguf"), maskTokenId: nil)
        }
        do {
            _ = try Converter.prepare(source: Fixtures.path("convert", "tiny-llama.gguf"), maskTokenId: nil)
        } catch let error as ConvertError {
            guard case .maskTokenRequired = error else { Issue.record("wrong error \(error)"); return }
            #expect(error.description.contains("--mask-id"))
        }
        #expect(throws: ConvertError.tokenOutOfRange(what: "mask token", id: 48, vocabularySize: 48)) {
            _ = try Converter.prepare(source: Fixtures.path("convert", "tiny-llama.gguf"), maskTokenId: 48)
        }
    }

    /// The inverse permutation against llama.cpp's forward one, written here from its definition
    /// (`reshape(n_head, 2, d/2, cols).swapaxes(1, 2)`): new[h][i][j] = old[h][j][i].
    @Test(arguments: [(heads: 4, headDimension: 16, columns: 8), (heads: 3, headDimension: 64, columns: 5), (heads: 1, headDimension: 2, columns: 3)])
    func unpermuteInvertsLlamaCppPermutation(shape: (heads: Int, headDimension: Int, columns: Int)) {
        let rows = shape.heads * shape.headDimension, half = shape.headDimension / 2
        var generator = SystemRandomNumberGenerator()
        let original = (0..<(rows * shape.columns)).map { _ in Float.random(in: -1...1, using: &generator) }
        var permuted = [Float](repeating: 0, count: original.count)
        for head in 0..<shape.heads {
            for j in 0..<2 {
                for i in 0..<half {
                    let oldRow = head * shape.headDimension + j * half + i  // old[h][j][i]
                    let newRow = head * shape.headDimension + i * 2 + j     // new[h][i][j]
                    for column in 0..<shape.columns { permuted[newRow * shape.columns + column] = original[oldRow * shape.columns + column] }
                }
            }
        }
        #expect(permuted != original || shape.headDimension == 2)
        let restored = PlannedTensor.unpermuteRoPE(permuted, rows: rows, columns: shape.columns, headDimension: shape.headDimension)
        #expect(restored == original)
    }

    @Test func unsupportedTensorTypeIsATypedError() throws {
        // Rewrite one tensor's type code in tiny-qwen2 to 20 (IQ4_NL: blocks of 32 in 18 bytes, like Q4_0, a
        // type Diffu does not know): the file stays a valid container but the tensor cannot be dequantized.
        var bytes = try Fixtures.bytes("convert", "tiny-qwen2.gguf")
        let file = try GGUFFile.parse(bytes)
        let target = try #require(file.tensors.first { $0.name == "blk.0.attn_k.weight" })
        #expect(target.type == .q4_0)
        // Locate the tensor info: name bytes, then rank, dims, type code.
        let name = Array(target.name.utf8)
        let position = try #require((0..<(bytes.count - name.count)).first { Array(bytes[$0..<($0 + name.count)]) == name })
        let typeOffset = position + name.count + 4 + 8 * target.dimensions.count
        #expect(bytes[typeOffset] == 2)
        bytes[typeOffset] = 20
        let directory = try TemporaryDirectory()
        try directory.write("model.gguf", bytes)
        let prepared = try Converter.prepare(source: directory.path + "/model.gguf", maskTokenId: 3)
        #expect(throws: ConvertError.unsupportedGGUFTensorType(tensor: "blk.0.attn_k.weight", type: "ggml type 20")) {
            _ = try Converter.write(prepared, into: InMemoryTensorSink(), options: ConversionOptions(recipe: .f32))
        }
    }

    @Test func truncatedGGUFIsATypedError() throws {
        let bytes = try Fixtures.bytes("convert", "tiny-llama.gguf")
        let directory = try TemporaryDirectory()
        try directory.write("cut.gguf", Array(bytes[0..<(bytes.count - 100)]))
        #expect {
            _ = try Converter.prepare(source: directory.path + "/cut.gguf", maskTokenId: 3)
        } throws: { error in
            guard case ConvertError.gguf(_, .tensorOutOfBounds) = error else { return false }
            return true
        }
    }
}

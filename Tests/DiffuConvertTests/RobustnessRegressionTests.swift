import DiffuGGUF
import DiffuJSON
import DiffuModels
import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuConvert

/// Replays the inputs under `Tests/Fixtures/fuzz/<target>/` (crashes found by the libFuzzer targets in
/// `tools/fuzz/`, and hand-made inputs for faults found while writing them) through the same entry points
/// as the fuzz harnesses. Each must end in a value or a typed error; a trap fails the whole run.
@Suite struct RobustnessRegressionTests {
    /// The regression inputs of one fuzz target (the folder may be absent when the target never crashed).
    static func inputs(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        let folder = TestFixtures.root.appendingPathComponent("fuzz/\(target)").path
        guard FileManager.default.fileExists(atPath: folder) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { name in
            (name, try Fixtures.bytes("fuzz/\(target)", name))
        }
    }

    @Test func fuzzFolderExists() {
        #expect(FileManager.default.fileExists(atPath: TestFixtures.root.appendingPathComponent("fuzz").path))
    }

    @Test func safetensorsInputs() throws {
        let directory = try TemporaryDirectory()
        for (name, bytes) in try Self.inputs("safetensors") {
            try directory.write("model.safetensors", bytes)
            do {
                let file = try SafetensorsFile.open(path: directory.path + "/model.safetensors")
                for tensor in file.tensors where tensor.byteCount <= 1 << 20 { _ = try? tensor.readFloats() }
            } catch {
                #expect(error is ConvertError, "\(name): \(error)")
            }
        }
    }

    @Test func zeroSizedTensorWithOverflowingRowLengthIsRejected() throws {
        let bytes = try Fixtures.bytes("fuzz/safetensors", "zero-dim-row-overflow.safetensors")
        let directory = try TemporaryDirectory()
        try directory.write("model.safetensors", bytes)
        #expect(throws: ConvertError.invalidSafetensorsHeader(file: "model.safetensors", reason: "entry 'z' has a shape whose size overflows")) {
            try SafetensorsFile.open(path: directory.path + "/model.safetensors")
        }
    }

    @Test func shardIndexInputs() throws {
        let directory = try TemporaryDirectory()
        for name in ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
            try directory.write(name, try Fixtures.bytes("models/llama_sharded_bf16", name))
        }
        for (name, bytes) in try Self.inputs("shard-index") {
            try directory.write("model.safetensors.index.json", bytes)
            do { _ = try HuggingFaceCheckpoint.open(directory: directory.path) } catch {
                #expect(error is ConvertError, "\(name): \(error)")
            }
        }
    }

    @Test func ggufInputs() throws {
        let directory = try TemporaryDirectory()
        for (name, bytes) in try Self.inputs("gguf") {
            _ = try? GGUFFile.parse(bytes)
            try directory.write("model.gguf", bytes)
            do {
                let checkpoint = try GGUFCheckpoint.open(path: directory.path + "/model.gguf")
                GGMLBlockTests.decodeAndEncodeEveryTensor(of: checkpoint)  // as the fuzz harness does
                _ = try checkpoint.sanitize()
                Issue.record("\(name): a regression input was accepted")
            } catch {
                #expect(error is ConvertError, "\(name): \(error)")
            }
        }
    }

    @Test func configInputs() throws {
        let tensorSets = try ["gpt2_plain_f32", "llama_sharded_bf16", "qwen2_gqa_f32"].map {
            try HuggingFaceCheckpoint.open(directory: Fixtures.path("models", $0)).tensors
        }
        let inputs = try Self.inputs("config")
        #expect(inputs.count >= 4)
        for (name, bytes) in inputs {
            let tensors = tensorSets[Int(bytes[0]) % tensorSets.count]
            guard let object = JSONValue.parsed(Array(bytes.dropFirst()))?.objectValue else { continue }
            do {
                _ = try HuggingFaceImporter.sanitize(configuration: object, tensors: tensors)
                Issue.record("\(name): a regression input was accepted")
            } catch let error as ConvertError {
                guard case .invalidConfiguration(_, let reason) = error else {
                    Issue.record("\(name): expected invalidConfiguration, got \(error)")
                    continue
                }
                #expect(reason.contains("implausibly large"), "\(name): \(reason)")
            }
        }
    }
}

/// A header that declares far more layers than the file holds is refused after a bounded amount of work.
@Suite struct DeclaredLayerCountTests {
    @Test func missingTensorsAreNamedUpToTheLimit() throws {
        let configuration = ModelConfiguration(
            architecture: .llama, vocabularySize: 32, hiddenSize: 8, layerCount: 4096, headCount: 2, keyValueHeadCount: 2,
            headDimension: 4, intermediateSize: 16, maximumPositions: 64, normEpsilon: 1e-5, ropeTheta: 10_000,
            tiedEmbeddings: true, attentionBias: false)
        var builder = PlanBuilder(sources: [:])
        builder.plan(configuration) { SourceBinding(name: $0.name) }
        #expect(builder.hasEnoughMissing)
        do {
            _ = try builder.finish()
            Issue.record("a plan without any source tensor must fail")
        } catch ConvertError.missingTensors(let names) {
            #expect(names.count == PlanBuilder.missingTensorLimit)
            #expect(names == names.sorted())
            #expect(names.contains("token_embedding.weight"))
        }
    }
}

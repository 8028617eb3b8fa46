import DiffuGGUF
import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuTokenizers

/// Replays `Tests/Fixtures/fuzz/<target>/` inputs of the tokenizer fuzz targets (`tools/fuzz/`) through the
/// harnesses' entry points: `Tokenizer.load(files:)` with the input as the named file(s), and encode/decode
/// of arbitrary bytes and ids on the real llama.cpp vocabularies. Each must give a value or a
/// `TokenizerError`, never a trap.
@Suite struct TokenizerRobustnessRegressionTests {
    static let fixtures = TestFixtures.root

    static func inputs(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        let folder = fixtures.appendingPathComponent("fuzz/\(target)").path
        guard FileManager.default.fileExists(atPath: folder) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { name in
            let data = try #require(FileManager.default.contents(atPath: folder + "/" + name))
            return (name, [UInt8](data))
        }
    }

    /// Splits at the first `count - 1` NUL bytes, as the multi-file harnesses do.
    static func split(_ bytes: [UInt8], parts count: Int) -> [[UInt8]] {
        var parts: [[UInt8]] = []
        var rest = bytes[...]
        while parts.count < count - 1, let index = rest.firstIndex(of: 0) {
            parts.append(Array(rest[..<index]))
            rest = rest[(index + 1)...]
        }
        parts.append(Array(rest))
        while parts.count < count { parts.append([]) }
        return parts
    }

    static func exercise(_ tokenizer: Tokenizer) {
        for text in ["Hello world, 123 ünïcödé 🦙\n\t  x", "<s>[INST] a </s>", ""] {
            let ids = tokenizer.encode(text, addSpecialTokens: true, parseSpecial: true)
            #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
            _ = tokenizer.decode(ids)
        }
        _ = tokenizer.decode([0, 1, -1, .max, Int32(tokenizer.vocabularySize)])
    }

    static func load(_ files: [String: [UInt8]], _ name: String) {
        do { exercise(try Tokenizer.load(files: files)) } catch {
            #expect(!error.description.isEmpty, "\(name)")
        }
    }

    @Test func loaderInputs() throws {
        for (name, bytes) in try Self.inputs("tokenizer-json") {
            let parts = Self.split(bytes, parts: 3)
            var files = ["tokenizer.json": parts[0]]
            if !parts[1].isEmpty { files["tokenizer_config.json"] = parts[1] }
            if !parts[2].isEmpty { files["special_tokens_map.json"] = parts[2] }
            Self.load(files, name)
        }
        for (name, bytes) in try Self.inputs("vocab-merges") {
            let parts = Self.split(bytes, parts: 3)
            var files = ["vocab.json": parts[0], "merges.txt": parts[1]]
            if !parts[2].isEmpty { files["tokenizer_config.json"] = parts[2] }
            Self.load(files, name)
        }
        for (name, bytes) in try Self.inputs("sentencepiece") { Self.load(["tokenizer.model": bytes], name) }
        for (name, bytes) in try Self.inputs("gguf-vocab") { Self.load(["vocab.gguf": bytes], name) }
    }

    @Test func encodeDecodeInputs() throws {
        let inputs = try Self.inputs("encode-decode")
        guard !inputs.isEmpty else { return }
        let tokenizers = try ["gpt-2", "llama-spm", "qwen2"].map {
            try Tokenizer.load(ggufPath: Self.fixtures.appendingPathComponent("tokenizers/vocab/ggml-vocab-\($0).gguf").path)
        }
        for (_, bytes) in inputs where !bytes.isEmpty {
            let selector = Int(bytes[0])
            let tokenizer = tokenizers[selector % tokenizers.count]
            let payload = Array(bytes.dropFirst())
            let ids = tokenizer.encode(bytes: payload, addSpecialTokens: selector & 4 != 0, parseSpecial: selector & 8 != 0)
            #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
            _ = tokenizer.decode(ids)
            let raw = stride(from: 0, to: payload.count - 3, by: 4).map {
                Int32(bitPattern: UInt32(payload[$0]) | UInt32(payload[$0 + 1]) << 8 | UInt32(payload[$0 + 2]) << 16 | UInt32(payload[$0 + 3]) << 24)
            }
            _ = tokenizer.decode(raw)
        }
    }
}

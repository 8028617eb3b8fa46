import DiffuTestSupport
import DiffuTokenizers
import Foundation
import Testing

/// Locates and loads the committed fixtures in `Tests/Fixtures/tokenizers` (made by
/// `tools/fixtures/make_tokenizer_fixtures.py`). A missing file is a test failure.
enum Fixtures {
    static let directory = TestFixtures.url("tokenizers")

    static func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    static func bytes(_ relative: String) throws -> [UInt8] {
        try TestFixtures.bytes("tokenizers/\(relative)")
    }

    /// llama.cpp's test vectors, split exactly as `tests/test-tokenizer-0.cpp` does: the `.inp` text is cut
    /// at every "\n__ggml_vocab_test__\n"; the `.out` file has one line of ids per text.
    static func llamaCppVectors(_ vocab: String) throws -> [(text: String, ids: [Int32])] {
        // Split on bytes: String searching would match up to canonical equivalence.
        let input = try bytes("vocab/\(vocab).inp")
        let separator = Array("\n__ggml_vocab_test__\n".utf8)
        var texts: [String] = []
        var start = 0
        var index = 0
        while index + separator.count <= input.count {
            if input[index..<(index + separator.count)].elementsEqual(separator) {
                texts.append(String(decoding: input[start..<index], as: UTF8.self))
                index += separator.count
                start = index
            } else {
                index += 1
            }
        }
        if start < input.count { texts.append(String(decoding: input[start...], as: UTF8.self)) }
        let output = String(decoding: try bytes("vocab/\(vocab).out"), as: UTF8.self)
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard lines.count == texts.count else { throw FixtureError.malformed("\(vocab): \(texts.count) texts, \(lines.count) id lines") }
        return zip(texts, lines).map { text, line in
            (text, line.split(separator: " ").compactMap { Int32($0) })
        }
    }

    /// The Qwen2 tokenizer.json, rebuilt from `tokenizer.skeleton.json` (the real file without its vocab and
    /// merges) and the committed `vocab.json` / `merges.txt` (which hold that vocab and those merges).
    static func qwen2TokenizerJSON() throws -> [UInt8] {
        try splicedTokenizerJSON(skeleton: "qwen2/tokenizer.skeleton.json", vocabulary: "qwen2")
    }

    /// A tokenizer.json skeleton (model.vocab and model.merges emptied by the fixture tool) with the
    /// vocab.json and merges.txt of `vocabulary` put back.
    static func splicedTokenizerJSON(skeleton skeletonPath: String, vocabulary: String) throws -> [UInt8] {
        let skeleton = String(decoding: try bytes(skeletonPath), as: UTF8.self)
        let vocab = String(decoding: try bytes("\(vocabulary)/vocab.json"), as: UTF8.self)
        let mergeLines = String(decoding: try bytes("\(vocabulary)/merges.txt"), as: UTF8.self)
            .split(separator: "\n").filter { !$0.hasPrefix("#version") }
        var merges = "["
        for (index, line) in mergeLines.enumerated() {
            if index > 0 { merges += "," }
            merges += "\""
            for scalar in line.unicodeScalars {
                switch scalar {
                case "\"": merges += "\\\""
                case "\\": merges += "\\\\"
                default:
                    if scalar.value < 0x20 { merges += String(format: "\\u%04x", scalar.value) } else { merges.unicodeScalars.append(scalar) }
                }
            }
            merges += "\""
        }
        merges += "]"
        guard let vocabRange = skeleton.range(of: "\"vocab\": {}"), let mergesRange = skeleton.range(of: "\"merges\": []") else {
            throw FixtureError.malformed("\(skeletonPath) lacks the empty vocab/merges")
        }
        var text = skeleton
        text.replaceSubrange(mergesRange, with: "\"merges\": " + merges)
        text.replaceSubrange(text.range(of: "\"vocab\": {}")!, with: "\"vocab\": " + vocab)
        _ = vocabRange
        return Array(text.utf8)
    }

    /// The tokenizer.json variants of `hf_expected.json`: GPT-2's vocabulary under another pre-tokenizer
    /// (`gpt2-prefix-space`, `gpt2-llama3-split`) or the small hand-made `synthetic` tokenizer.
    static func variantTokenizer(_ variant: String) throws -> Tokenizer {
        let json = variant == "synthetic"
            ? try bytes("synthetic/tokenizer.json")
            : try splicedTokenizerJSON(skeleton: "variants/\(variant).skeleton.json", vocabulary: "gpt2")
        return try Tokenizer.load(files: ["tokenizer.json": json])
    }

    /// Every tokenizer source for the three vocabularies, loaded once.
    enum Source: String, CaseIterable, CustomStringConvertible, Sendable {
        case gpt2GGUF, gpt2TokenizerJSON, gpt2VocabMerges
        case llamaGGUF, llamaTokenizerJSON, llamaTokenizerModel, llamaMergesAsPairs
        case qwen2GGUF, qwen2TokenizerJSON, qwen2VocabMerges

        var description: String { rawValue }

        var vocabulary: String {
            switch self {
            case .gpt2GGUF, .gpt2TokenizerJSON, .gpt2VocabMerges: "gpt2"
            case .llamaGGUF, .llamaTokenizerJSON, .llamaTokenizerModel, .llamaMergesAsPairs: "llama2"
            case .qwen2GGUF, .qwen2TokenizerJSON, .qwen2VocabMerges: "qwen2"
            }
        }

        var ggufVectors: String {
            switch vocabulary {
            case "gpt2": "ggml-vocab-gpt-2.gguf"
            case "llama2": "ggml-vocab-llama-spm.gguf"
            default: "ggml-vocab-qwen2.gguf"
            }
        }

        func load() throws -> Tokenizer {
            switch self {
            case .gpt2GGUF: return try Tokenizer.load(ggufPath: Fixtures.path("vocab/ggml-vocab-gpt-2.gguf"))
            case .llamaGGUF: return try Tokenizer.load(files: ["vocab.gguf": try Fixtures.bytes("vocab/ggml-vocab-llama-spm.gguf")])
            case .qwen2GGUF: return try Tokenizer.load(ggufPath: Fixtures.path("vocab/ggml-vocab-qwen2.gguf"))
            case .gpt2TokenizerJSON:
                return try Tokenizer.load(files: try Fixtures.files("gpt2", ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]))
            case .gpt2VocabMerges:
                return try Tokenizer.load(files: try Fixtures.files("gpt2", ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"]))
            case .llamaTokenizerJSON:
                return try Tokenizer.load(files: try Fixtures.files("llama2", ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]))
            case .llamaTokenizerModel:
                return try Tokenizer.load(files: try Fixtures.files("llama2", ["tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"]))
            case .llamaMergesAsPairs:
                var files = try Fixtures.files("llama2", ["tokenizer_config.json", "special_tokens_map.json"])
                files["tokenizer.json"] = try Fixtures.bytes("variants/llama2-tokenizer-merges-as-pairs.json")
                return try Tokenizer.load(files: files)
            case .qwen2TokenizerJSON:
                var files = try Fixtures.files("qwen2", ["tokenizer_config.json", "special_tokens_map.json"])
                files["tokenizer.json"] = try Fixtures.qwen2TokenizerJSON()
                return try Tokenizer.load(files: files)
            case .qwen2VocabMerges:
                return try Tokenizer.load(files: try Fixtures.files("qwen2", ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"]))
            }
        }
    }

    static func files(_ folder: String, _ names: [String]) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for name in names { files[name] = try bytes("\(folder)/\(name)") }
        return files
    }

    /// Tokenizers are loaded once per test process (loading in a debug build takes a moment).
    static func tokenizer(_ source: Source) throws -> Tokenizer {
        try cache.tokenizer(for: source)
    }

    private static let cache = LockedCache()

    /// HF `tokenizers` reference ids for the texts in `tools/fixtures/make_tokenizer_fixtures.py`.
    struct ExpectedCase: Decodable, Sendable {
        let text: String
        let ids: [Int32]
        let parse_special: Bool
        let ids_with_special: [Int32]
        let decoded: String
    }

    struct ExpectedFile: Decodable {
        let tokenizers: [String: [ExpectedCase]]
    }

    static func hfExpected(_ vocabulary: String) throws -> [ExpectedCase] {
        let file = try JSONDecoder().decode(ExpectedFile.self, from: Data(try bytes("hf_expected.json")))
        guard let cases = file.tokenizers[vocabulary], !cases.isEmpty else { throw FixtureError.malformed("hf_expected.json lacks \(vocabulary)") }
        return cases
    }
}

/// A cache of loaded tokenizers with one lock per source, so different sources load in parallel.
final class LockedCache: @unchecked Sendable {
    private let locks: [Fixtures.Source: NSLock] = Dictionary(uniqueKeysWithValues: Fixtures.Source.allCases.map { ($0, NSLock()) })
    private let tableLock = NSLock()
    private var tokenizers: [Fixtures.Source: Tokenizer] = [:]

    func tokenizer(for source: Fixtures.Source) throws -> Tokenizer {
        let lock = locks[source]!
        lock.lock()
        defer { lock.unlock() }
        tableLock.lock()
        let cached = tokenizers[source]
        tableLock.unlock()
        if let cached { return cached }
        let tokenizer = try source.load()
        tableLock.lock()
        tokenizers[source] = tokenizer
        tableLock.unlock()
        return tokenizer
    }
}

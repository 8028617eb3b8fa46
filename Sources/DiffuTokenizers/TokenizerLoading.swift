import DiffuGGUF
import Foundation

extension Tokenizer {
    /// The file names `load(files:)` understands.
    public static let recognizedFileNames = [
        "tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model", "tokenizer_config.json",
        "special_tokens_map.json", "vocab.gguf",
    ]

    /// Builds a tokenizer from file contents keyed by file name (see `recognizedFileNames`). The source is
    /// chosen in this order: `tokenizer.json`, `tokenizer.model`, `vocab.json` + `merges.txt`, `vocab.gguf`
    /// (a GGUF file holding `tokenizer.ggml.*` metadata). `tokenizer_config.json` and
    /// `special_tokens_map.json` add special tokens, `add_bos_token`/`add_eos_token` and the chat template
    /// to the Hugging Face sources.
    public static func load(files: [String: [UInt8]]) throws(TokenizerError) -> Tokenizer {
        let hasConfig = files["tokenizer_config.json"] != nil || files["special_tokens_map.json"] != nil
        func configuration() throws(TokenizerError) -> HuggingFaceConfiguration {
            try HuggingFaceConfiguration(tokenizerConfig: files["tokenizer_config.json"], specialTokensMap: files["special_tokens_map.json"])
        }
        if let json = files["tokenizer.json"] {
            return Tokenizer(definition: try HuggingFaceLoader.loadTokenizerJSON(json, configuration: try configuration()))
        }
        if let model = files["tokenizer.model"] {
            return Tokenizer(definition: try SentencePieceLoader.load(model, configuration: hasConfig ? try configuration() : nil))
        }
        if let vocab = files["vocab.json"], let merges = files["merges.txt"] {
            return Tokenizer(definition: try HuggingFaceLoader.loadVocabAndMerges(vocab: vocab, merges: merges, configuration: try configuration()))
        }
        if let gguf = files["vocab.gguf"] {
            let file: GGUFFile
            do { file = try GGUFFile.parse(gguf) } catch { throw .gguf(reason: "\(error)") }
            return try load(gguf: file)
        }
        throw .noTokenizerSource(available: Array(files.keys))
    }

    /// Loads the recognised tokenizer files of a Hugging Face model folder.
    public static func load(directory: String) throws(TokenizerError) -> Tokenizer {
        var files: [String: [UInt8]] = [:]
        let manager = FileManager.default
        for name in recognizedFileNames where name != "vocab.gguf" {
            let path = (directory as NSString).appendingPathComponent(name)
            guard manager.fileExists(atPath: path) else { continue }
            guard let data = manager.contents(atPath: path) else { throw .unreadableFile(path: path) }
            files[name] = [UInt8](data)
        }
        if files.isEmpty { throw .noTokenizerSource(available: []) }
        return try load(files: files)
    }

    /// Loads the tokenizer stored in a GGUF file's metadata. The file is memory-mapped; tensor data is
    /// not read.
    public static func load(ggufPath: String) throws(TokenizerError) -> Tokenizer {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: ggufPath), options: .alwaysMapped) } catch { throw .unreadableFile(path: ggufPath) }
        let file: GGUFFile
        do { file = try data.withUnsafeBytes { try GGUFFile.parse($0) } } catch { throw .gguf(reason: "\(error)") }
        return try load(gguf: file)
    }

    /// Builds a tokenizer from parsed GGUF metadata (`tokenizer.ggml.model` gpt2 or llama).
    public static func load(gguf file: GGUFFile) throws(TokenizerError) -> Tokenizer {
        Tokenizer(definition: try GGUFTokenizerLoader.load(file))
    }
}

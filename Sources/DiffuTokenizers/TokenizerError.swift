/// Why a tokenizer could not be loaded. Every case names the file or key at fault.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// None of the recognised tokenizer files was present.
    case noTokenizerSource(available: [String])
    /// A file could not be read from disk.
    case unreadableFile(path: String)
    /// A JSON file is not well-formed JSON.
    case malformedJSON(file: String, offset: Int, reason: String)
    /// A required key is absent or has the wrong type.
    case missingKey(file: String, key: String)
    /// A value is present but not acceptable.
    case invalidValue(file: String, key: String, reason: String)
    /// A tokenizer feature that this implementation does not support (rather than guessing).
    case unsupported(file: String, feature: String)
    /// A merge names a token that is not in the vocabulary.
    case mergeTokenNotFound(file: String, merge: String)
    /// The SentencePiece protobuf is malformed.
    case malformedProtobuf(reason: String)
    /// The GGUF metadata cannot be read or lacks tokenizer keys.
    case gguf(reason: String)

    /// A one-line explanation naming the file and the problem.
    public var description: String {
        switch self {
        case .noTokenizerSource(let available):
            "no tokenizer source: need tokenizer.json, tokenizer.model, vocab.json + merges.txt or a GGUF vocabulary; got \(available.sorted())"
        case .unreadableFile(let path): "cannot read \(path)"
        case .malformedJSON(let file, let offset, let reason): "\(file): malformed JSON at byte \(offset): \(reason)"
        case .missingKey(let file, let key): "\(file): missing or mistyped key '\(key)'"
        case .invalidValue(let file, let key, let reason): "\(file): invalid '\(key)': \(reason)"
        case .unsupported(let file, let feature): "\(file): unsupported \(feature)"
        case .mergeTokenNotFound(let file, let merge): "\(file): merge '\(merge)' uses a token missing from the vocabulary"
        case .malformedProtobuf(let reason): "tokenizer.model: malformed SentencePiece protobuf: \(reason)"
        case .gguf(let reason): "GGUF tokenizer: \(reason)"
        }
    }
}

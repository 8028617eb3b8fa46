import DiffuModels

/// How the embedded tokenizer is stored: which loader reads it and the blob tensor of each original file.
public struct TokenizerEmbedding: Sendable, Equatable {
    /// The loader that reads the files.
    public enum Kind: String, Sendable, Equatable {
        /// A Hugging Face `tokenizer.json` (with `tokenizer_config.json` when present).
        case tokenizerJSON = "tokenizer.json"
        /// GPT-2-style `vocab.json` + `merges.txt`.
        case vocabularyAndMerges = "vocab+merges"
        /// A SentencePiece `tokenizer.model`.
        case sentencePiece = "sentencepiece"
        /// A metadata-only GGUF holding a GGUF model's `tokenizer.*` keys (`vocab.gguf`).
        case gguf
    }

    /// The loader kind.
    public var kind: Kind
    /// Original file name → blob tensor name (`tokenizer/<file name>`).
    public var files: [String: String]

    /// Creates a tokenizer description.
    public init(kind: Kind, files: [String: String]) {
        self.kind = kind
        self.files = files
    }
}

/// One file the converter read, for the provenance record.
public struct SourceFileRecord: Sendable, Equatable {
    /// Path relative to the conversion source (the file name for a GGUF).
    public var path: String
    /// Size in bytes.
    public var size: Int
    /// Lower-case hexadecimal SHA-256 of the whole file.
    public var sha256: String

    /// Creates a record.
    public init(path: String, size: Int, sha256: String) {
        self.path = path
        self.size = size
        self.sha256 = sha256
    }
}

/// Everything the converter records about a converted model besides its tensors.
public struct ConversionMetadata: Sendable, Equatable {
    /// The forward pass's hyperparameters.
    public var model: ModelConfiguration
    /// Mask token, shift rule, special tokens, sampler defaults.
    public var diffusion: DiffusionDefaults
    /// The embedded tokenizer.
    public var tokenizer: TokenizerEmbedding
    /// The source files with sizes and SHA-256.
    public var sources: [SourceFileRecord]
    /// The converter's version string.
    public var converterVersion: String
    /// The quantization recipe (``QuantizationRecipe/summary``).
    public var quantization: String

    /// Creates conversion metadata.
    public init(model: ModelConfiguration, diffusion: DiffusionDefaults, tokenizer: TokenizerEmbedding,
                sources: [SourceFileRecord], converterVersion: String, quantization: String) {
        self.model = model
        self.diffusion = diffusion
        self.tokenizer = tokenizer
        self.sources = sources
        self.converterVersion = converterVersion
        self.quantization = quantization
    }
}

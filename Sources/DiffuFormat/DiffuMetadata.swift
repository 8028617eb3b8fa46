// The metadata names `JSONValue` (the model hyperparameters, sampler options, extra fields): users of
// DiffuFormat see it without importing DiffuJSON.
@_exported import DiffuJSON

/// The metadata block of a `.diffu` file (zstd-compressed JSON; see `formats/diffu-v1.md`).
///
/// JSON keys are snake_case; optional fields are omitted when `nil`.
public struct DiffuMetadata: Codable, Sendable, Equatable {
    /// Every hyperparameter the forward pass needs, as the facade's model configuration encodes it
    /// (`DiffuModels.ModelConfiguration`); opaque to DiffuFormat.
    public var model: JSONValue
    /// Diffusion-specific settings: mask token, logit shift, special tokens, sampler defaults.
    public var diffusion: DiffusionSettings
    /// Which tokenizer files are embedded and under which blob tensor names.
    public var tokenizer: TokenizerFiles
    /// Where the weights came from and how they were converted.
    public var provenance: Provenance
    /// Free-form extra information (for example source-model fields Diffu does not interpret).
    public var extra: [String: JSONValue]?

    /// Creates metadata.
    public init(
        model: JSONValue, diffusion: DiffusionSettings, tokenizer: TokenizerFiles, provenance: Provenance,
        extra: [String: JSONValue]? = nil
    ) {
        self.model = model
        self.diffusion = diffusion
        self.tokenizer = tokenizer
        self.provenance = provenance
        self.extra = extra
    }
}

/// Token ids and defaults of the diffusion process.
public struct DiffusionSettings: Codable, Sendable, Equatable {
    /// Id of the `[MASK]` token the denoiser fills in (DiffuGPT 50257, DiffuLLaMA 811, Dream 151666, …).
    public var maskTokenID: Int
    /// Whether the logits at position `i` predict token `i + 1` (adapted autoregressive models such as
    /// DiffuLLaMA and Dream) rather than token `i`.
    public var shiftLogits: Bool
    /// Beginning-of-sequence token id, if the model has one.
    public var bosTokenID: Int?
    /// End-of-sequence token id, if the model has one.
    public var eosTokenID: Int?
    /// Padding token id, if the model has one.
    public var padTokenID: Int?
    /// Separator token id, if the model has one.
    public var sepTokenID: Int?
    /// The source model's chat template (Jinja text), if any.
    public var chatTemplate: String?
    /// The source model's default sampler settings, if known.
    public var samplerDefaults: SamplerDefaults?

    /// Creates diffusion settings.
    public init(
        maskTokenID: Int, shiftLogits: Bool, bosTokenID: Int? = nil, eosTokenID: Int? = nil,
        padTokenID: Int? = nil, sepTokenID: Int? = nil, chatTemplate: String? = nil,
        samplerDefaults: SamplerDefaults? = nil
    ) {
        self.maskTokenID = maskTokenID
        self.shiftLogits = shiftLogits
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.padTokenID = padTokenID
        self.sepTokenID = sepTokenID
        self.chatTemplate = chatTemplate
        self.samplerDefaults = samplerDefaults
    }

    enum CodingKeys: String, CodingKey {
        case maskTokenID = "mask_token_id"
        case shiftLogits = "shift_logits"
        case bosTokenID = "bos_token_id"
        case eosTokenID = "eos_token_id"
        case padTokenID = "pad_token_id"
        case sepTokenID = "sep_token_id"
        case chatTemplate = "chat_template"
        case samplerDefaults = "sampler"
    }
}

/// The sampler settings a source model ships with (its `generation_config.json` or model card).
public struct SamplerDefaults: Codable, Sendable, Equatable {
    /// Sampler name as DiffuSamplers spells it (for example `"origin"`, `"entropy"`, `"maskgit_plus"`).
    public var sampler: String
    /// Number of denoising steps.
    public var steps: Int
    /// Softmax temperature.
    public var temperature: Double
    /// Nucleus (top-p) threshold; 1 disables it.
    public var topP: Double
    /// Number of tokens generated.
    public var generationLength: Int
    /// Sampler-specific extras (for example Dream's `alg_temp`, `eps`), uninterpreted here.
    public var options: [String: JSONValue]?

    /// Creates sampler defaults.
    public init(
        sampler: String, steps: Int, temperature: Double, topP: Double, generationLength: Int,
        options: [String: JSONValue]? = nil
    ) {
        self.sampler = sampler
        self.steps = steps
        self.temperature = temperature
        self.topP = topP
        self.generationLength = generationLength
        self.options = options
    }

    enum CodingKeys: String, CodingKey {
        case sampler, steps, temperature, options
        case topP = "top_p"
        case generationLength = "generation_length"
    }
}

/// The embedded tokenizer: its kind and the blob tensors that hold its original files.
public struct TokenizerFiles: Codable, Sendable, Equatable {
    /// Which loader reads the files.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A Hugging Face `tokenizer.json` (plus `tokenizer_config.json` if present).
        case tokenizerJSON = "tokenizer.json"
        /// GPT-2 style `vocab.json` + `merges.txt`.
        case vocabularyAndMerges = "vocab+merges"
        /// A SentencePiece `tokenizer.model`.
        case sentencePiece = "sentencepiece"
        /// The tokenizer of a GGUF file (its `tokenizer.ggml.*` metadata, stored as a metadata-only GGUF blob).
        case gguf
    }

    /// The loader kind.
    public var kind: Kind
    /// Original file name → blob tensor name, for example `"tokenizer.json"` → `"tokenizer/tokenizer.json"`.
    /// Every tensor named here must exist in the file with storage type `bytes` (the reader checks).
    public var files: [String: String]

    /// Creates a tokenizer description.
    public init(kind: Kind, files: [String: String]) {
        self.kind = kind
        self.files = files
    }
}

/// Where a `.diffu` file came from.
public struct Provenance: Codable, Sendable, Equatable {
    /// One source file of the conversion.
    public struct SourceFile: Codable, Sendable, Equatable {
        /// Path relative to the conversion source (file name for a single GGUF).
        public var path: String
        /// Size in bytes.
        public var size: Int
        /// Lower-case hexadecimal SHA-256 of the whole file.
        public var sha256: String

        /// Creates a source file record.
        public init(path: String, size: Int, sha256: String) {
            self.path = path
            self.size = size
            self.sha256 = sha256
        }
    }

    /// The files read by the converter.
    public var sources: [SourceFile]
    /// The converter's version string.
    public var converterVersion: String
    /// The quantization recipe, for example `"q4"` or `"q4 (q8 for embeddings and output)"`.
    public var quantization: String
    /// Creation time, ISO 8601 in UTC (for example `"2026-11-27T03:00:00Z"`).
    public var createdAt: String

    /// Creates provenance.
    public init(sources: [SourceFile], converterVersion: String, quantization: String, createdAt: String) {
        self.sources = sources
        self.converterVersion = converterVersion
        self.quantization = quantization
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case sources, quantization
        case converterVersion = "converter_version"
        case createdAt = "created_at"
    }
}

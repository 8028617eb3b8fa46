import DiffuKernels
import DiffuStorage

/// Every hyperparameter the forward pass needs. Stored as JSON under `"model"` in a `.diffu` file's
/// metadata (field names are the JSON keys, snake_case).
public struct ModelConfiguration: Codable, Sendable, Equatable {
    /// The transformer family.
    public var architecture: Architecture
    /// Vocabulary rows of the embedding and the LM head.
    public var vocabularySize: Int
    /// Model width.
    public var hiddenSize: Int
    /// Number of transformer blocks.
    public var layerCount: Int
    /// Query heads.
    public var headCount: Int
    /// Key/value heads (= `headCount` without grouped-query attention).
    public var keyValueHeadCount: Int
    /// Width of one head (normally `hiddenSize / headCount`).
    public var headDimension: Int
    /// Width of the MLP's hidden layer.
    public var intermediateSize: Int
    /// Longest sequence the model was trained for (GPT-2: rows of the position table).
    public var maximumPositions: Int
    /// Epsilon of LayerNorm / RMSNorm.
    public var normEpsilon: Float
    /// RoPE base frequency (LLaMA, Qwen2); ignored by GPT-2.
    public var ropeTheta: Float
    /// Whether the LM head reuses the token embedding (no `output.weight` tensor).
    public var tiedEmbeddings: Bool
    /// Whether q/k/v projections have biases (Qwen2: true; GPT-2: always true).
    public var attentionBias: Bool

    /// Creates a configuration.
    public init(
        architecture: Architecture, vocabularySize: Int, hiddenSize: Int, layerCount: Int, headCount: Int,
        keyValueHeadCount: Int, headDimension: Int, intermediateSize: Int, maximumPositions: Int,
        normEpsilon: Float, ropeTheta: Float, tiedEmbeddings: Bool, attentionBias: Bool
    ) {
        self.architecture = architecture
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount
        self.headDimension = headDimension
        self.intermediateSize = intermediateSize
        self.maximumPositions = maximumPositions
        self.normEpsilon = normEpsilon
        self.ropeTheta = ropeTheta
        self.tiedEmbeddings = tiedEmbeddings
        self.attentionBias = attentionBias
    }

    enum CodingKeys: String, CodingKey {
        case architecture
        case vocabularySize = "vocab_size"
        case hiddenSize = "hidden_size"
        case layerCount = "num_layers"
        case headCount = "num_heads"
        case keyValueHeadCount = "num_kv_heads"
        case headDimension = "head_dim"
        case intermediateSize = "intermediate_size"
        case maximumPositions = "max_positions"
        case normEpsilon = "norm_eps"
        case ropeTheta = "rope_theta"
        case tiedEmbeddings = "tied_embeddings"
        case attentionBias = "attention_bias"
    }
}

/// Where a model gets its parameters, by canonical tensor name. The models never see a file format:
/// the facade adapts a mapped `.diffu` file to this protocol, tests adapt in-memory arrays.
///
/// Canonical names are `<slot>.weight` / `<slot>.bias`, with `layers.{i}.` (layer index from 0) before
/// the per-layer slots: `token_embedding`, `position_embedding`, `layers.{i}.attention_norm`,
/// `layers.{i}.attention.query` / `.key` / `.value` / `.output`, `layers.{i}.ffn_norm`,
/// `layers.{i}.ffn.gate` / `.up` / `.down`, `output_norm`, `output`. Which of them an architecture has,
/// their shapes and kinds are its descriptor's tensor table (`GPT2Model.swift`, `LlamaModel.swift`,
/// `Qwen2Model.swift`), the one list the loader and the converter read.
///
/// Matrices are in `panel16` layout (any storage type); vectors and the position table are f32
/// row-major. RoPE models use the Hugging Face half-split (`rotate_half`) convention for Q/K rows: the
/// converter undoes llama.cpp's interleaving permutation of GGUF files.
public protocol ModelWeights: Sendable {
    /// The matrix with this canonical name.
    func matrix(_ name: String) throws -> WeightMatrix
    /// The f32 vector (or row-major table) with this canonical name, with its element count.
    func vector(_ name: String) throws -> UnsafeBufferPointer<Float>
    /// Whether a tensor with this canonical name exists.
    func contains(_ name: String) -> Bool
}

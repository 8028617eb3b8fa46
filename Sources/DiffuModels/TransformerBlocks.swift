import DiffuKernels
import DiffuStorage

/// Errors of model construction and of the forward pass.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    /// The configuration is inconsistent (the message says which fields).
    case invalidConfiguration(String)
    /// A required tensor is absent.
    case missingTensor(String)
    /// A tensor is present but has the wrong shape (`[rows, columns]` for matrices, `[count]` for vectors).
    case tensorShape(name: String, expected: [Int], actual: [Int])
    /// A tensor exists that this architecture/configuration does not use (e.g. a bias the config says is absent).
    case unexpectedTensor(String)
    /// The weights provider failed to deliver a tensor.
    case tensorUnavailable(name: String, reason: String)
    /// The token sequence is empty.
    case emptyInput
    /// A token id is negative or not below the vocabulary size.
    case tokenOutOfRange(index: Int, token: Int32, vocabularySize: Int)
    /// The sequence is longer than the model's position table (GPT-2).
    case sequenceTooLong(length: Int, maximum: Int)
    /// A requested output position is not inside the sequence.
    case outputPositionOutOfRange(position: Int, length: Int)
    /// The thread count is not positive.
    case invalidThreadCount(Int)
    /// The workspace is being used by another forward pass right now.
    case workspaceInUse
    /// The key/value cache is being used by another forward pass right now.
    case cacheInUse
    /// A cached pass was asked for a canvas whose length differs from the cached one (or the cache is empty).
    case cacheNotFilled(cached: Int, length: Int)
    /// A cached pass's window is empty or not inside the canvas.
    case invalidWindow(window: Range<Int>, length: Int)
    /// A cached pass was asked for logits of a position it does not compute.
    case outputPositionOutsideWindow(position: Int, window: Range<Int>)
    /// The key/value cache's size overflows.
    case cacheTooLarge(length: Int)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .invalidConfiguration(let reason): "invalid model configuration: \(reason)"
        case .missingTensor(let name): "missing tensor '\(name)'"
        case .tensorShape(let name, let expected, let actual): "tensor '\(name)' has shape \(actual), expected \(expected)"
        case .unexpectedTensor(let name): "tensor '\(name)' is not used by this model configuration"
        case .tensorUnavailable(let name, let reason): "tensor '\(name)' could not be read: \(reason)"
        case .emptyInput: "the token sequence is empty"
        case .tokenOutOfRange(let index, let token, let vocabularySize):
            "token \(token) at index \(index) is outside the vocabulary (0..<\(vocabularySize))"
        case .sequenceTooLong(let length, let maximum): "sequence of \(length) tokens exceeds the maximum of \(maximum) positions"
        case .outputPositionOutOfRange(let position, let length): "output position \(position) is outside 0..<\(length)"
        case .invalidThreadCount(let count): "thread count \(count) is not positive"
        case .workspaceInUse: "the forward workspace is already in use by another forward pass"
        case .cacheInUse: "the key/value cache is already in use by another forward pass"
        case .cacheNotFilled(let cached, let length):
            "the key/value cache holds \(cached) positions, the canvas has \(length): fill it with a full pass first"
        case .invalidWindow(let window, let length): "window \(window) is empty or outside 0..<\(length)"
        case .outputPositionOutsideWindow(let position, let window): "output position \(position) is outside the computed window \(window)"
        case .cacheTooLarge(let length): "a key/value cache for \(length) positions does not fit in memory"
        }
    }
}

// MARK: - Resolved parameters (views into the weights provider's memory)

/// A normalization's weight and optional bias (`width` f32 values each).
struct NormParameters {
    let weight: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
}

/// A linear layer: panel-layout matrix `[outputs, inputs]` and optional f32 bias of `outputs` values.
struct Projection {
    let matrix: WeightMatrix
    let bias: UnsafePointer<Float>?
}

/// One transformer block's parameters.
struct LayerParameters {
    let attentionNorm: NormParameters
    let query: Projection
    let key: Projection
    let value: Projection
    let output: Projection
    let feedForwardNorm: NormParameters
    /// SwiGLU gate (LLaMA/Qwen2); `nil` for GPT-2's GELU MLP.
    let gate: Projection?
    let up: Projection
    let down: Projection
}

/// Every parameter of a model, resolved and shape-checked at load time.
///
/// `@unchecked Sendable`: the pointers are read-only views into memory the weights provider keeps alive
/// (the model holds the provider).
struct ModelParameters: @unchecked Sendable {
    let tokenEmbedding: WeightMatrix
    /// GPT-2 learned positions, row-major `[maximumPositions × hidden]`; `nil` for RoPE models.
    let positionEmbedding: UnsafePointer<Float>?
    let layers: [LayerParameters]
    let outputNorm: NormParameters
    /// The LM head `[vocab, hidden]` (the token embedding when tied).
    let head: WeightMatrix
}

/// How the blocks of an architecture are wired; the shared forward pass reads these.
struct ArchitectureTraits: Sendable {
    enum NormKind: Sendable { case layerNorm, rmsNorm }
    enum PositionKind: Sendable { case learned, rotary }
    enum FeedForwardKind: Sendable { case geluTanh, swiGLU }
    let norm: NormKind
    let positions: PositionKind
    let feedForward: FeedForwardKind
}

/// Fetches canonical tensors from a ``ModelWeights`` provider and checks their shapes.
struct WeightLoader {
    let weights: any ModelWeights

    /// A required matrix of shape `[rows, columns]`.
    func matrix(_ name: String, rows: Int, columns: Int) throws -> WeightMatrix {
        guard weights.contains(name) else { throw ModelError.missingTensor(name) }
        let matrix: WeightMatrix
        do { matrix = try weights.matrix(name) } catch { throw ModelError.tensorUnavailable(name: name, reason: "\(error)") }
        guard matrix.rows == rows, matrix.columns == columns else {
            throw ModelError.tensorShape(name: name, expected: [rows, columns], actual: [matrix.rows, matrix.columns])
        }
        return matrix
    }

    /// A required f32 vector (or row-major table) of `count` values.
    func vector(_ name: String, count: Int) throws -> UnsafePointer<Float> {
        guard weights.contains(name) else { throw ModelError.missingTensor(name) }
        let buffer: UnsafeBufferPointer<Float>
        do { buffer = try weights.vector(name) } catch { throw ModelError.tensorUnavailable(name: name, reason: "\(error)") }
        guard buffer.count == count, let base = buffer.baseAddress else {
            throw ModelError.tensorShape(name: name, expected: [count], actual: [buffer.count])
        }
        return base
    }

    /// A vector that must exist when `present` and must not exist otherwise.
    func vector(_ name: String, count: Int, present: Bool) throws -> UnsafePointer<Float>? {
        if present { return try vector(name, count: count) }
        if weights.contains(name) { throw ModelError.unexpectedTensor(name) }
        return nil
    }

    /// A projection `[rows, columns]` with a bias when `bias` is true (and none otherwise).
    func projection(_ prefix: String, rows: Int, columns: Int, bias: Bool) throws -> Projection {
        Projection(
            matrix: try matrix(prefix + ".weight", rows: rows, columns: columns),
            bias: try vector(prefix + ".bias", count: rows, present: bias)
        )
    }

    /// A normalization's weight and (when `bias`) bias.
    func norm(_ prefix: String, width: Int, bias: Bool) throws -> NormParameters {
        NormParameters(weight: try vector(prefix + ".weight", count: width), bias: try vector(prefix + ".bias", count: width, present: bias))
    }

    /// The LM head: `output.weight`, or the token embedding when tied (then `output.weight` must be absent).
    func head(configuration: ModelConfiguration, tokenEmbedding: WeightMatrix) throws -> WeightMatrix {
        if configuration.tiedEmbeddings {
            if weights.contains("output.weight") { throw ModelError.unexpectedTensor("output.weight") }
            return tokenEmbedding
        }
        return try matrix("output.weight", rows: configuration.vocabularySize, columns: configuration.hiddenSize)
    }
}

/// Checks the fields every architecture shares.
func validateCommon(_ c: ModelConfiguration) throws {
    func require(_ condition: Bool, _ reason: String) throws {
        if !condition { throw ModelError.invalidConfiguration(reason) }
    }
    try require(c.vocabularySize > 0, "vocab_size must be positive")
    try require(c.hiddenSize > 0, "hidden_size must be positive")
    try require(c.layerCount > 0, "num_layers must be positive")
    try require(c.headCount > 0, "num_heads must be positive")
    try require(c.keyValueHeadCount > 0, "num_kv_heads must be positive")
    try require(c.headCount % c.keyValueHeadCount == 0, "num_heads (\(c.headCount)) must be a multiple of num_kv_heads (\(c.keyValueHeadCount))")
    try require(c.headDimension > 0, "head_dim must be positive")
    try require(c.intermediateSize > 0, "intermediate_size must be positive")
    try require(c.maximumPositions > 0, "max_positions must be positive")
    try require(c.normEpsilon.isFinite && c.normEpsilon >= 0, "norm_eps must be finite and non-negative")
    // Counts first: the product below must not overflow on a hostile file's metadata.
    try require(c.layerCount <= 4096 && c.headCount <= 4096 && c.headDimension <= 4096, "layer/head counts are implausibly large")
    let limit = 1 << 24  // keeps every buffer size product far from overflow
    for (value, name) in [(c.vocabularySize, "vocab_size"), (c.hiddenSize, "hidden_size"), (c.intermediateSize, "intermediate_size"),
                          (c.headCount * c.headDimension, "num_heads · head_dim"), (c.maximumPositions, "max_positions")] {
        try require(value <= limit, "\(name) is implausibly large (\(value))")
    }
    try require(c.layerCount <= 4096 && c.headCount <= 4096 && c.headDimension <= 4096, "layer/head counts are implausibly large")
}

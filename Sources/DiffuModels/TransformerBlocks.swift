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
package struct ArchitectureTraits: Sendable {
    /// The normalization of every norm slot.
    package enum NormKind: Sendable { case layerNorm, rmsNorm }
    /// How positions enter: a learned table added to the embeddings, or RoPE on queries and keys.
    package enum PositionKind: Sendable { case learned, rotary }
    /// The feed-forward block: up → tanh-GELU → down, or SwiGLU over gate and up → down.
    package enum FeedForwardKind: Sendable { case geluTanh, swiGLU }
    /// The normalization.
    package let norm: NormKind
    /// The position encoding.
    package let positions: PositionKind
    /// The feed-forward block.
    package let feedForward: FeedForwardKind

    /// Creates a set of traits.
    package init(norm: NormKind, positions: PositionKind, feedForward: FeedForwardKind) {
        self.norm = norm
        self.positions = positions
        self.feedForward = feedForward
    }
}

/// Resolves a model's parameters from a ``ModelWeights`` provider by its architecture's canonical
/// tensor table (``ArchitectureDescriptor/tensors(for:)``), checking shapes: a present tensor must exist
/// with its table shape, an absent one must not exist, and a slot the table does not list is not
/// looked at.
struct WeightLoader {
    let weights: any ModelWeights
    /// The table's tensors by canonical name.
    private let table: [String: CanonicalTensor]

    /// A loader for the tensors of `tensors` (one architecture's table under one configuration).
    init(weights: any ModelWeights, tensors: [CanonicalTensor]) {
        self.weights = weights
        self.table = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Every parameter of a model with `layerCount` layers, in the order the table's slots are read:
    /// embeddings, each layer's norms and projections, the final norm, the head.
    func load(layerCount: Int) throws -> ModelParameters {
        let tokenEmbedding = try requiredMatrix(.tokenEmbedding, layer: nil)
        let positionEmbedding = try vector(.positionEmbedding, .weight, layer: nil)
        let layers = try (0..<layerCount).map { index -> LayerParameters in
            LayerParameters(
                attentionNorm: try norm(.attentionNorm, layer: index),
                query: try projection(.query, layer: index),
                key: try projection(.key, layer: index),
                value: try projection(.value, layer: index),
                output: try projection(.attentionOutput, layer: index),
                feedForwardNorm: try norm(.feedForwardNorm, layer: index),
                gate: try optionalProjection(.gate, layer: index),
                up: try projection(.up, layer: index),
                down: try projection(.down, layer: index)
            )
        }
        return ModelParameters(
            tokenEmbedding: tokenEmbedding,
            positionEmbedding: positionEmbedding,
            layers: layers,
            outputNorm: try norm(.outputNorm, layer: nil),
            head: try head(tokenEmbedding: tokenEmbedding)
        )
    }

    /// The table's entry, after checking that an absent one is not stored; `nil` when the table does
    /// not list it or it is absent.
    private func presentEntry(_ slot: TensorSlot, _ part: TensorPart, layer: Int?) throws -> CanonicalTensor? {
        let name = CanonicalTensor.name(slot, part, layer: layer)
        guard let entry = table[name] else { return nil }
        if !entry.isPresent {
            if weights.contains(name) { throw ModelError.unexpectedTensor(name) }
            return nil
        }
        guard weights.contains(name) else { throw ModelError.missingTensor(name) }
        return entry
    }

    /// The matrix of a slot (its weight), shape-checked; `nil` when the table has none.
    private func matrix(_ slot: TensorSlot, layer: Int?) throws -> WeightMatrix? {
        guard let entry = try presentEntry(slot, .weight, layer: layer) else { return nil }
        let name = entry.name, rows = entry.shape[0], columns = entry.shape[1]
        let matrix: WeightMatrix
        do { matrix = try weights.matrix(name) } catch { throw ModelError.tensorUnavailable(name: name, reason: "\(error)") }
        guard matrix.rows == rows, matrix.columns == columns else {
            throw ModelError.tensorShape(name: name, expected: [rows, columns], actual: [matrix.rows, matrix.columns])
        }
        return matrix
    }

    /// The f32 vector (or row-major table) of a slot's part, count-checked; `nil` when absent.
    private func vector(_ slot: TensorSlot, _ part: TensorPart, layer: Int?) throws -> UnsafePointer<Float>? {
        guard let entry = try presentEntry(slot, part, layer: layer) else { return nil }
        let name = entry.name, count = entry.elementCount
        let buffer: UnsafeBufferPointer<Float>
        do { buffer = try weights.vector(name) } catch { throw ModelError.tensorUnavailable(name: name, reason: "\(error)") }
        guard buffer.count == count, let base = buffer.baseAddress else {
            throw ModelError.tensorShape(name: name, expected: [count], actual: [buffer.count])
        }
        return base
    }

    private func requiredMatrix(_ slot: TensorSlot, layer: Int?) throws -> WeightMatrix {
        guard let matrix = try matrix(slot, layer: layer) else {
            throw ModelError.missingTensor(CanonicalTensor.name(slot, .weight, layer: layer))
        }
        return matrix
    }

    /// A projection and its bias (when the table has one).
    private func projection(_ slot: TensorSlot, layer: Int?) throws -> Projection {
        Projection(matrix: try requiredMatrix(slot, layer: layer), bias: try vector(slot, .bias, layer: layer))
    }

    /// A projection the architecture may not have (the SwiGLU gate).
    private func optionalProjection(_ slot: TensorSlot, layer: Int?) throws -> Projection? {
        guard let matrix = try matrix(slot, layer: layer) else { return nil }
        return Projection(matrix: matrix, bias: try vector(slot, .bias, layer: layer))
    }

    /// A normalization's weight and (when the table has one) bias.
    private func norm(_ slot: TensorSlot, layer: Int?) throws -> NormParameters {
        guard let weight = try vector(slot, .weight, layer: layer) else {
            throw ModelError.missingTensor(CanonicalTensor.name(slot, .weight, layer: layer))
        }
        return NormParameters(weight: weight, bias: try vector(slot, .bias, layer: layer))
    }

    /// The LM head: `output.weight`, or, when the table ties it (then `output.weight` must be absent),
    /// the token embedding.
    private func head(tokenEmbedding: WeightMatrix) throws -> WeightMatrix {
        if let head = try matrix(.output, layer: nil) { return head }
        let name = CanonicalTensor.name(.output, .weight, layer: nil)
        guard table[name]?.tiedTo == .tokenEmbedding else { throw ModelError.missingTensor(name) }
        return tokenEmbedding
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

/// What the runtime and the converter know about one architecture, declared once in its own file
/// (`GPT2Model.swift`, `LlamaModel.swift`, `Qwen2Model.swift`) and found through
/// ``Architecture/descriptor``: how its blocks are wired, which hyperparameters it accepts, and its
/// canonical tensor table. The runtime's weight loader (``WeightLoader``) and the converter's planner
/// both read the table, so a tensor's name, shape, kind and presence are written in one place.
package struct ArchitectureDescriptor: Sendable {
    /// How the blocks are wired (norm, positions, feed-forward); the shared forward pass reads these.
    package let traits: ArchitectureTraits
    /// Throws ``ModelError/invalidConfiguration(_:)`` for hyperparameters this architecture cannot run.
    package let validate: @Sendable (ModelConfiguration) throws -> Void
    /// The canonical tensors, in the order the converter writes them.
    package let tensorTable: TensorTable

    /// Creates a descriptor.
    package init(traits: ArchitectureTraits, validate: @escaping @Sendable (ModelConfiguration) throws -> Void, tensorTable: TensorTable) {
        self.traits = traits
        self.validate = validate
        self.tensorTable = tensorTable
    }

    /// Every canonical tensor of a model with this configuration (present or required absent), in
    /// file order.
    package func tensors(for configuration: ModelConfiguration) -> [CanonicalTensor] {
        tensorTable.tensors(for: configuration)
    }
}

/// The role a canonical tensor plays; its raw value is the canonical name's stem (after `layers.{i}.`
/// for the per-layer slots).
package enum TensorSlot: String, Sendable, CaseIterable {
    /// The token embedding `[vocab, hidden]` (rows gathered for lookup).
    case tokenEmbedding = "token_embedding"
    /// The learned position table `[max_positions, hidden]` (f32 row-major).
    case positionEmbedding = "position_embedding"
    /// The norm before attention.
    case attentionNorm = "attention_norm"
    /// The query projection.
    case query = "attention.query"
    /// The key projection.
    case key = "attention.key"
    /// The value projection.
    case value = "attention.value"
    /// The attention output projection.
    case attentionOutput = "attention.output"
    /// The norm before the feed-forward block.
    case feedForwardNorm = "ffn_norm"
    /// The SwiGLU gate projection.
    case gate = "ffn.gate"
    /// The feed-forward up projection.
    case up = "ffn.up"
    /// The feed-forward down projection.
    case down = "ffn.down"
    /// The final norm.
    case outputNorm = "output_norm"
    /// The LM head `[vocab, hidden]`.
    case output = "output"

    /// Whether every layer has one (named `layers.{i}.…`).
    package var isPerLayer: Bool {
        switch self {
        case .tokenEmbedding, .positionEmbedding, .outputNorm, .output: false
        case .attentionNorm, .query, .key, .value, .attentionOutput, .feedForwardNorm, .gate, .up, .down: true
        }
    }
}

/// The weight or the bias of a slot.
package enum TensorPart: String, Sendable {
    /// The weight (a matrix, a norm's scale, or a table).
    case weight
    /// The additive bias.
    case bias
}

/// One tensor of a concrete model: its canonical name and shape under a configuration.
package struct CanonicalTensor: Sendable, Equatable {
    /// How a tensor is stored.
    package enum Kind: Sendable, Equatable {
        /// A weight matrix `[N outputs, K inputs]` in the panel layout (any storage type).
        case matrix
        /// A vector (norm weight, bias) or a row-major table: always f32.
        case vector
    }

    /// The tensor's role.
    package let slot: TensorSlot
    /// Weight or bias.
    package let part: TensorPart
    /// The layer index for per-layer slots, `nil` otherwise.
    package let layer: Int?
    /// The canonical shape (`[rows, columns]` for matrices and tables, `[count]` for vectors).
    package let shape: [Int]
    /// Matrix or vector.
    package let kind: Kind
    /// Whether the configuration has this tensor. An absent one must not be stored (the runtime refuses
    /// a file that has it); an absent tied one (``tiedTo``) may be stored in a source and is skipped.
    package let isPresent: Bool
    /// For an absent tensor that another one replaces (the tied LM head reuses the token embedding).
    package let tiedTo: TensorSlot?

    /// The canonical name (see ``ModelWeights``).
    package var name: String { Self.name(slot, part, layer: layer) }

    /// Element count of the shape.
    package var elementCount: Int { shape.reduce(1, *) }

    /// The canonical name of `part` of `slot` (in `layer` for per-layer slots).
    package static func name(_ slot: TensorSlot, _ part: TensorPart, layer: Int?) -> String {
        if let layer { return "layers.\(layer).\(slot.rawValue).\(part.rawValue)" }
        return "\(slot.rawValue).\(part.rawValue)"
    }
}

/// One row of an architecture's tensor table: a slot's weight or bias, its shape as a function of the
/// configuration, its kind and when it exists.
package struct TensorSpecification: Sendable {
    /// When a tensor exists.
    package enum Presence: Sendable {
        /// In every model of the architecture.
        case always
        /// Never: a file that holds it is refused (LLaMA's position table, its biases).
        case never
        /// When the configuration says so (LLaMA's `attention_bias`).
        case when(@Sendable (ModelConfiguration) -> Bool)
        /// Unless `tied_embeddings`, in which case the tensor of the named slot (its weight) replaces it.
        case untied(reusing: TensorSlot)
    }

    /// The tensor's role.
    package let slot: TensorSlot
    /// Weight or bias.
    package let part: TensorPart
    /// Matrix or vector.
    package let kind: CanonicalTensor.Kind
    /// The shape under a configuration.
    package let shape: @Sendable (ModelConfiguration) -> [Int]
    /// When it exists.
    package let presence: Presence

    /// A panel-layout matrix (always a weight).
    package static func matrix(_ slot: TensorSlot, _ presence: Presence = .always,
                               shape: @escaping @Sendable (ModelConfiguration) -> [Int]) -> Self {
        Self(slot: slot, part: .weight, kind: .matrix, shape: shape, presence: presence)
    }

    /// An f32 vector or row-major table.
    package static func vector(_ slot: TensorSlot, _ part: TensorPart = .weight, _ presence: Presence = .always,
                               shape: @escaping @Sendable (ModelConfiguration) -> [Int]) -> Self {
        Self(slot: slot, part: part, kind: .vector, shape: shape, presence: presence)
    }

    /// This row for a concrete configuration (and layer).
    func tensor(for configuration: ModelConfiguration, layer: Int?) -> CanonicalTensor {
        let isPresent: Bool, tiedTo: TensorSlot?
        switch presence {
        case .always: (isPresent, tiedTo) = (true, nil)
        case .never: (isPresent, tiedTo) = (false, nil)
        case .when(let condition): (isPresent, tiedTo) = (condition(configuration), nil)
        case .untied(let slot):
            (isPresent, tiedTo) = configuration.tiedEmbeddings ? (false, slot) : (true, nil)
        }
        return CanonicalTensor(slot: slot, part: part, layer: layer, shape: shape(configuration), kind: kind,
                               isPresent: isPresent, tiedTo: tiedTo)
    }
}

/// An architecture's canonical tensors: the rows before the layers, one layer's rows (repeated for every
/// layer), and the rows after the layers, each list in file order.
package struct TensorTable: Sendable {
    /// Rows before the first layer (embeddings).
    package let leading: [TensorSpecification]
    /// One layer's rows.
    package let layer: [TensorSpecification]
    /// Rows after the last layer (final norm, head).
    package let trailing: [TensorSpecification]

    /// Creates a table.
    package init(leading: [TensorSpecification], layer: [TensorSpecification], trailing: [TensorSpecification]) {
        self.leading = leading
        self.layer = layer
        self.trailing = trailing
    }

    /// Every tensor under `configuration`, in file order.
    package func tensors(for configuration: ModelConfiguration) -> [CanonicalTensor] {
        var result = leading.map { $0.tensor(for: configuration, layer: nil) }
        result.reserveCapacity(leading.count + configuration.layerCount * layer.count + trailing.count)
        for index in 0..<configuration.layerCount {
            result += layer.map { $0.tensor(for: configuration, layer: index) }
        }
        result += trailing.map { $0.tensor(for: configuration, layer: nil) }
        return result
    }
}

extension ModelConfiguration {
    /// Width of all query heads together (`num_heads · head_dim`).
    package var queryWidth: Int { headCount * headDimension }
    /// Width of all key (or value) heads together (`num_kv_heads · head_dim`).
    package var keyValueWidth: Int { keyValueHeadCount * headDimension }
    /// The longest sequence a model with learned positions accepts (its position table's rows), `nil`
    /// for rotary models (whose limit is ``TransformerModel/maximumSequenceLength``).
    package var learnedPositionLimit: Int? {
        architecture.descriptor.traits.positions == .learned ? maximumPositions : nil
    }
}

import DiffuModels

/// Collects the canonical tensors of a model from a source name → tensor map, recording every missing,
/// misshapen and leftover tensor so that one error lists them all.
struct PlanBuilder {
    private(set) var planned: [PlannedTensor] = []
    private var remaining: [String: SourceTensor]
    private var missing: [String] = []
    private var mismatched: [ConvertError] = []
    private let displayName: (String) -> String

    /// `sources`: the source tensors under normalized names; `displayName` turns a normalized name back
    /// into the checkpoint's spelling for error messages about missing tensors.
    init(sources: [String: SourceTensor], displayName: @escaping (String) -> String = { $0 }) {
        self.remaining = sources
        self.displayName = displayName
    }

    /// Marks a source tensor as used without planning anything from it (buffers, a duplicate tied head).
    mutating func consume(_ sourceName: String) {
        remaining[sourceName] = nil
    }

    /// Whether a source tensor with this name is still unused.
    func has(_ sourceName: String) -> Bool { remaining[sourceName] != nil }

    /// The source tensor with this name, if present (without consuming it).
    func peek(_ sourceName: String) -> SourceTensor? { remaining[sourceName] }

    /// Plans canonical `name` from source `sourceName`. Several canonical tensors may share one source
    /// (GPT-2's fused `c_attn`); pass `keep: true` for all but the last of them.
    mutating func add(_ name: String, shape: [Int], kind: PlannedTensor.Kind, from sourceName: String,
                      transform: TensorTransform = .identity, sourceShape: [Int]? = nil, keep: Bool = false) {
        guard let source = remaining[sourceName] else {
            missing.append(sourceName)
            return
        }
        if !keep { remaining[sourceName] = nil }
        let plannedTensor = PlannedTensor(name: name, shape: shape, kind: kind, source: source, transform: transform)
        if let expected = sourceShape ?? plannedTensor.expectedSourceShape(), expected != source.shape {
            mismatched.append(.shapeMismatch(tensor: source.name, expected: expected, actual: source.shape))
            return
        }
        planned.append(plannedTensor)
    }

    /// How many missing tensors an error names: a file that declares far more layers than it holds (a
    /// corrupt or hostile header) would otherwise cost a planning pass and a sorted list per declared layer.
    static let missingTensorLimit = 32

    /// Whether enough tensors are missing that planning further cannot change the error.
    var hasEnoughMissing: Bool { missing.count >= Self.missingTensorLimit }

    /// Returns the plan, or throws the first class of problems found: missing tensors (the first
    /// ``missingTensorLimit`` in plan order, sorted), then leftover (unknown) tensors, then shape mismatches.
    func finish() throws -> [PlannedTensor] {
        if !missing.isEmpty {
            throw ConvertError.missingTensors(Array(Set(missing.prefix(Self.missingTensorLimit).map(displayName))).sorted())
        }
        if !remaining.isEmpty { throw ConvertError.unknownTensors(remaining.values.map(\.name).sorted()) }
        if let first = mismatched.first { throw first }
        return planned
    }
}

/// Where one canonical tensor's values come from: an importer's source-name map returns one for every
/// canonical tensor of its architecture's table.
struct SourceBinding {
    /// The source tensor's (normalized) name.
    var name: String
    /// How the canonical tensor is derived from it.
    var transform: TensorTransform = .identity
    /// The source shape the transform needs, when it is not implied by the canonical shape (a fused tensor).
    var sourceShape: [Int]? = nil
    /// Whether later canonical tensors read the same source (all but the last of a fused tensor's parts).
    var keep = false
}

extension PlanBuilder {
    /// Plans every canonical tensor of the configuration's architecture (its descriptor's table, in file
    /// order) from the source tensors `source` names: a present tensor is added, an absent tied one
    /// (the tied head) consumes its stored copy when there is one, and other absent tensors are left
    /// for the leftover check.
    mutating func plan(_ configuration: ModelConfiguration, source: (CanonicalTensor) -> SourceBinding) {
        configuration.architecture.descriptor.forEachTensor(for: configuration) { tensor in
            if tensor.isPresent {
                let binding = source(tensor)
                add(tensor.name, shape: tensor.shape, kind: tensor.kind == .matrix ? .matrix : .vector, from: binding.name,
                    transform: binding.transform, sourceShape: binding.sourceShape, keep: binding.keep)
            } else if tensor.tiedTo != nil {
                // A tied head may still be stored (a copy of the embedding): it is not converted.
                consume(source(tensor).name)
            }
            return !hasEnoughMissing
        }
    }
}

/// The source-name map of a LLaMA-shaped checkpoint (LLaMA, Qwen2 and their GGUF and LLaDA spellings):
/// the source name of each canonical slot's weight (per layer where the slot is), and of a bias given its
/// weight's name.
struct RoPEModelNames {
    var embedding: String
    var outputNorm: String
    var output: String
    var attentionNorm: (Int) -> String
    var query: (Int) -> String
    var key: (Int) -> String
    var value: (Int) -> String
    var attentionOutput: (Int) -> String
    var ffnNorm: (Int) -> String
    var gate: (Int) -> String
    var up: (Int) -> String
    var down: (Int) -> String
    /// Name of a bias given the weight's name.
    var bias: (String) -> String

    /// Plans every canonical tensor of a LLaMA/Qwen2 model. `unpermute` undoes llama.cpp's Q/K row
    /// permutation (GGUF `llama` files).
    func plan(_ builder: inout PlanBuilder, configuration: ModelConfiguration, unpermute: Bool) {
        builder.plan(configuration) { tensor in
            let weight: String
            switch tensor.slot {
            case .tokenEmbedding: weight = embedding
            case .positionEmbedding: weight = tensor.name  // RoPE models have none
            case .outputNorm: weight = outputNorm
            case .output: weight = output
            case .attentionNorm: weight = attentionNorm(tensor.layer!)
            case .query: weight = query(tensor.layer!)
            case .key: weight = key(tensor.layer!)
            case .value: weight = value(tensor.layer!)
            case .attentionOutput: weight = attentionOutput(tensor.layer!)
            case .feedForwardNorm: weight = ffnNorm(tensor.layer!)
            case .gate: weight = gate(tensor.layer!)
            case .up: weight = up(tensor.layer!)
            case .down: weight = down(tensor.layer!)
            }
            if tensor.part == .bias { return SourceBinding(name: bias(weight)) }
            switch tensor.slot {
            case .query where unpermute: return SourceBinding(name: weight, transform: .unpermuteRoPE(headCount: configuration.headCount))
            case .key where unpermute: return SourceBinding(name: weight, transform: .unpermuteRoPE(headCount: configuration.keyValueHeadCount))
            default: return SourceBinding(name: weight)
            }
        }
    }
}

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

    /// Returns the plan, or throws the first class of problems found: missing tensors, then leftover
    /// (unknown) tensors, then shape mismatches.
    func finish() throws -> [PlannedTensor] {
        if !missing.isEmpty { throw ConvertError.missingTensors(Array(Set(missing.map(displayName))).sorted()) }
        if !remaining.isEmpty { throw ConvertError.unknownTensors(remaining.values.map(\.name).sorted()) }
        if let first = mismatched.first { throw first }
        return planned
    }
}

/// The canonical tensors shared by LLaMA and Qwen2 (and GGUF imports of them), given the source name
/// of each canonical role.
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
    /// Name of a q/k/v bias given the weight's name.
    var bias: (String) -> String

    /// Plans every canonical tensor of a LLaMA/Qwen2 model. `unpermute` undoes llama.cpp's Q/K row
    /// permutation (GGUF `llama` files).
    func plan(_ builder: inout PlanBuilder, configuration: ModelConfiguration, unpermute: Bool) {
        let hidden = configuration.hiddenSize, vocabulary = configuration.vocabularySize
        let queryWidth = configuration.headCount * configuration.headDimension
        let keyValueWidth = configuration.keyValueHeadCount * configuration.headDimension
        let ffn = configuration.intermediateSize
        builder.add("token_embedding.weight", shape: [vocabulary, hidden], kind: .matrix, from: embedding)
        for layer in 0..<configuration.layerCount {
            let prefix = "layers.\(layer)."
            builder.add(prefix + "attention_norm.weight", shape: [hidden], kind: .vector, from: attentionNorm(layer))
            builder.add(prefix + "attention.query.weight", shape: [queryWidth, hidden], kind: .matrix, from: query(layer),
                        transform: unpermute ? .unpermuteRoPE(headCount: configuration.headCount) : .identity)
            builder.add(prefix + "attention.key.weight", shape: [keyValueWidth, hidden], kind: .matrix, from: key(layer),
                        transform: unpermute ? .unpermuteRoPE(headCount: configuration.keyValueHeadCount) : .identity)
            builder.add(prefix + "attention.value.weight", shape: [keyValueWidth, hidden], kind: .matrix, from: value(layer))
            if configuration.attentionBias {
                builder.add(prefix + "attention.query.bias", shape: [queryWidth], kind: .vector, from: bias(query(layer)))
                builder.add(prefix + "attention.key.bias", shape: [keyValueWidth], kind: .vector, from: bias(key(layer)))
                builder.add(prefix + "attention.value.bias", shape: [keyValueWidth], kind: .vector, from: bias(value(layer)))
            }
            builder.add(prefix + "attention.output.weight", shape: [hidden, queryWidth], kind: .matrix, from: attentionOutput(layer))
            builder.add(prefix + "ffn_norm.weight", shape: [hidden], kind: .vector, from: ffnNorm(layer))
            builder.add(prefix + "ffn.gate.weight", shape: [ffn, hidden], kind: .matrix, from: gate(layer))
            builder.add(prefix + "ffn.up.weight", shape: [ffn, hidden], kind: .matrix, from: up(layer))
            builder.add(prefix + "ffn.down.weight", shape: [hidden, ffn], kind: .matrix, from: down(layer))
        }
        builder.add("output_norm.weight", shape: [hidden], kind: .vector, from: outputNorm)
        if configuration.tiedEmbeddings {
            // A tied head may still be stored (a copy of the embedding): it is not converted.
            builder.consume(output)
        } else {
            builder.add("output.weight", shape: [vocabulary, hidden], kind: .matrix, from: output)
        }
    }
}

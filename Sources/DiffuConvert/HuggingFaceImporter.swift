import DiffuJSON
import DiffuModels
import DiffuTokenizers
import Foundation

/// Typed access to the fields of a `config.json`.
struct ConfigurationReader {
    let object: [String: JSONValue]
    let source: String

    func fail(_ reason: String) -> ConvertError { .invalidConfiguration(source: source, reason: reason) }

    /// The first of `keys` that is present and not null.
    func value(_ keys: [String]) -> (key: String, value: JSONValue)? {
        for key in keys { if let value = object[key], !value.isNull { return (key, value) } }
        return nil
    }

    /// A positive integer field (the first of `keys` present), or `defaultValue` when absent.
    func positiveInteger(_ keys: String..., default defaultValue: Int? = nil) throws -> Int {
        guard let (key, value) = value(keys) else {
            if let defaultValue { return defaultValue }
            throw fail("missing '\(keys[0])'")
        }
        guard let integer = value.intValue, integer > 0 else { throw fail("'\(key)' is not a positive integer") }
        guard integer <= ImportLimits.maximumDimension else {
            throw fail("'\(key)' is implausibly large (\(integer) > \(ImportLimits.maximumDimension))")
        }
        return integer
    }

    /// A positive finite number field, or `defaultValue` when absent.
    func positiveNumber(_ keys: String..., default defaultValue: Double? = nil) throws -> Float {
        guard let (key, value) = value(keys) else {
            if let defaultValue { return Float(defaultValue) }
            throw fail("missing '\(keys[0])'")
        }
        guard let number = value.doubleValue, number.isFinite, number > 0 else { throw fail("'\(key)' is not a positive number") }
        return Float(number)
    }

    /// A bool field, or `defaultValue` when absent.
    func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let (_, value) = value([key]) else { return defaultValue }
        guard let flag = value.boolValue else { throw fail("'\(key)' is not true/false") }
        return flag
    }

    /// A string field, if present.
    func string(_ key: String) -> String? { object[key]?.stringValue }

    /// A token id field (a non-negative integer, or the first of a list as `eos_token_id` may be); `nil`
    /// when absent, null or negative (`-1` is how configs say "none"). Throws, naming the field and the
    /// value as written, for an id beyond 32 bits (no vocabulary is that large).
    func tokenId(_ key: String) throws -> Int32? {
        guard let value = object[key] else { return nil }
        guard let id = value.intValue ?? value.arrayValue?.first?.intValue, id >= 0 else { return nil }
        return try ImportLimits.tokenId(id, key: key, source: source)
    }
}

/// Upper bounds on the hyperparameters a source may declare, checked before any size arithmetic or
/// per-layer planning (a hostile `config.json` or GGUF header could otherwise overflow `4 · hidden` or
/// loop over 10^15 layers). They match the runtime's own limits (DiffuModels' configuration checks).
enum ImportLimits {
    /// Largest accepted width, vocabulary, context or FFN size.
    static let maximumDimension = 1 << 24
    /// Largest accepted layer count, head count and head dimension.
    static let maximumCount = 4096

    /// A non-negative special token id as the runtime's `Int32`; throws ``ConvertError/invalidConfiguration(source:reason:)``
    /// naming `key` and the value as written for one beyond 32 bits (no vocabulary is that large).
    static func tokenId(_ id: Int, key: String, source: String) throws -> Int32 {
        guard let narrow = Int32(exactly: id) else {
            throw ConvertError.invalidConfiguration(source: source, reason: "'\(key)' \(id) is not a token id (beyond 32 bits)")
        }
        return narrow
    }

    /// Throws ``ConvertError/invalidConfiguration(source:reason:)`` for counts beyond the limits.
    static func check(_ configuration: ModelConfiguration, source: String) throws {
        for (value, name) in [(configuration.layerCount, "layer count"), (configuration.headCount, "head count"),
                              (configuration.keyValueHeadCount, "key/value head count"), (configuration.headDimension, "head dimension")]
        where value > maximumCount {
            throw ConvertError.invalidConfiguration(source: source, reason: "\(name) \(value) is implausibly large (> \(maximumCount))")
        }
    }
}

/// A Hugging Face model directory: `config.json`, `model.safetensors` (or shards with
/// `model.safetensors.index.json`) and tokenizer files.
public struct HuggingFaceCheckpoint: Sendable {
    /// The directory.
    public let directory: String
    /// The parsed `config.json` object.
    public let configuration: [String: JSONValue]
    /// Every tensor of every weights file, by name.
    public let tensors: [String: SourceTensor]
    /// The weights files (config and tokenizer files are listed separately by the importer).
    public let weightFiles: [SourceFile]

    /// Files embedded as the tokenizer, in this order of preference, when present.
    public static let tokenizerFileNames = [
        "tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model", "tokenizer_config.json",
        "special_tokens_map.json", "added_tokens.json",
    ]

    /// Opens a directory: parses `config.json` and every safetensors header (no tensor data is read).
    /// - Throws: ``ConvertError`` for a missing/invalid config, a bad shard index, missing shards, bad
    ///   safetensors headers and duplicate tensors.
    public static func open(directory: String) throws -> HuggingFaceCheckpoint {
        let configPath = directory + "/config.json"
        guard FileManager.default.fileExists(atPath: configPath) else { throw ConvertError.unrecognizedSource(path: directory) }
        let configFile = try SourceFile(path: configPath)
        guard configFile.size <= 16 << 20 else { throw ConvertError.invalidConfiguration(source: "config.json", reason: "larger than 16 MB") }
        guard let configObject = JSONValue.parsed(try configFile.read(count: configFile.size, at: 0))?.objectValue else {
            throw ConvertError.invalidConfiguration(source: "config.json", reason: "not a JSON object")
        }

        let indexPath = directory + "/model.safetensors.index.json"
        var tensors: [String: SourceTensor] = [:]
        var files: [SourceFile] = []
        if FileManager.default.fileExists(atPath: indexPath) {
            let indexFile = try SourceFile(path: indexPath)
            let indexName = "model.safetensors.index.json"
            guard indexFile.size <= 64 << 20, let index = JSONValue.parsed(try indexFile.read(count: indexFile.size, at: 0)),
                  let weightMap = index["weight_map"]?.objectValue else {
                throw ConvertError.invalidShardIndex(file: indexName, reason: "no weight_map object")
            }
            var shardOf: [String: String] = [:]
            for (tensor, shard) in weightMap {
                guard let shardName = shard.stringValue, !shardName.isEmpty, !shardName.contains("/"), shardName != "..", shardName != "." else {
                    throw ConvertError.invalidShardIndex(file: indexName, reason: "tensor '\(tensor)' maps to an invalid file name")
                }
                shardOf[tensor] = shardName
            }
            for shardName in Set(shardOf.values).sorted() {
                let shardPath = directory + "/" + shardName
                guard FileManager.default.fileExists(atPath: shardPath) else { throw ConvertError.missingShard(file: shardName) }
                let shard = try SafetensorsFile.open(path: shardPath)
                files.append(shard.file)
                for tensor in shard.tensors {
                    guard shardOf[tensor.name] == shardName else {
                        throw ConvertError.invalidShardIndex(file: indexName, reason: "tensor '\(tensor.name)' is in \(shardName) but the index maps it to \(shardOf[tensor.name] ?? "nothing")")
                    }
                    guard tensors[tensor.name] == nil else { throw ConvertError.duplicateTensor(name: tensor.name) }
                    tensors[tensor.name] = tensor
                }
            }
            if let absent = shardOf.keys.sorted().first(where: { tensors[$0] == nil }) {
                throw ConvertError.invalidShardIndex(file: indexName, reason: "tensor '\(absent)' is not in \(shardOf[absent]!)")
            }
        } else {
            var path = directory + "/model.safetensors"
            if !FileManager.default.fileExists(atPath: path) {
                let candidates = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                    .filter { $0.hasSuffix(".safetensors") }.sorted()
                guard candidates.count == 1 else {
                    throw ConvertError.invalidShardIndex(
                        file: "model.safetensors.index.json",
                        reason: candidates.isEmpty ? "no model.safetensors and no shard index in \(directory)"
                                                   : "several .safetensors files but no index")
                }
                path = directory + "/" + candidates[0]
            }
            let file = try SafetensorsFile.open(path: path)
            files.append(file.file)
            for tensor in file.tensors { tensors[tensor.name] = tensor }
        }
        return HuggingFaceCheckpoint(directory: directory, configuration: configObject, tensors: tensors, weightFiles: files)
    }

    /// The tokenizer files present in the directory, in ``tokenizerFileNames`` order.
    public func tokenizerFiles() -> [String] {
        Self.tokenizerFileNames.filter { FileManager.default.fileExists(atPath: directory + "/" + $0) }
    }
}

/// What an importer produces: the model's configuration, its canonical tensors and the source facts the
/// diffusion metadata is derived from.
public struct ImportedModel: Sendable {
    /// The forward pass's hyperparameters.
    public var configuration: ModelConfiguration
    /// Every canonical tensor, in the order they are written.
    public var tensors: [PlannedTensor]
    /// The recognised diffusion model, if any.
    public var knownModel: KnownDiffusionModel?
    /// A short description of the source model (for messages and for unknown models' metadata).
    public var modelDescription: String
    /// Special token ids declared by the source.
    public var specialTokens: SpecialTokenIds
    /// The shift rule the source declares (GGUF `diffusion.shift_logits`, config.json `shift_logits`), if it declares one; it wins
    /// over the known model's rule.
    public var declaredShift: Bool?

    /// Creates an imported model.
    public init(configuration: ModelConfiguration, tensors: [PlannedTensor], knownModel: KnownDiffusionModel?,
                modelDescription: String, specialTokens: SpecialTokenIds, declaredShift: Bool? = nil) {
        self.configuration = configuration
        self.tensors = tensors
        self.knownModel = knownModel
        self.modelDescription = modelDescription
        self.specialTokens = specialTokens
        self.declaredShift = declaredShift
    }
}

/// Maps Hugging Face checkpoints (GPT-2/DiffuGPT, LLaMA/DiffuLLaMA, Qwen2/Dream, LLaDA) to canonical tensors.
public enum HuggingFaceImporter {
    /// Reads the configuration and plans every canonical tensor of a checkpoint ("sanitize").
    ///
    /// - Throws: ``ConvertError/unsupportedArchitecture(_:)``, ``ConvertError/invalidConfiguration(source:reason:)``,
    ///   ``ConvertError/missingTensors(_:)``, ``ConvertError/unknownTensors(_:)``, ``ConvertError/shapeMismatch(tensor:expected:actual:)``.
    public static func sanitize(configuration object: [String: JSONValue], tensors: [String: SourceTensor]) throws -> ImportedModel {
        let reader = ConfigurationReader(object: object, source: "config.json")
        let modelType = reader.string("model_type")?.lowercased() ?? ""
        let architectures = object["architectures"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let special = SpecialTokenIds(bos: try reader.tokenId("bos_token_id"), eos: try reader.tokenId("eos_token_id"),
                                      pad: try reader.tokenId("pad_token_id"), mask: try reader.tokenId("mask_token_id"))
        let nameHint = (reader.string("_name_or_path") ?? "").lowercased()
        var imported = try sanitizeFamily(reader, modelType: modelType, architectures: architectures, tensors: tensors,
                                          special: special, nameHint: nameHint)
        if reader.object["shift_logits"] != nil {
            imported.declaredShift = try reader.bool("shift_logits", default: true)
        }
        return imported
    }

    /// Dispatches on `model_type` / `architectures` to the family's planner.
    static func sanitizeFamily(_ reader: ConfigurationReader, modelType: String, architectures: [String],
                               tensors: [String: SourceTensor], special: SpecialTokenIds, nameHint: String) throws -> ImportedModel {
        switch modelType {
        case "gpt2":
            return try sanitizeGPT2(reader, tensors: tensors, special: special, nameHint: nameHint)
        case "llama":
            return try sanitizeRoPEModel(reader, architecture: .llama, tensors: tensors, special: special, nameHint: nameHint, isDream: false)
        case "qwen2", "dream":
            let isDream = modelType == "dream" || architectures.contains("DreamModel")
            return try sanitizeRoPEModel(reader, architecture: .qwen2, tensors: tensors, special: special, nameHint: nameHint, isDream: isDream)
        case "llada":
            return try sanitizeLLaDA(reader, tensors: tensors, special: special)
        default:
            if architectures.contains("DreamModel") {
                return try sanitizeRoPEModel(reader, architecture: .qwen2, tensors: tensors, special: special, nameHint: nameHint, isDream: true)
            }
            if architectures.contains("LLaDAModelLM") {
                return try sanitizeLLaDA(reader, tensors: tensors, special: special)
            }
            throw ConvertError.unsupportedArchitecture(modelType.isEmpty ? (architectures.first ?? "unknown") : modelType)
        }
    }

    // MARK: GPT-2 / DiffuGPT

    /// Source key normalization for GPT-2: DiffuGPT's wrapper (`embed_tokens.` = `wte`,
    /// `denoise_model.` = the GPT-2 transformer without `wte`, `lm_head.`) and plain GPT-2 keys with or
    /// without the `transformer.` prefix all map to bare GPT-2 names (`wte.weight`, `h.0.attn.c_attn.weight`).
    /// The causal-mask buffers `attn.bias` / `attn.masked_bias` are dropped.
    static func normalizeGPT2(_ tensors: [String: SourceTensor]) throws -> (names: [String: SourceTensor], wrapper: Bool) {
        var result: [String: SourceTensor] = [:]
        var wrapper = false
        for (name, tensor) in tensors {
            var key = name
            if key.hasPrefix("denoise_model.") { key.removeFirst("denoise_model.".count); wrapper = true }
            else if key.hasPrefix("transformer.") { key.removeFirst("transformer.".count) }
            if key == "embed_tokens.weight" { key = "wte.weight"; wrapper = true }
            if key.hasSuffix(".attn.bias") || key.hasSuffix(".attn.masked_bias") { continue }
            guard result[key] == nil else { throw ConvertError.duplicateTensor(name: name) }
            result[key] = tensor
        }
        return (result, wrapper)
    }

    static func sanitizeGPT2(_ reader: ConfigurationReader, tensors: [String: SourceTensor], special: SpecialTokenIds,
                             nameHint: String) throws -> ImportedModel {
        let (names, wrapper) = try normalizeGPT2(tensors)
        let hidden = try reader.positiveInteger("n_embd", "hidden_size")
        let layers = try reader.positiveInteger("n_layer", "num_hidden_layers")
        let heads = try reader.positiveInteger("n_head", "num_attention_heads")
        let positions = try reader.positiveInteger("n_positions", "n_ctx", "max_position_embeddings")
        let epsilon = try reader.positiveNumber("layer_norm_epsilon", default: 1e-5)
        let ffn = try reader.positiveInteger("n_inner", default: 4 * hidden)
        let tied = try reader.bool("tie_word_embeddings", default: true)
        guard hidden % heads == 0 else { throw reader.fail("n_embd \(hidden) is not a multiple of n_head \(heads)") }
        if let activation = reader.string("activation_function"), activation != "gelu_new" {
            throw reader.fail("activation_function '\(activation)' (Diffu's GPT-2 runs gelu_new)")
        }
        // GPT-2 has no RoPE: rope_theta is recorded as the conventional 10000 and never read.
        // The vocabulary is what the weights hold (DiffuGPT-M has 50258 rows while its config says 50257).
        let embeddingName = names["wte.weight"] != nil || names["lm_head.weight"] == nil ? "wte.weight" : "lm_head.weight"
        guard let embedding = names[embeddingName] else { throw ConvertError.missingTensors(["wte.weight"]) }
        guard embedding.shape.count == 2, embedding.shape[1] == hidden else {
            throw ConvertError.shapeMismatch(tensor: embedding.name, expected: [embedding.shape.first ?? 0, hidden], actual: embedding.shape)
        }
        let vocabulary = embedding.shape[0]
        let configuration = ModelConfiguration(
            architecture: .gpt2, vocabularySize: vocabulary, hiddenSize: hidden, layerCount: layers, headCount: heads,
            keyValueHeadCount: heads, headDimension: hidden / heads, intermediateSize: ffn, maximumPositions: positions,
            normEpsilon: epsilon, ropeTheta: 10000, tiedEmbeddings: tied || embeddingName == "lm_head.weight" || names["lm_head.weight"] == nil,
            attentionBias: true)
        try ImportLimits.check(configuration, source: "config.json")

        let bodyPrefix = wrapper ? "denoise_model." : tensors.keys.contains { $0.hasPrefix("transformer.") } ? "transformer." : ""
        var builder = PlanBuilder(sources: names) { name in
            if name == "lm_head.weight" { return name }
            if name == "wte.weight" && wrapper { return "embed_tokens.weight" }
            return bodyPrefix + name
        }
        builder.plan(configuration) { tensor in
            Self.gpt2Source(of: tensor, embedding: embeddingName, hidden: hidden)
        }
        let plan = try builder.finish()

        var known: KnownDiffusionModel? = nil
        if nameHint.contains("diffugpt-m") || (vocabulary == 50258 && hidden == 1024 && layers == 24) {
            known = .diffuGPTMedium
        } else if nameHint.contains("diffugpt-s") || (wrapper && vocabulary == 50257 && hidden == 768 && layers == 12) {
            known = .diffuGPTSmall
        }
        let description = wrapper ? "DiffuGPT-layout GPT-2 (\(layers) layers, hidden \(hidden), vocab \(vocabulary))"
                                  : "GPT-2 (\(layers) layers, hidden \(hidden), vocab \(vocabulary))"
        return ImportedModel(configuration: configuration, tensors: plan, knownModel: known, modelDescription: description, specialTokens: special)
    }

    /// GPT-2's source-name map (bare GPT-2 names, see ``normalizeGPT2(_:)``): `Conv1D` weights are
    /// `[in, out]` (transposed here), and the fused `c_attn` weight `[hidden, 3·hidden]` and bias
    /// `[3·hidden]` hold query, key and value in that order.
    static func gpt2Source(of tensor: CanonicalTensor, embedding: String, hidden: Int) -> SourceBinding {
        let source = tensor.layer.map { "h.\($0)." } ?? ""
        let part = tensor.part.rawValue
        switch tensor.slot {
        case .tokenEmbedding: return SourceBinding(name: embedding)
        case .positionEmbedding: return SourceBinding(name: "wpe.weight")
        case .outputNorm: return SourceBinding(name: "ln_f." + part)
        case .output: return SourceBinding(name: "lm_head.weight")
        case .attentionNorm: return SourceBinding(name: source + "ln_1." + part)
        case .feedForwardNorm: return SourceBinding(name: source + "ln_2." + part)
        case .query, .key, .value:
            let index = tensor.slot == .query ? 0 : tensor.slot == .key ? 1 : 2
            let rows = (index * hidden)..<((index + 1) * hidden)
            return tensor.part == .weight
                ? SourceBinding(name: source + "attn.c_attn.weight", transform: .transposeRows(rows), sourceShape: [hidden, 3 * hidden], keep: index < 2)
                : SourceBinding(name: source + "attn.c_attn.bias", transform: .slice(rows), sourceShape: [3 * hidden], keep: index < 2)
        case .attentionOutput: return conv1D(source + "attn.c_proj", tensor.part)
        case .up: return conv1D(source + "mlp.c_fc", tensor.part)
        case .down: return conv1D(source + "mlp.c_proj", tensor.part)
        case .gate: return SourceBinding(name: source + "mlp.gate." + part)  // GPT-2's table has no gate
        }
    }

    /// A `Conv1D` layer's weight (transposed) or bias.
    private static func conv1D(_ prefix: String, _ part: TensorPart) -> SourceBinding {
        part == .weight ? SourceBinding(name: prefix + ".weight", transform: .transpose) : SourceBinding(name: prefix + ".bias")
    }

    // MARK: LLaMA / Qwen2 / Dream

    static func sanitizeRoPEModel(_ reader: ConfigurationReader, architecture: Architecture, tensors: [String: SourceTensor],
                                  special: SpecialTokenIds, nameHint: String, isDream: Bool) throws -> ImportedModel {
        let hidden = try reader.positiveInteger("hidden_size")
        let layers = try reader.positiveInteger("num_hidden_layers")
        let heads = try reader.positiveInteger("num_attention_heads")
        let keyValueHeads = try reader.positiveInteger("num_key_value_heads", default: heads)
        let ffn = try reader.positiveInteger("intermediate_size")
        let epsilon = try reader.positiveNumber("rms_norm_eps", default: 1e-6)
        // transformers ≥ 5 writes `rope_parameters: {rope_theta, rope_type}`; older configs `rope_theta`
        // (and `rope_scaling` for non-default RoPE).
        let ropeParameters = reader.object["rope_parameters"]?.objectValue
        let theta: Float
        if let nested = ropeParameters?["rope_theta"] {
            guard let value = nested.doubleValue, value.isFinite, value > 0 else { throw reader.fail("'rope_parameters.rope_theta' is not a positive number") }
            theta = Float(value)
        } else {
            theta = try reader.positiveNumber("rope_theta", default: 10000)
        }
        if let type = ropeParameters?["rope_type"]?.stringValue, type != "default" {
            throw reader.fail("rope_type '\(type)' is not supported (only default RoPE)")
        }
        if try reader.bool("use_sliding_window", default: false) { throw reader.fail("sliding-window attention is not supported") }
        let positions = try reader.positiveInteger("max_position_embeddings", default: 2048)
        let tiedSetting = try reader.bool("tie_word_embeddings", default: false)
        guard hidden % heads == 0 || reader.value(["head_dim"]) != nil else {
            throw reader.fail("hidden_size \(hidden) is not a multiple of num_attention_heads \(heads)")
        }
        let headDimension = try reader.positiveInteger("head_dim", default: hidden / heads)
        guard heads % keyValueHeads == 0 else { throw reader.fail("num_attention_heads \(heads) is not a multiple of num_key_value_heads \(keyValueHeads)") }
        guard headDimension % 2 == 0 else { throw reader.fail("head dimension \(headDimension) is odd (RoPE needs pairs)") }
        if let activation = reader.string("hidden_act"), activation != "silu" {
            throw reader.fail("hidden_act '\(activation)' (Diffu runs SwiGLU with silu)")
        }
        if let scaling = reader.object["rope_scaling"], !scaling.isNull,
           (scaling["rope_type"] ?? scaling["type"])?.stringValue != "default" {
            throw reader.fail("rope_scaling is not supported")
        }
        if architecture == .llama {
            if try reader.bool("attention_bias", default: false) { throw reader.fail("attention_bias is not supported for LLaMA") }
            if try reader.bool("mlp_bias", default: false) { throw reader.fail("mlp_bias is not supported") }
        }

        var names: [String: SourceTensor] = [:]
        for (name, tensor) in tensors {
            var key = name
            if key.hasPrefix("model.") { key.removeFirst("model.".count) }
            if key.hasSuffix(".rotary_emb.inv_freq") { continue }  // a buffer, recomputed from rope_theta
            guard names[key] == nil else { throw ConvertError.duplicateTensor(name: name) }
            names[key] = tensor
        }
        // A tied head may be stored only under lm_head (the embedding then reads it).
        let tied = tiedSetting || names["lm_head.weight"] == nil
        let embeddingName = names["embed_tokens.weight"] == nil && tied && names["lm_head.weight"] != nil ? "lm_head.weight" : "embed_tokens.weight"
        guard let embedding = names[embeddingName] else { throw ConvertError.missingTensors(["model.embed_tokens.weight"]) }
        guard embedding.shape.count == 2, embedding.shape[1] == hidden else {
            throw ConvertError.shapeMismatch(tensor: embedding.name, expected: [embedding.shape.first ?? 0, hidden], actual: embedding.shape)
        }
        let vocabulary = embedding.shape[0]
        if let declared = reader.object["vocab_size"]?.intValue, declared != vocabulary {
            throw reader.fail("vocab_size \(declared) but the embedding has \(vocabulary) rows")
        }
        let configuration = ModelConfiguration(
            architecture: architecture, vocabularySize: vocabulary, hiddenSize: hidden, layerCount: layers, headCount: heads,
            keyValueHeadCount: keyValueHeads, headDimension: headDimension, intermediateSize: ffn, maximumPositions: positions,
            normEpsilon: epsilon, ropeTheta: theta, tiedEmbeddings: tied, attentionBias: architecture == .qwen2)
        try ImportLimits.check(configuration, source: "config.json")

        var mapping = RoPEModelNames(
            embedding: embeddingName, outputNorm: "norm.weight", output: "lm_head.weight",
            attentionNorm: { "layers.\($0).input_layernorm.weight" },
            query: { "layers.\($0).self_attn.q_proj.weight" }, key: { "layers.\($0).self_attn.k_proj.weight" },
            value: { "layers.\($0).self_attn.v_proj.weight" }, attentionOutput: { "layers.\($0).self_attn.o_proj.weight" },
            ffnNorm: { "layers.\($0).post_attention_layernorm.weight" },
            gate: { "layers.\($0).mlp.gate_proj.weight" }, up: { "layers.\($0).mlp.up_proj.weight" },
            down: { "layers.\($0).mlp.down_proj.weight" },
            bias: { String($0.dropLast("weight".count)) + "bias" })
        if embeddingName == "lm_head.weight" { mapping.output = "" }
        let modelPrefix = tensors.keys.contains { $0.hasPrefix("model.") } ? "model." : ""
        var builder = PlanBuilder(sources: names) { $0 == "lm_head.weight" ? $0 : modelPrefix + $0 }
        mapping.plan(&builder, configuration: configuration, unpermute: false)
        let plan = try builder.finish()

        var known: KnownDiffusionModel? = nil
        if isDream {
            known = .dream
        } else if architecture == .llama, nameHint.contains("diffusmol") {
            // Written by tools/adapt (SmolLM2 adapted with the DiffuLLaMA recipe).
            known = .diffuSmol
        } else if architecture == .llama, nameHint.contains("diffullama")
                    || (layers == 32 && hidden == 4096 && heads == 32 && keyValueHeads == 32 && ffn == 11008 && vocabulary == 32000 && !tied) {
            // DiffuLLaMA has LLaMA-2-7B's exact shape; a LLaMA-2-7B-shaped checkpoint is taken to be it.
            known = .diffuLLaMA
        }
        let family = isDream ? "Dream/Qwen2" : architecture == .llama ? "LLaMA" : "Qwen2"
        let description = "\(family) (\(layers) layers, hidden \(hidden), vocab \(vocabulary))"
        return ImportedModel(configuration: configuration, tensors: plan, knownModel: known, modelDescription: description, specialTokens: special)
    }
}

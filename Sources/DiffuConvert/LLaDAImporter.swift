import DiffuModels
import DiffuTokenizers

/// LLaDA (GSAI-ML/LLaDA-8B-Base / -Instruct, `LLaDAModelLM`, `model_type` `llada`): the mathematics of
/// LLaMA (RMSNorm, rotary positions in the half-split `rotate_half` layout, SwiGLU, bidirectional
/// attention) under the names of its OLMo-derived code, so it converts to the canonical `llama`
/// architecture by renaming alone:
///
/// | LLaDA (`model.transformer.` …) | canonical |
/// |---|---|
/// | `wte.weight` | `token_embedding.weight` |
/// | `blocks.N.attn_norm.weight` | `layers.N.attention_norm.weight` |
/// | `blocks.N.q_proj` / `k_proj` / `v_proj` / `attn_out` `.weight` | `layers.N.attention.query` / `key` / `value` / `output` `.weight` |
/// | `blocks.N.ff_norm.weight` | `layers.N.ffn_norm.weight` |
/// | `blocks.N.ff_proj` / `up_proj` / `ff_out` `.weight` | `layers.N.ffn.gate` / `up` / `down` `.weight` (`silu(ff_proj x) · up_proj x`) |
/// | `ln_f.weight` | `output_norm.weight` |
/// | `ff_out.weight` (absent with `weight_tying`) | `output.weight` |
///
/// Configuration fields (`configuration_llada.py`): `d_model`, `n_heads`, `n_kv_heads` (absent: `n_heads`,
/// or 1 with `multi_query_attention`), `n_layers`, `mlp_hidden_size` (absent: `mlp_ratio · d_model`),
/// `rms_norm_eps`, `rope_theta`, `max_sequence_length`, `vocab_size`, `embedding_size` (the embedding's
/// rows), `weight_tying`. The head width is `d_model / n_heads`. The options the official code has but
/// LLaDA-8B does not use — another block type or norm, biases, ALiBi, QK norms, embedding or logit
/// scaling, block groups — are refused by name rather than run wrongly.
extension HuggingFaceImporter {
    static func sanitizeLLaDA(_ reader: ConfigurationReader, tensors: [String: SourceTensor],
                              special: SpecialTokenIds) throws -> ImportedModel {
        try checkLLaDAOptions(reader)
        let hidden = try reader.positiveInteger("d_model")
        let layers = try reader.positiveInteger("n_layers")
        let heads = try reader.positiveInteger("n_heads")
        let multiQuery = try reader.bool("multi_query_attention", default: false)
        let keyValueHeads = try reader.positiveInteger("n_kv_heads", default: multiQuery ? 1 : heads)
        let ratio = try reader.positiveInteger("mlp_ratio", default: 4)
        let ffn = try reader.positiveInteger("mlp_hidden_size", default: ratio * hidden)
        guard ffn <= ImportLimits.maximumDimension else {
            throw reader.fail("mlp_ratio · d_model = \(ffn) is implausibly large (> \(ImportLimits.maximumDimension))")
        }
        let epsilon = try reader.positiveNumber("rms_norm_eps", default: 1e-5)
        let theta = try reader.positiveNumber("rope_theta", default: 10000)
        let positions = try reader.positiveInteger("max_sequence_length", default: 1024)
        let declaredVocabulary = try reader.positiveInteger("vocab_size")
        let tied = try reader.bool("weight_tying", default: true)
        guard hidden % heads == 0 else { throw reader.fail("d_model \(hidden) is not a multiple of n_heads \(heads)") }
        guard heads % keyValueHeads == 0 else { throw reader.fail("n_heads \(heads) is not a multiple of n_kv_heads \(keyValueHeads)") }
        let headDimension = hidden / heads
        guard headDimension % 2 == 0 else { throw reader.fail("head dimension \(headDimension) is odd (RoPE needs pairs)") }

        var names: [String: SourceTensor] = [:]
        for (name, tensor) in tensors {
            var key = name
            if key.hasPrefix("model.") { key.removeFirst("model.".count) }
            if key.hasPrefix("transformer.") { key.removeFirst("transformer.".count) }
            guard names[key] == nil else { throw ConvertError.duplicateTensor(name: name) }
            names[key] = tensor
        }
        guard let embedding = names["wte.weight"] else { throw ConvertError.missingTensors(["model.transformer.wte.weight"]) }
        guard embedding.shape.count == 2, embedding.shape[1] == hidden else {
            throw ConvertError.shapeMismatch(tensor: embedding.name, expected: [embedding.shape.first ?? 0, hidden], actual: embedding.shape)
        }
        let vocabulary = embedding.shape[0]
        let embeddingRows = try reader.positiveInteger("embedding_size", default: declaredVocabulary)
        guard embeddingRows == vocabulary else {
            throw reader.fail("embedding_size \(embeddingRows) but the embedding has \(vocabulary) rows")
        }
        guard declaredVocabulary <= vocabulary else {
            throw reader.fail("vocab_size \(declaredVocabulary) exceeds the embedding's \(vocabulary) rows")
        }
        let configuration = ModelConfiguration(
            architecture: .llama, vocabularySize: vocabulary, hiddenSize: hidden, layerCount: layers, headCount: heads,
            keyValueHeadCount: keyValueHeads, headDimension: headDimension, intermediateSize: ffn, maximumPositions: positions,
            normEpsilon: epsilon, ropeTheta: theta, tiedEmbeddings: tied, attentionBias: false)
        try ImportLimits.check(configuration, source: "config.json")

        let mapping = RoPEModelNames(
            embedding: "wte.weight", outputNorm: "ln_f.weight", output: "ff_out.weight",
            attentionNorm: { "blocks.\($0).attn_norm.weight" },
            query: { "blocks.\($0).q_proj.weight" }, key: { "blocks.\($0).k_proj.weight" },
            value: { "blocks.\($0).v_proj.weight" }, attentionOutput: { "blocks.\($0).attn_out.weight" },
            ffnNorm: { "blocks.\($0).ff_norm.weight" },
            gate: { "blocks.\($0).ff_proj.weight" }, up: { "blocks.\($0).up_proj.weight" },
            down: { "blocks.\($0).ff_out.weight" },
            bias: { String($0.dropLast("weight".count)) + "bias" })
        var builder = PlanBuilder(sources: names) { "model.transformer." + $0 }
        mapping.plan(&builder, configuration: configuration, unpermute: false)
        let plan = try builder.finish()
        let description = "LLaDA (\(layers) layers, hidden \(hidden), vocab \(vocabulary))"
        return ImportedModel(configuration: configuration, tensors: plan, knownModel: .llada, modelDescription: description,
                             specialTokens: special)
    }

    /// Refuses every option of the official LLaDA code that changes the mathematics away from the LLaMA
    /// block Diffu runs. Fields that decide the layout must be present; the others default as
    /// `configuration_llada.py` does.
    static func checkLLaDAOptions(_ reader: ConfigurationReader) throws {
        let required = [("block_type", "llama"), ("layer_norm_type", "rms"), ("activation_type", "silu")]
        for (key, expected) in required {
            guard let (_, value) = reader.value([key]) else { throw reader.fail("missing '\(key)'") }
            guard let text = value.stringValue else { throw reader.fail("'\(key)' is not a string") }
            guard text == expected else { throw reader.fail("\(key) '\(text)' is not supported (LLaDA's is '\(expected)')") }
        }
        guard reader.value(["rope"]) != nil else { throw reader.fail("missing 'rope'") }
        guard try reader.bool("rope", default: false) else { throw reader.fail("rope false (learned positions) is not supported") }
        let refused: [(key: String, meaning: String)] = [
            ("alibi", "ALiBi attention biases"), ("include_bias", "biases on every linear layer"),
            ("include_qkv_bias", "q/k/v biases"), ("bias_for_layer_norm", "norm biases"),
            ("attention_layer_norm", "QK norms"), ("input_emb_norm", "embedding scaling"),
            ("scale_logits", "logit scaling"),
        ]
        for option in refused where try reader.bool(option.key, default: false) {
            throw reader.fail("\(option.key) true (\(option.meaning)) is not supported")
        }
        guard try reader.bool("layer_norm_with_affine", default: true) else {
            throw reader.fail("norms without weights (layer_norm_with_affine false) are not supported")
        }
        guard try reader.positiveInteger("block_group_size", default: 1) == 1 else {
            throw reader.fail("block_group_size other than 1 is not supported")
        }
    }
}

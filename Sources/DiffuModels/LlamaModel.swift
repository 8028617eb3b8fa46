/// LLaMA (DiffuLLaMA, SmolLM2): pre-RMSNorm blocks, rotary positions in the half-split layout, SwiGLU
/// MLP, no biases (with `attention_bias`, HF LLaMA adds biases to q, k, v *and* o), tied or untied head.
enum LlamaArchitecture {
    static let traits = ArchitectureTraits(norm: .rmsNorm, positions: .rotary, feedForward: .swiGLU)

    static func validate(_ c: ModelConfiguration) throws {
        try validateCommon(c)
        try validateRotary(c)
    }

    /// Checks shared by the rotary architectures.
    static func validateRotary(_ c: ModelConfiguration) throws {
        guard c.headDimension % 2 == 0 else { throw ModelError.invalidConfiguration("RoPE needs an even head_dim (\(c.headDimension))") }
        guard c.ropeTheta.isFinite, c.ropeTheta > 1 else { throw ModelError.invalidConfiguration("rope_theta must be finite and > 1 (\(c.ropeTheta))") }
    }

    static func load(_ c: ModelConfiguration, _ loader: WeightLoader) throws -> ModelParameters {
        try loadRotary(c, loader, queryKeyValueBias: c.attentionBias, outputBias: c.attentionBias)
    }

    /// Loads a LLaMA-shaped model; Qwen2 shares this with q/k/v biases and no output bias.
    static func loadRotary(_ c: ModelConfiguration, _ loader: WeightLoader, queryKeyValueBias: Bool, outputBias: Bool) throws -> ModelParameters {
        let hidden = c.hiddenSize, ffn = c.intermediateSize
        let queryWidth = c.headCount * c.headDimension, keyValueWidth = c.keyValueHeadCount * c.headDimension
        let tokenEmbedding = try loader.matrix("token_embedding.weight", rows: c.vocabularySize, columns: hidden)
        if loader.weights.contains("position_embedding.weight") { throw ModelError.unexpectedTensor("position_embedding.weight") }
        let layers = try (0..<c.layerCount).map { index -> LayerParameters in
            let p = "layers.\(index)."
            return LayerParameters(
                attentionNorm: try loader.norm(p + "attention_norm", width: hidden, bias: false),
                query: try loader.projection(p + "attention.query", rows: queryWidth, columns: hidden, bias: queryKeyValueBias),
                key: try loader.projection(p + "attention.key", rows: keyValueWidth, columns: hidden, bias: queryKeyValueBias),
                value: try loader.projection(p + "attention.value", rows: keyValueWidth, columns: hidden, bias: queryKeyValueBias),
                output: try loader.projection(p + "attention.output", rows: hidden, columns: queryWidth, bias: outputBias),
                feedForwardNorm: try loader.norm(p + "ffn_norm", width: hidden, bias: false),
                gate: try loader.projection(p + "ffn.gate", rows: ffn, columns: hidden, bias: false),
                up: try loader.projection(p + "ffn.up", rows: ffn, columns: hidden, bias: false),
                down: try loader.projection(p + "ffn.down", rows: hidden, columns: ffn, bias: false)
            )
        }
        return ModelParameters(
            tokenEmbedding: tokenEmbedding,
            positionEmbedding: nil,
            layers: layers,
            outputNorm: try loader.norm("output_norm", width: hidden, bias: false),
            head: try loader.head(configuration: c, tokenEmbedding: tokenEmbedding)
        )
    }
}

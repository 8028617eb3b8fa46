/// GPT-2 (DiffuGPT-S/M): pre-LayerNorm blocks with biases everywhere, learned absolute positions,
/// tanh-GELU MLP, tied LM head (an untied `output.weight` is accepted when the configuration says so). GPT-2 always has
/// biases; `attention_bias` is not consulted.
enum GPT2Architecture {
    static let traits = ArchitectureTraits(norm: .layerNorm, positions: .learned, feedForward: .geluTanh)

    static func validate(_ c: ModelConfiguration) throws {
        try validateCommon(c)
        guard c.keyValueHeadCount == c.headCount else {
            throw ModelError.invalidConfiguration("GPT-2 has no grouped-query attention (num_kv_heads \(c.keyValueHeadCount) ≠ num_heads \(c.headCount))")
        }
        guard c.headCount * c.headDimension == c.hiddenSize else {
            throw ModelError.invalidConfiguration("GPT-2 needs num_heads · head_dim = hidden_size (\(c.headCount) · \(c.headDimension) ≠ \(c.hiddenSize))")
        }
    }

    static func load(_ c: ModelConfiguration, _ loader: WeightLoader) throws -> ModelParameters {
        let hidden = c.hiddenSize, ffn = c.intermediateSize
        let tokenEmbedding = try loader.matrix("token_embedding.weight", rows: c.vocabularySize, columns: hidden)
        let positions = try loader.vector("position_embedding.weight", count: c.maximumPositions * hidden)
        let layers = try (0..<c.layerCount).map { index -> LayerParameters in
            let p = "layers.\(index)."
            return LayerParameters(
                attentionNorm: try loader.norm(p + "attention_norm", width: hidden, bias: true),
                query: try loader.projection(p + "attention.query", rows: hidden, columns: hidden, bias: true),
                key: try loader.projection(p + "attention.key", rows: hidden, columns: hidden, bias: true),
                value: try loader.projection(p + "attention.value", rows: hidden, columns: hidden, bias: true),
                output: try loader.projection(p + "attention.output", rows: hidden, columns: hidden, bias: true),
                feedForwardNorm: try loader.norm(p + "ffn_norm", width: hidden, bias: true),
                gate: nil,
                up: try loader.projection(p + "ffn.up", rows: ffn, columns: hidden, bias: true),
                down: try loader.projection(p + "ffn.down", rows: hidden, columns: ffn, bias: true)
            )
        }
        return ModelParameters(
            tokenEmbedding: tokenEmbedding,
            positionEmbedding: positions,
            layers: layers,
            outputNorm: try loader.norm("output_norm", width: hidden, bias: true),
            head: try loader.head(configuration: c, tokenEmbedding: tokenEmbedding)
        )
    }
}

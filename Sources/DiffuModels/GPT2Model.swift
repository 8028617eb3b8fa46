/// GPT-2 (DiffuGPT-S/M): pre-LayerNorm blocks with biases everywhere, learned absolute positions,
/// tanh-GELU MLP, tied LM head (an untied `output.weight` is accepted when the configuration says so).
/// GPT-2 always has biases; `attention_bias` is not consulted.
enum GPT2Architecture {
    static let descriptor = ArchitectureDescriptor(
        traits: ArchitectureTraits(norm: .layerNorm, positions: .learned, feedForward: .geluTanh),
        validate: validate,
        tensorTable: TensorTable(
            leading: [
                .matrix(.tokenEmbedding) { [$0.vocabularySize, $0.hiddenSize] },
                .vector(.positionEmbedding) { [$0.maximumPositions, $0.hiddenSize] },
            ],
            layer: [
                .vector(.attentionNorm, shape: hidden),
                .vector(.attentionNorm, .bias, shape: hidden),
                .matrix(.query, shape: square),
                .vector(.query, .bias, shape: hidden),
                .matrix(.key, shape: square),
                .vector(.key, .bias, shape: hidden),
                .matrix(.value, shape: square),
                .vector(.value, .bias, shape: hidden),
                .matrix(.attentionOutput, shape: square),
                .vector(.attentionOutput, .bias, shape: hidden),
                .vector(.feedForwardNorm, shape: hidden),
                .vector(.feedForwardNorm, .bias, shape: hidden),
                .matrix(.up) { [$0.intermediateSize, $0.hiddenSize] },
                .vector(.up, .bias) { [$0.intermediateSize] },
                .matrix(.down) { [$0.hiddenSize, $0.intermediateSize] },
                .vector(.down, .bias, shape: hidden),
            ],
            trailing: [
                .vector(.outputNorm, shape: hidden),
                .vector(.outputNorm, .bias, shape: hidden),
                .matrix(.output, .untied(reusing: .tokenEmbedding)) { [$0.vocabularySize, $0.hiddenSize] },
            ]),
        unknownModelSampling: UnknownModelSampling(temperature: 0.95, generationLength: 512))  // DiffuGPT's

    /// `[hidden]`: norms and the hidden-width biases.
    private static let hidden: @Sendable (ModelConfiguration) -> [Int] = { [$0.hiddenSize] }
    /// `[hidden, hidden]`: the attention projections (GPT-2 has num_heads · head_dim = hidden).
    private static let square: @Sendable (ModelConfiguration) -> [Int] = { [$0.hiddenSize, $0.hiddenSize] }

    static func validate(_ c: ModelConfiguration) throws {
        try validateCommon(c)
        guard c.keyValueHeadCount == c.headCount else {
            throw ModelError.invalidConfiguration("GPT-2 has no grouped-query attention (num_kv_heads \(c.keyValueHeadCount) ≠ num_heads \(c.headCount))")
        }
        guard c.headCount * c.headDimension == c.hiddenSize else {
            throw ModelError.invalidConfiguration("GPT-2 needs num_heads · head_dim = hidden_size (\(c.headCount) · \(c.headDimension) ≠ \(c.hiddenSize))")
        }
    }
}

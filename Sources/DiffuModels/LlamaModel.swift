/// LLaMA (DiffuLLaMA, SmolLM2; LLaDA converts onto these tensors): pre-RMSNorm blocks, rotary positions
/// in the half-split layout, SwiGLU MLP, no biases (with `attention_bias`, HF LLaMA adds biases to q, k,
/// v *and* o), tied or untied head.
enum LlamaArchitecture {
    static let descriptor = ArchitectureDescriptor(
        traits: rotaryTraits,
        validate: { configuration in
            try validateCommon(configuration)
            try validateRotary(configuration)
        },
        tensorTable: rotaryTable(queryKeyValueBias: .when { $0.attentionBias }, outputBias: .when { $0.attentionBias }),
        unknownModelSampling: rotarySampling)

    /// DiffuLLaMA's temperature with a 1024-token length: the defaults of unrecognised rotary models.
    static let rotarySampling = UnknownModelSampling(temperature: 0.9, generationLength: 1024)

    /// The block of the rotary architectures: RMSNorm, RoPE, SwiGLU.
    static let rotaryTraits = ArchitectureTraits(norm: .rmsNorm, positions: .rotary, feedForward: .swiGLU)

    /// Checks shared by the rotary architectures.
    static func validateRotary(_ c: ModelConfiguration) throws {
        guard c.headDimension % 2 == 0 else { throw ModelError.invalidConfiguration("RoPE needs an even head_dim (\(c.headDimension))") }
        guard c.ropeTheta.isFinite, c.ropeTheta > 1 else { throw ModelError.invalidConfiguration("rope_theta must be finite and > 1 (\(c.ropeTheta))") }
    }

    /// The tensors of a LLaMA-shaped model (Qwen2 shares them with q/k/v biases and no output bias):
    /// no position table, no norm or feed-forward biases; the q/k/v biases follow the value weight.
    static func rotaryTable(queryKeyValueBias: TensorSpecification.Presence,
                            outputBias: TensorSpecification.Presence) -> TensorTable {
        let hidden: @Sendable (ModelConfiguration) -> [Int] = { [$0.hiddenSize] }
        return TensorTable(
            leading: [
                .matrix(.tokenEmbedding) { [$0.vocabularySize, $0.hiddenSize] },
                .vector(.positionEmbedding, .weight, .never) { [$0.maximumPositions, $0.hiddenSize] },
            ],
            layer: [
                .vector(.attentionNorm, shape: hidden),
                .vector(.attentionNorm, .bias, .never, shape: hidden),
                .matrix(.query) { [$0.queryWidth, $0.hiddenSize] },
                .matrix(.key) { [$0.keyValueWidth, $0.hiddenSize] },
                .matrix(.value) { [$0.keyValueWidth, $0.hiddenSize] },
                .vector(.query, .bias, queryKeyValueBias) { [$0.queryWidth] },
                .vector(.key, .bias, queryKeyValueBias) { [$0.keyValueWidth] },
                .vector(.value, .bias, queryKeyValueBias) { [$0.keyValueWidth] },
                .matrix(.attentionOutput) { [$0.hiddenSize, $0.queryWidth] },
                .vector(.attentionOutput, .bias, outputBias, shape: hidden),
                .vector(.feedForwardNorm, shape: hidden),
                .vector(.feedForwardNorm, .bias, .never, shape: hidden),
                .matrix(.gate) { [$0.intermediateSize, $0.hiddenSize] },
                .vector(.gate, .bias, .never) { [$0.intermediateSize] },
                .matrix(.up) { [$0.intermediateSize, $0.hiddenSize] },
                .vector(.up, .bias, .never) { [$0.intermediateSize] },
                .matrix(.down) { [$0.hiddenSize, $0.intermediateSize] },
                .vector(.down, .bias, .never, shape: hidden),
            ],
            trailing: [
                .vector(.outputNorm, shape: hidden),
                .vector(.outputNorm, .bias, .never, shape: hidden),
                .matrix(.output, .untied(reusing: .tokenEmbedding)) { [$0.vocabularySize, $0.hiddenSize] },
            ])
    }
}

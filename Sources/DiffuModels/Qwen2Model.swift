/// Qwen2 (Dream-7B, DiffuCoder): the LLaMA block plus biases on the q, k and v projections (never on o),
/// usually with grouped-query attention and a large RoPE base. Qwen2 always has these biases;
/// `attention_bias` is not consulted.
enum Qwen2Architecture {
    static let descriptor = ArchitectureDescriptor(
        traits: LlamaArchitecture.rotaryTraits,
        validate: { configuration in
            try validateCommon(configuration)
            try LlamaArchitecture.validateRotary(configuration)
        },
        tensorTable: LlamaArchitecture.rotaryTable(queryKeyValueBias: .always, outputBias: .never),
        unknownModelSampling: LlamaArchitecture.rotarySampling)
}

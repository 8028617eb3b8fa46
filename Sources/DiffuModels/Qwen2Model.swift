/// Qwen2 (Dream-7B, DiffuCoder): the LLaMA block plus biases on the q, k and v projections (never on o),
/// usually with grouped-query attention and a large RoPE base. Qwen2 always has these biases;
/// `attention_bias` is not consulted.
enum Qwen2Architecture {
    static let traits = LlamaArchitecture.traits

    static func validate(_ c: ModelConfiguration) throws {
        try validateCommon(c)
        try LlamaArchitecture.validateRotary(c)
    }

    static func load(_ c: ModelConfiguration, _ loader: WeightLoader) throws -> ModelParameters {
        try LlamaArchitecture.loadRotary(c, loader, queryKeyValueBias: true, outputBias: false)
    }
}

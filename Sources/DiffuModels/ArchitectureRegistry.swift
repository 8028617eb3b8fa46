/// The transformer families Diffu runs: one case and one ``descriptor`` line per architecture (its
/// traits, validation and tensor table live in its own file).
public enum Architecture: String, Codable, Sendable, CaseIterable {
    /// GPT-2 (DiffuGPT-S/M): LayerNorm, learned positions, tanh-GELU MLP, biases everywhere, tied head.
    case gpt2
    /// LLaMA (DiffuLLaMA, SmolLM2, and LLaDA, whose tensors the converter renames): RMSNorm, RoPE
    /// (half-split), SwiGLU, no biases.
    case llama
    /// Qwen2 (Dream-7B, DiffuCoder): LLaMA plus q/k/v biases.
    case qwen2

    /// The architecture's descriptor (the registry: one line per architecture).
    package var descriptor: ArchitectureDescriptor {
        switch self {
        case .gpt2: GPT2Architecture.descriptor
        case .llama: LlamaArchitecture.descriptor
        case .qwen2: Qwen2Architecture.descriptor
        }
    }
}

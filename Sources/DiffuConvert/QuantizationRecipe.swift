import DiffuStorage

/// Which storage type each weight matrix gets. Vectors (norm weights, biases) and GPT-2's position
/// table are always f32 row-major whatever the recipe.
public enum QuantizationRecipe: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Every matrix f32 (exact).
    case f32
    /// Every matrix binary16.
    case f16
    /// Every matrix bfloat16.
    case bf16
    /// Every matrix q8 (int8 blocks of 32 with an f16 scale).
    case q8
    /// Every matrix q4 (int4 blocks of 32 with an f16 scale).
    case q4
    /// "q4 medium", in the spirit of llama.cpp's Q4_K_M: q4 for most matrices, q8 for the tensors whose
    /// errors hurt most:
    /// - `token_embedding.weight` and `output.weight`: every token's input vector and every logit go
    ///   through them with no later layer to average the error out (llama.cpp keeps `output` at Q6_K);
    /// - `layers.*.attention.value.weight` and `layers.*.ffn.down.weight`: the projections that write
    ///   straight into the residual stream, which llama.cpp's Q4_K_M promotes to Q6_K (in half the
    ///   layers; here in all, since q8 is the only higher type).
    case q4m
    /// q4 with the token embedding and the LM head at q8: the tensor mix of llama.cpp's Q4_0 file type
    /// (its quantizer keeps `token_embd` at Q8_0 when the head is tied, as in SmolLM2), so that a
    /// comparison with a llama.cpp Q4_0 file compares the same weights.
    case q4e

    /// The recipe's command-line name.
    public var description: String { rawValue }

    /// A one-line description stored in the file's provenance.
    public var summary: String {
        switch self {
        case .q4m: "q4m (q4; q8 for token_embedding, output, attention.value, ffn.down)"
        case .q4e: "q4e (q4; q8 for token_embedding, output)"
        default: rawValue
        }
    }

    /// The storage type of the weight matrix with this canonical name.
    public func storage(forMatrix name: String) -> StorageType {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .q8: .q8
        case .q4: .q4
        case .q4m: Self.keptAtEightBits(name) ? .q8 : .q4
        case .q4e: Self.isEmbeddingOrHead(name) ? .q8 : .q4
        }
    }

    /// Whether `q4m` keeps this matrix at q8.
    static func keptAtEightBits(_ name: String) -> Bool {
        isEmbeddingOrHead(name) || name.hasSuffix(".attention.value.weight") || name.hasSuffix(".ffn.down.weight")
    }

    /// The token embedding or the untied LM head (both recipes that mix storage keep these at q8).
    static func isEmbeddingOrHead(_ name: String) -> Bool {
        name == "token_embedding.weight" || name == "output.weight"
    }
}

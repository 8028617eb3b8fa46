/// The sequence a sampler works on: the input tokens and which positions are fixed (the prompt,
/// `src_mask` in the reference code). Every other position is generated: it starts as the mask token
/// and is revealed by the sampler. Fixed positions never change.
///
/// The tokens at generated positions are the reference's *input* values: they are replaced by the mask
/// id before the first forward pass, and matter only through the position-0 rule of the DiffuLLaMA
/// samplers (a generated position 0 under the shift rule keeps its input token; the reference's
/// unconditional demo uses 0 there).
public struct Canvas: Sendable, Equatable {
    /// The input tokens, one per position (length L).
    public var tokens: [Int32]
    /// `true` at fixed (prompt) positions, parallel to ``tokens``.
    public var isFixed: [Bool]

    /// Creates a canvas from tokens and fixed flags of equal length.
    public init(tokens: [Int32], isFixed: [Bool]) throws {
        guard !tokens.isEmpty else { throw SamplerError.emptyCanvas }
        guard tokens.count == isFixed.count else {
            throw SamplerError.canvasLengthMismatch(tokens: tokens.count, flags: isFixed.count)
        }
        self.tokens = tokens
        self.isFixed = isFixed
    }

    /// Number of positions (L).
    public var count: Int { tokens.count }

    /// Longest canvas the constructors build (2^24 positions, the samplers' step cap): an absurd
    /// requested length is an error before anything is allocated.
    public static let maximumLength = 1 << 24

    /// The generated (initially masked) positions, ascending.
    public var generatedPositions: [Int] { isFixed.indices.filter { !isFixed[$0] } }

    /// Unconditional generation: `length` generated positions, none fixed (the reference's demo:
    /// all input tokens `fillToken`, 0 by default).
    public static func unconditional(length: Int, fillToken: Int32 = 0) throws -> Canvas {
        guard length > 0 else { throw SamplerError.emptyCanvas }
        guard length <= maximumLength else { throw SamplerError.invalidLength(length) }
        return try Canvas(tokens: Array(repeating: fillToken, count: length),
                          isFixed: Array(repeating: false, count: length))
    }

    /// Prompt-conditioned generation: the prompt (fixed) followed by `generationLength` generated
    /// positions. Put the BOS token at the start of `prompt` where the model expects one.
    public static func prefix(prompt: [Int32], generationLength: Int, fillToken: Int32 = 0) throws -> Canvas {
        try infill(prefix: prompt, middleLength: generationLength, suffix: [], fillToken: fillToken)
    }

    /// Infilling: prefix and suffix fixed, a middle of `middleLength` generated positions between
    /// them; positions keep their order (no reordering).
    public static func infill(prefix: [Int32], middleLength: Int, suffix: [Int32], fillToken: Int32 = 0) throws -> Canvas {
        guard middleLength >= 0 else { throw SamplerError.invalidLength(middleLength) }
        let (total, overflow) = (prefix.count + suffix.count).addingReportingOverflow(middleLength)
        guard !overflow, total <= maximumLength else { throw SamplerError.invalidLength(middleLength) }
        guard total > 0 else { throw SamplerError.emptyCanvas }
        var tokens = prefix
        tokens.reserveCapacity(total)
        tokens.append(contentsOf: repeatElement(fillToken, count: middleLength))
        tokens.append(contentsOf: suffix)
        var fixed = Array(repeating: true, count: prefix.count)
        fixed.append(contentsOf: repeatElement(false, count: middleLength))
        fixed.append(contentsOf: repeatElement(true, count: suffix.count))
        return try Canvas(tokens: tokens, isFixed: fixed)
    }

    /// The instruction layout of the fine-tuned checkpoints: `[BOS] source [SEP]` fixed, then
    /// `targetLength` generated positions (the target, its EOS and padding are all generated).
    public static func instruction(beginToken: Int32, source: [Int32], separatorToken: Int32,
                                   targetLength: Int, fillToken: Int32 = 0) throws -> Canvas {
        try prefix(prompt: [beginToken] + source + [separatorToken], generationLength: targetLength, fillToken: fillToken)
    }
}

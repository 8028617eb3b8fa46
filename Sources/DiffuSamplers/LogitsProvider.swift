/// The model side of sampling: anything that turns a token sequence into next-token logits.
///
/// The facade adapts a model (and its attention mode) to this protocol; samplers never see a model type.
/// Implementations should compute only the requested rows: samplers ask for exactly the rows a step
/// needs (the still-masked positions, shifted by one where the model shifts), not all `tokens.count`.
public protocol LogitsProvider {
    /// Number of logits per row (the vocabulary rows of the output head).
    var vocabularySize: Int { get }

    /// Logits for the requested rows of `tokens`.
    ///
    /// - Parameters:
    ///   - tokens: the whole canvas (length L), mask ids included; position ids are `0..<L`.
    ///   - positions: the rows wanted, strictly ascending, each in `0..<L`.
    ///   - causal: `true` selects autoregressive (causal) attention, `false` full bidirectional attention.
    /// - Returns: row-major `[positions.count × vocabularySize]` logits, row `i` for `positions[i]`.
    func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float]

    /// The same logits written into `output` (resized to `[positions.count × vocabularySize]`): the sampler hands
    /// the previous step's array back, so a provider that writes in place allocates it once per generation.
    func logits(tokens: [Int32], positions: [Int], causal: Bool, into output: inout [Float]) throws
}

extension LogitsProvider {
    /// Replaces `output` with ``logits(tokens:positions:causal:)`` (for providers without an in-place path).
    public func logits(tokens: [Int32], positions: [Int], causal: Bool, into output: inout [Float]) throws {
        output = try logits(tokens: tokens, positions: positions, causal: causal)
    }
}

/// A logits provider that can reuse work across the steps of one block of the semi-autoregressive
/// (block) schedule — the hook for a Fast-dLLM-style prefix KV cache (issue 7).
///
/// The sampler calls ``beginBlock(_:tokens:)`` once before the first step of every block (and once,
/// with the whole generated span, for schedules without blocks). From that call until the next one:
/// every position before `block.lowerBound` is final (prompt or finished blocks) and never changes;
/// only positions inside `block` change; positions after `block.upperBound` keep the tokens given here
/// (masks and any fixed suffix) until their own block starts. A provider may therefore encode the
/// prefix once per block and cache its keys and values ("prefix cache"), and also cache the suffix
/// ("dual cache"). Both are approximations of full recomputation under bidirectional attention
/// (the cached keys/values do not see later changes inside the block), which is why they are opt-in
/// on the provider side; the sampler's own behaviour does not change.
///
/// Under the shift rule the first position of a block is predicted by row `block.lowerBound − 1`,
/// which lies in the prefix: a cached provider must recompute that row's hidden state with the block
/// (treat `block.lowerBound − 1 ..< block.upperBound` as the active window), or it would serve logits
/// that never saw the block's newly revealed tokens.
public protocol BlockCachingLogitsProvider: LogitsProvider {
    /// Announces the block whose masked positions the following steps decode.
    /// - Parameters:
    ///   - block: the positions decoded next; earlier positions are final from now on.
    ///   - tokens: the canvas at the start of the block (mask ids at undecoded positions).
    func beginBlock(_ block: Range<Int>, tokens: [Int32]) throws
}

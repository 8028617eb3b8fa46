import DiffuModels
import DiffuSamplers

/// The approximate key/value caches of a generation (Fast-dLLM, NVlabs). Opt-in: both change results.
public enum CacheMode: String, Sendable, Equatable, CaseIterable {
    /// Exact: every step recomputes the whole canvas (the default).
    case none
    /// Prefix cache: at the first step of each block the whole canvas is encoded (exactly) and every
    /// layer's keys/values are kept; later steps of the block recompute only the positions from the
    /// block's first row to the end of the canvas (the block and the masked suffix), attending to the
    /// cached keys/values of the prompt and finished blocks.
    case prefix
    /// Dual cache: as `prefix`, but later steps recompute only the block's rows; the suffix after the
    /// block is served from the cache too.
    case dual
}

/// A ``LogitsProvider`` with a Fast-dLLM-style approximate KV cache, refreshed per block.
///
/// - The first request after ``beginBlock(_:tokens:)`` runs the exact full forward pass (its logits are
///   exactly those of full recomputation) and fills the cache with every layer's post-RoPE keys/values.
/// - Later requests of the block compute only a window: from `min(block.lowerBound, first requested
///   row)` — so under the shift rule row `block.lowerBound − 1`, which predicts the block's first
///   position, is recomputed with the block as a query that attends to everything — to the end of the
///   canvas (`prefix`) or to the block's end (`dual`, extended to cover any requested row). The window
///   rows' fresh keys/values replace their cached ones; the other rows keep the keys/values of the
///   block's first step. This is the approximation: under bidirectional attention those cached
///   keys/values do not see the tokens revealed inside the block since then.
/// - If a token outside the window differs from the one its cached row was computed from (a sampler
///   that breaks the block contract), or the attention mode changes, the provider refills the cache with
///   an exact full pass instead of serving stale rows.
///
/// Memory: one ``KeyValueCache`` per generation, `layers × L × kvHeads × headDim × 2 × 4` bytes.
final class CachingModelLogitsProvider: BlockCachingLogitsProvider {
    let model: DiffuModel
    let threads: Int
    let mode: CacheMode
    let workspace = ForwardWorkspace()
    let cache = KeyValueCache()
    private var block: Range<Int>?
    private var needsRefresh = true
    private var cachedCausal = false
    /// Forward passes run (full and windowed).
    private(set) var forwardPasses = 0
    /// Exact full passes that (re)filled the cache.
    private(set) var fullPasses = 0

    init(model: DiffuModel, threads: Int, mode: CacheMode) {
        self.model = model
        self.threads = threads
        self.mode = mode
    }

    var vocabularySize: Int { model.configuration.vocabularySize }

    func beginBlock(_ block: Range<Int>, tokens: [Int32]) throws {
        self.block = block
        needsRefresh = true
    }

    func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
        forwardPasses += 1
        let transformer = model.transformer
        guard mode != .none, let block, let first = positions.min(), let last = positions.max() else {
            return try transformer.forward(tokens: tokens, outputPositions: positions, causal: causal, threads: threads,
                                           workspace: workspace)
        }
        let lower = max(0, min(block.lowerBound, first))
        let upper = min(tokens.count, mode == .dual ? max(block.upperBound, last + 1) : tokens.count)
        let cached = cache.tokens
        let reusable = !needsRefresh && causal == cachedCausal && cached.count == tokens.count && lower < upper
            && tokens[..<lower] == cached[..<lower] && tokens[upper...] == cached[upper...]
        if !reusable {
            needsRefresh = false
            cachedCausal = causal
            fullPasses += 1
            return try transformer.forward(tokens: tokens, outputPositions: positions, causal: causal, threads: threads,
                                           workspace: workspace, fillingCache: cache)
        }
        return try transformer.forward(tokens: tokens, window: lower..<upper, outputPositions: positions, causal: causal,
                                       threads: threads, workspace: workspace, cache: cache)
    }
}

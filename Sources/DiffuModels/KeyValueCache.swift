import DiffuKernels
import Foundation

/// Every layer's attention keys and values (after RoPE) for the positions of one canvas: the memory of
/// a Fast-dLLM-style approximate KV cache (prefix cache / dual cache) for one generation.
///
/// Layout: for each layer, a keys region then a values region, each row-major
/// `[length × keyValueHeads · headDimension]` f32 (row = position). Size:
/// `layers × length × keyValueHeads × headDimension × 2 × 4` bytes — for DiffuLLaMA-7B (32 layers,
/// 32 × 128) about 1 MiB per position, 256 MiB for a 256-token canvas. The memory is allocated by the
/// first ``TransformerModel/forward(tokens:outputPositions:causal:threads:workspace:fillingCache:)`` and
/// reused (grown when needed) by later ones.
///
/// A cache belongs to one generation at a time; a second pass that tries to use it while one runs gets
/// ``ModelError/cacheInUse``.
public final class KeyValueCache: @unchecked Sendable {
    let lock = NSLock()
    private var storage: UnsafeMutablePointer<Float>?
    private var capacity = 0
    /// Floats per layer region (keys or values): `length × keyValueWidth`.
    private var regionCount = 0
    /// The token each cached row was computed from (the canvas of the last pass that wrote the row);
    /// empty when nothing is cached.
    public private(set) var tokens: [Int32] = []

    /// Creates an empty cache; memory is allocated by the first filling pass.
    public init() {}

    deinit { storage?.deallocate() }

    /// Positions cached (0 when empty).
    public var length: Int { tokens.count }

    /// Bytes currently allocated.
    public var allocatedByteCount: Int { capacity * MemoryLayout<Float>.stride }

    /// Forgets the cached rows (keeps the memory for reuse).
    public func invalidate() { tokens = [] }

    /// The bytes a cache of `length` positions needs for `configuration`, or `nil` on overflow.
    public static func byteCount(configuration c: ModelConfiguration, length: Int) -> Int? {
        guard let floats = floatCount(configuration: c, length: length) else { return nil }
        let (bytes, overflow) = floats.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        return overflow ? nil : bytes
    }

    static func floatCount(configuration c: ModelConfiguration, length: Int) -> Int? {
        var total = length
        for factor in [c.keyValueHeadCount, c.headDimension, 2, c.layerCount] {
            let (product, overflow) = total.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// Makes room for `length` positions (contents undefined until written).
    func reserve(length: Int, configuration c: ModelConfiguration) throws {
        guard let total = Self.floatCount(configuration: c, length: length) else { throw ModelError.cacheTooLarge(length: length) }
        if total > capacity {
            storage?.deallocate()
            storage = nil
            capacity = 0
            let raw = UnsafeMutableRawPointer.allocate(byteCount: total * MemoryLayout<Float>.stride, alignment: 64)
            storage = raw.bindMemory(to: Float.self, capacity: total)
            capacity = total
        }
        regionCount = length * c.keyValueHeadCount * c.headDimension
    }

    /// Layer `layer`'s keys: `[length × keyValueWidth]`.
    func keys(layer: Int) -> UnsafeMutablePointer<Float> { storage! + 2 * layer * regionCount }

    /// Layer `layer`'s values: `[length × keyValueWidth]`.
    func values(layer: Int) -> UnsafeMutablePointer<Float> { storage! + (2 * layer + 1) * regionCount }

    /// Records the tokens the rows `window` were computed from.
    func record(_ canvas: [Int32], window: Range<Int>) {
        if tokens.count != canvas.count {
            tokens = canvas
        } else {
            tokens.replaceSubrange(window, with: canvas[window])
        }
    }
}

extension TransformerModel {
    /// The exact forward pass (same logits as ``forward(tokens:outputPositions:causal:threads:workspace:)``,
    /// bit for bit) that also stores every layer's keys and values of all positions in `cache`.
    ///
    /// - Parameters:
    ///   - tokens: the canvas; position ids are `0..<tokens.count`.
    ///   - outputPositions: rows wanted (`nil` = all).
    ///   - cache: filled with `tokens.count` rows; its previous contents are replaced.
    /// - Returns: row-major `[outputPositions.count × vocabularySize]` logits.
    public func forward(
        tokens: [Int32], outputPositions: [Int]? = nil, causal: Bool = false, threads: Int = 1,
        workspace: ForwardWorkspace? = nil, fillingCache cache: KeyValueCache
    ) throws -> [Float] {
        try validate(tokens: tokens, outputPositions: outputPositions, threads: threads)
        let positions = outputPositions ?? Array(0..<tokens.count)
        return try cachedPass(tokens: tokens, window: 0..<tokens.count, positions: positions, causal: causal, threads: threads,
                              workspace: workspace, cache: cache, filling: true)
    }

    /// The approximate cached forward pass (Fast-dLLM): computes only the rows of `window`, whose
    /// queries attend to the cached keys/values of every other position plus the window's fresh ones.
    ///
    /// The window's keys/values (post-RoPE) replace the cache's rows `window`, so a later pass sees
    /// them. Rows outside the window are used as stored, even if `tokens` now holds other tokens there
    /// (compare ``KeyValueCache/tokens`` to decide when to refill). When every cached row was computed
    /// from the current canvas in one filling pass, the result equals the full forward's rows up to
    /// f32 rounding (the window rows' keys/values are recomputed from the same inputs).
    ///
    /// - Parameters:
    ///   - tokens: the whole canvas (length must equal the cache's).
    ///   - window: the positions computed, non-empty, inside `0..<tokens.count`.
    ///   - outputPositions: rows wanted, each inside `window`.
    ///   - causal: autoregressive mask (query at position p sees keys ≤ p) instead of bidirectional.
    ///   - cache: filled by an earlier pass over a canvas of the same length.
    /// - Throws: ``ModelError/cacheNotFilled(cached:length:)``, ``ModelError/invalidWindow(window:length:)``,
    ///   ``ModelError/outputPositionOutsideWindow(position:window:)``, and the input errors of `forward`.
    public func forward(
        tokens: [Int32], window: Range<Int>, outputPositions: [Int], causal: Bool = false, threads: Int = 1,
        workspace: ForwardWorkspace? = nil, cache: KeyValueCache
    ) throws -> [Float] {
        try validate(tokens: tokens, outputPositions: outputPositions, threads: threads)
        guard !window.isEmpty, window.lowerBound >= 0, window.upperBound <= tokens.count else {
            throw ModelError.invalidWindow(window: window, length: tokens.count)
        }
        for position in outputPositions where !window.contains(position) {
            throw ModelError.outputPositionOutsideWindow(position: position, window: window)
        }
        return try cachedPass(tokens: tokens, window: window, positions: outputPositions, causal: causal, threads: threads,
                              workspace: workspace, cache: cache, filling: false)
    }

    private func cachedPass(
        tokens: [Int32], window: Range<Int>, positions: [Int], causal: Bool, threads: Int, workspace: ForwardWorkspace?,
        cache: KeyValueCache, filling: Bool
    ) throws -> [Float] {
        let workspace = workspace ?? ForwardWorkspace()
        guard workspace.lock.try() else { throw ModelError.workspaceInUse }
        defer { workspace.lock.unlock() }
        guard cache.lock.try() else { throw ModelError.cacheInUse }
        defer { cache.lock.unlock() }
        if filling {
            cache.invalidate()
            try cache.reserve(length: tokens.count, configuration: configuration)
        } else if cache.length != tokens.count {
            throw ModelError.cacheNotFilled(cached: cache.length, length: tokens.count)
        }
        workspace.reserve(tokenCount: window.count, outputCount: positions.count, configuration: configuration)
        let table = rotaryTable(positionCount: tokens.count, workspace: workspace)
        tokens.withUnsafeBufferPointer { tokenBuffer in
            encode(tokenBuffer, window: window, causal: causal, threads: threads, workspace: workspace, table: table, cache: cache)
        }
        cache.record(tokens, window: window)
        var logits: [Float] = []
        finishLogits(positions: positions, windowStart: window.lowerBound, threads: threads, workspace: workspace, into: &logits)
        return logits
    }
}

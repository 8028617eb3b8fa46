#if arch(x86_64) && DIFFU_AVX512
import DiffuKernelsAVX512
#endif

/// Shapes, strides and masking of one scaled-dot-product attention call.
///
/// Layouts (all row-major f32, one row per token):
/// - query rows: `headCount` heads of `headDimension` floats, head `h` at `h · headDimension`;
/// - key and value rows: `keyValueHeadCount` heads, same arrangement;
/// - output rows: `headCount` heads, same arrangement as the queries.
/// Query head `h` reads key/value head `h / (headCount / keyValueHeadCount)` (grouped-query attention,
/// as transformers' `repeat_kv`).
///
/// Keys and values are plain row arrays, so the keys/values of a prefix can come from a cache: pass
/// `keyCount` rows covering prefix + current tokens and put the queries at `queryPositionOffset`.
public struct AttentionGeometry: Sendable, Equatable {
    /// Query rows.
    public var queryCount: Int
    /// Key/value rows.
    public var keyCount: Int
    /// Query heads.
    public var headCount: Int
    /// Key/value heads (divides `headCount`).
    public var keyValueHeadCount: Int
    /// Floats per head.
    public var headDimension: Int
    /// Floats between consecutive query rows.
    public var queryRowStride: Int
    /// Floats between consecutive key rows.
    public var keyRowStride: Int
    /// Floats between consecutive value rows.
    public var valueRowStride: Int
    /// Floats between consecutive output rows.
    public var outputRowStride: Int
    /// Whether query `i` sees only keys `j ≤ queryPositionOffset + i` (autoregressive); otherwise every
    /// query sees every key (bidirectional, the diffusion models' mode).
    public var causal: Bool
    /// Key index of query row 0 (0 unless the keys include a cached prefix).
    public var queryPositionOffset: Int

    /// Creates a geometry with densely packed rows (strides = heads · headDimension) and no offset.
    public init(queryCount: Int, keyCount: Int, headCount: Int, keyValueHeadCount: Int, headDimension: Int, causal: Bool) {
        self.queryCount = queryCount
        self.keyCount = keyCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount
        self.headDimension = headDimension
        self.queryRowStride = headCount * headDimension
        self.keyRowStride = keyValueHeadCount * headDimension
        self.valueRowStride = keyValueHeadCount * headDimension
        self.outputRowStride = headCount * headDimension
        self.causal = causal
        self.queryPositionOffset = 0
    }
}

/// Blocked scaled-dot-product attention with an online softmax (flash-attention style): scores are
/// computed one `queryBlock × keyBlock` tile at a time, so memory stays O(block²) per worker at any
/// sequence length. Work is split over (head, query block) pairs.
///
/// Variant `avx512` runs each task at 512 bits (`DiffuKernelsAVX512/WideAttention.swift`) when the head
/// width is a multiple of 16; the work split below is the same for every variant.
public enum Attention {
    /// Query rows per tile.
    public static let queryBlock = 64
    /// Key rows per tile (a multiple of 8).
    public static let keyBlock = 64

    /// `output[i, h] = Σⱼ softmax_j(scale · q[i,h]·k[j,g]) · v[j,g]` with `g` the key/value head of `h`.
    ///
    /// - Parameters:
    ///   - scale: score multiplier, normally `1/√headDimension` rounded to f32.
    ///   - threads: worker count.
    ///   - variant: the kernel set to run (``KernelVariant/active`` by default; it must be supported).
    public static func compute(
        query: UnsafePointer<Float>,
        key: UnsafePointer<Float>,
        value: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>,
        geometry: AttentionGeometry,
        scale: Float,
        threads: Int,
        variant: KernelVariant = .active
    ) {
        let g = geometry
        precondition(g.headCount > 0 && g.keyValueHeadCount > 0 && g.headCount % g.keyValueHeadCount == 0)
        precondition(g.headDimension > 0 && g.queryCount >= 0 && g.keyCount >= 0)
        if g.queryCount == 0 { return }
        let queryBlocks = (g.queryCount + queryBlock - 1) / queryBlock
        let tasks = g.headCount * queryBlocks
        let workers = max(1, min(threads, tasks))
        #if arch(x86_64) && DIFFU_AVX512
        if variant == .avx512, WideAttention.handles(dimension: g.headDimension) {
            computeWide(query, key, value, output, g, scale, threads: threads, tasks: tasks, queryBlocks: queryBlocks)
            return
        }
        #endif
        // Every key/value head's values packed into contiguous rows first ([head][key][d]), as in the avx512 route.
        let dimension = g.headDimension
        let valuesPerHead = g.keyCount * dimension
        let keyTiles = (g.keyCount + keyBlock - 1) / keyBlock
        let floats = max(1, valuesPerHead * g.keyValueHeadCount)
        ScratchPool.shared.withBuffer(byteCount: floats * 4) { raw in
            let packedValues = raw.bindMemory(to: Float.self, capacity: floats)
            forEachHeadTile(heads: g.keyValueHeadCount, tiles: keyTiles, threads: threads) { head, tile in
                packValues(value + head * dimension, stride: g.valueRowStride, tile: tile,
                           keyCount: g.keyCount, dimension: dimension, into: packedValues + head * valuesPerHead)
            }
            Parallel.forEach(workers) { worker in
                Scratch.with(headDimension: g.headDimension) { scratch in
                    // Interleaved assignment balances the causal triangle across workers.
                    var task = worker
                    while task < tasks {
                        attendBlock(head: task / queryBlocks, queryStart: (task % queryBlocks) * queryBlock,
                                    query, key, UnsafePointer(packedValues), output, g, scale, scratch)
                        task += workers
                    }
                }
            }
        }
    }

    /// Runs `body(head, tile)` for every (key/value head, key tile) pair, the pairs interleaved over up to `threads`
    /// workers (the preparation passes before a route's tasks).
    static func forEachHeadTile(heads: Int, tiles: Int, threads: Int, _ body: (Int, Int) -> Void) {
        let pairs = heads * tiles
        let workers = max(1, min(threads, pairs))
        Parallel.forEach(workers) { worker in
            var index = worker
            while index < pairs {
                body(index / tiles, index % tiles)
                index += workers
            }
        }
    }

    /// Copies the value rows of tile `tile` (keys `keyBlock·tile ..< keyBlock·tile + keyBlock`, clipped to `keyCount`) of
    /// one key/value head into `packed`, row `j` at `packed + j * dimension`. `values` is that head's value row 0, `stride`
    /// floats between rows. With the model's stride (all heads in one row) a tile's rows are `stride` apart, and when that
    /// is a multiple of 4 KiB (16 KiB at 32 heads × 128) they all fall in one L1 set and evict each other on every pass
    /// over the tile; packed, they are contiguous.
    static func packValues(
        _ values: UnsafePointer<Float>, stride: Int, tile: Int, keyCount: Int, dimension: Int, into packed: UnsafeMutablePointer<Float>
    ) {
        let first = tile * keyBlock
        for j in first..<min(keyCount, first + keyBlock) {
            (packed + j * dimension).update(from: values + j * stride, count: dimension)
        }
    }

    #if arch(x86_64) && DIFFU_AVX512
    /// The `avx512` route: each key/value head's keys transposed once and its values packed into contiguous rows
    /// (``packValues(_:stride:tile:keyCount:dimension:into:)``; split over (head, key tile) pairs), then the
    /// (head, query block) tasks, interleaved over the workers as below.
    private static func computeWide(
        _ query: UnsafePointer<Float>, _ key: UnsafePointer<Float>, _ value: UnsafePointer<Float>,
        _ output: UnsafeMutablePointer<Float>, _ g: AttentionGeometry, _ scale: Float, threads: Int, tasks: Int, queryBlocks: Int
    ) {
        let dimension = g.headDimension
        let perHead = WideAttention.transposedFloatCount(keyCount: g.keyCount, dimension: dimension)
        let valuesPerHead = g.keyCount * dimension
        let keyTiles = (g.keyCount + keyBlock - 1) / keyBlock
        // One buffer: every key/value head's transposed keys, then its values packed into contiguous rows.
        let floats = max(1, (perHead + valuesPerHead) * g.keyValueHeadCount)
        ScratchPool.shared.withBuffer(byteCount: floats * 4) { raw in
            let transposed = raw.bindMemory(to: Float.self, capacity: floats)
            let packedValues = transposed + perHead * g.keyValueHeadCount
            forEachHeadTile(heads: g.keyValueHeadCount, tiles: keyTiles, threads: threads) { head, tile in
                WideAttention.transposeKeys(key + head * dimension, stride: g.keyRowStride, tile: tile,
                                            keyCount: g.keyCount, dimension: dimension, into: transposed + head * perHead)
                packValues(value + head * dimension, stride: g.valueRowStride, tile: tile,
                           keyCount: g.keyCount, dimension: dimension, into: packedValues + head * valuesPerHead)
            }
            let workers = max(1, min(threads, tasks))
            Parallel.forEach(workers) { worker in
                ScratchPool.shared.withBuffer(byteCount: WideAttention.scratchByteCount(dimension: dimension)) { scratch in
                    var task = worker
                    while task < tasks {
                        let head = task / queryBlocks
                        let kvHead = head / (g.headCount / g.keyValueHeadCount)
                        WideAttention.attend(wideTask(head: head, queryStart: (task % queryBlocks) * queryBlock, query,
                                                      UnsafePointer(transposed + kvHead * perHead),
                                                      UnsafePointer(packedValues + kvHead * valuesPerHead), output, g, scale),
                                             scratch: scratch)
                        task += workers
                    }
                }
            }
        }
    }

    /// The (head, query block) task as ``WideAttention`` takes it (pointers at the task's heads; `values` is the task's
    /// key/value head's packed rows, `headDimension` floats apart).
    private static func wideTask(
        head: Int, queryStart: Int,
        _ query: UnsafePointer<Float>, _ keysTransposed: UnsafePointer<Float>, _ values: UnsafePointer<Float>,
        _ output: UnsafeMutablePointer<Float>, _ g: AttentionGeometry, _ scale: Float
    ) -> WideAttention.Task {
        let dimension = g.headDimension
        let queryCount = min(queryBlock, g.queryCount - queryStart)
        let visibleBase = g.queryPositionOffset + queryStart + 1
        let keyLimit = g.causal ? max(0, min(g.keyCount, visibleBase + queryCount - 1)) : g.keyCount
        return WideAttention.Task(
            query: query + queryStart * g.queryRowStride + head * dimension, queryStride: g.queryRowStride, queryCount: queryCount,
            keysTransposed: keysTransposed,
            value: values, valueStride: dimension,
            keyLimit: keyLimit, causalVisibleBase: g.causal ? visibleBase : nil,
            output: output + queryStart * g.outputRowStride + head * dimension, outputStride: g.outputRowStride,
            dimension: dimension, scale: scale)
    }
    #endif

    /// Per-worker tiles.
    private struct Scratch {
        /// Key tile transposed: `keysTransposed[d * keyBlock + j]`.
        let keysTransposed: UnsafeMutablePointer<Float>
        /// Scores / probabilities: `scores[i * keyBlock + j]`.
        let scores: UnsafeMutablePointer<Float>
        /// Unnormalized output accumulators: `accumulators[i * headDimension + d]`.
        let accumulators: UnsafeMutablePointer<Float>
        /// Running row maxima and sums of the online softmax.
        let rowMaximum: UnsafeMutablePointer<Float>
        let rowSum: UnsafeMutablePointer<Float>

        /// Runs `body` with the five regions carved from one pooled buffer (``ScratchPool``), each
        /// 64-byte aligned; the buffer goes back to the pool when `body` returns, so nothing is freed by hand.
        static func with<Result>(headDimension: Int, _ body: (Scratch) -> Result) -> Result {
            let layout = AlignedRegions(counts: [headDimension * Attention.keyBlock, Attention.queryBlock * Attention.keyBlock,
                                                 Attention.queryBlock * headDimension, Attention.queryBlock, Attention.queryBlock])
            return ScratchPool.shared.withBuffer(byteCount: layout.totalCount * MemoryLayout<Float>.stride) { raw in
                let base = raw.bindMemory(to: Float.self, capacity: layout.totalCount)
                let offsets = layout.offsets
                return body(Scratch(keysTransposed: base + offsets[0], scores: base + offsets[1], accumulators: base + offsets[2],
                                    rowMaximum: base + offsets[3], rowSum: base + offsets[4]))
            }
        }
    }

    /// One (head, query block) task: stream over key tiles, keeping the running softmax state. `values`: every key/value
    /// head's packed value rows (``packValues(_:stride:tile:keyCount:dimension:into:)``), head `h` at
    /// `values + h * keyCount * headDimension`.
    private static func attendBlock(
        head: Int, queryStart: Int,
        _ query: UnsafePointer<Float>, _ key: UnsafePointer<Float>, _ values: UnsafePointer<Float>,
        _ output: UnsafeMutablePointer<Float>, _ g: AttentionGeometry, _ scale: Float, _ scratch: Scratch
    ) {
        let dimension = g.headDimension
        let kvHead = head / (g.headCount / g.keyValueHeadCount)
        let queryCount = min(queryBlock, g.queryCount - queryStart)
        let keyLimit = g.causal ? max(0, min(g.keyCount, g.queryPositionOffset + queryStart + queryCount)) : g.keyCount
        scratch.accumulators.initialize(repeating: 0, count: queryCount * dimension)
        scratch.rowMaximum.initialize(repeating: -.infinity, count: queryCount)
        scratch.rowSum.initialize(repeating: 0, count: queryCount)
        let queryBase = query + queryStart * g.queryRowStride + head * dimension
        let valueBase = values + kvHead * g.keyCount * dimension

        var keyStart = 0
        while keyStart < keyLimit {
            let keyCount = min(keyBlock, keyLimit - keyStart)
            let paddedKeys = (keyCount + 15) & ~15
            transposeKeys(key + keyStart * g.keyRowStride + kvHead * dimension, g.keyRowStride, keyCount, paddedKeys, dimension, scratch.keysTransposed)
            computeScores(queryBase, g.queryRowStride, queryCount, paddedKeys, dimension, scale, scratch)
            // Mask, then fold the tile into each row's running softmax (probabilities overwrite the scores).
            for i in 0..<queryCount {
                var visible = keyCount
                if g.causal { visible = max(0, min(keyCount, g.queryPositionOffset + queryStart + i + 1 - keyStart)) }
                updateRow(scratch, row: i, visible: visible, paddedKeys: paddedKeys, dimension: dimension)
            }
            accumulateValues(valueBase + keyStart * dimension, dimension, keyCount, queryCount, dimension, scratch)
            keyStart += keyBlock
        }
        // Normalize into the output rows.
        for i in 0..<queryCount {
            let outputRow = output + (queryStart + i) * g.outputRowStride + head * dimension
            let accumulator = scratch.accumulators + i * dimension
            let sum = scratch.rowSum[i]
            let inverse: Float = sum > 0 ? 1 / sum : 0
            for d in 0..<dimension { outputRow[d] = accumulator[d] * inverse }
        }
    }

    /// `keysTransposed[d * keyBlock + j] = key row j, element d`; rows `keyCount..<paddedKeys` are zero.
    @inline(__always)
    private static func transposeKeys(
        _ keys: UnsafePointer<Float>, _ stride: Int, _ keyCount: Int, _ paddedKeys: Int, _ dimension: Int,
        _ transposed: UnsafeMutablePointer<Float>
    ) {
        for j in 0..<keyCount {
            let row = keys + j * stride
            for d in 0..<dimension { transposed[d * keyBlock + j] = row[d] }
        }
        for j in keyCount..<paddedKeys {
            for d in 0..<dimension { transposed[d * keyBlock + j] = 0 }
        }
    }

    /// `scores[i, j] = scale · q[i] · k[j]` for a tile, 4 queries × 16 keys per register block
    /// (8 accumulators; per step 2 key loads and 4 query broadcasts feed 8 multiply-adds).
    @inline(__always)
    private static func computeScores(
        _ queries: UnsafePointer<Float>, _ stride: Int, _ queryCount: Int, _ paddedKeys: Int, _ dimension: Int,
        _ scale: Float, _ scratch: Scratch
    ) {
        let scaleVector = SIMD8<Float>(repeating: scale)
        var i0 = 0
        while i0 < queryCount {
            // Rows past the end repeat the last row; their results are not stored.
            let q0 = queries + i0 * stride
            let q1 = queries + min(i0 + 1, queryCount - 1) * stride
            let q2 = queries + min(i0 + 2, queryCount - 1) * stride
            let q3 = queries + min(i0 + 3, queryCount - 1) * stride
            var chunk = 0
            while chunk < paddedKeys {
                var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b0 = SIMD8<Float>(), b1 = SIMD8<Float>()
                var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), d0 = SIMD8<Float>(), d1 = SIMD8<Float>()
                var column = UnsafePointer(scratch.keysTransposed + chunk)
                for d in 0..<dimension {
                    let k0 = Vector.load(column), k1 = Vector.load(column + 8)
                    let x0 = SIMD8<Float>(repeating: q0[d]), x1 = SIMD8<Float>(repeating: q1[d])
                    let x2 = SIMD8<Float>(repeating: q2[d]), x3 = SIMD8<Float>(repeating: q3[d])
                    a0 = Arithmetic.multiplyAdd(x0, k0, a0); a1 = Arithmetic.multiplyAdd(x0, k1, a1)
                    b0 = Arithmetic.multiplyAdd(x1, k0, b0); b1 = Arithmetic.multiplyAdd(x1, k1, b1)
                    c0 = Arithmetic.multiplyAdd(x2, k0, c0); c1 = Arithmetic.multiplyAdd(x2, k1, c1)
                    d0 = Arithmetic.multiplyAdd(x3, k0, d0); d1 = Arithmetic.multiplyAdd(x3, k1, d1)
                    column += keyBlock
                }
                let row = scratch.scores + i0 * keyBlock + chunk
                Vector.store(a0 * scaleVector, row); Vector.store(a1 * scaleVector, row + 8)
                if i0 + 1 < queryCount { Vector.store(b0 * scaleVector, row + keyBlock); Vector.store(b1 * scaleVector, row + keyBlock + 8) }
                if i0 + 2 < queryCount { Vector.store(c0 * scaleVector, row + 2 * keyBlock); Vector.store(c1 * scaleVector, row + 2 * keyBlock + 8) }
                if i0 + 3 < queryCount { Vector.store(d0 * scaleVector, row + 3 * keyBlock); Vector.store(d1 * scaleVector, row + 3 * keyBlock + 8) }
                chunk += 16
            }
            i0 += 4
        }
    }

    /// Online-softmax update of one row: masks keys `≥ visible`, turns the scores into `exp(s − m)` with the
    /// new running maximum `m`, rescales the row's sum and accumulator by `exp(m_old − m)`.
    @inline(__always)
    private static func updateRow(_ scratch: Scratch, row i: Int, visible: Int, paddedKeys: Int, dimension: Int) {
        let scoreRow = scratch.scores + i * keyBlock
        if visible == 0 {
            scoreRow.initialize(repeating: 0, count: paddedKeys)
            return
        }
        for j in visible..<paddedKeys { scoreRow[j] = -.infinity }
        var blockMaximum = SIMD8<Float>(repeating: -.infinity)
        var chunk = 0
        while chunk < paddedKeys { blockMaximum = FastMath.maximum(blockMaximum, Vector.load(scoreRow + chunk)); chunk += 8 }
        let previousMaximum = scratch.rowMaximum[i]
        let newMaximum = max(previousMaximum, FastMath.horizontalMaximum(blockMaximum))
        let correction = FastMath.exp(previousMaximum - newMaximum)
        scratch.rowMaximum[i] = newMaximum
        let shift = SIMD8<Float>(repeating: newMaximum)
        var probabilitySum = SIMD8<Float>()
        chunk = 0
        while chunk < paddedKeys {
            let probabilities = FastMath.exp(Vector.load(scoreRow + chunk) - shift)
            Vector.store(probabilities, scoreRow + chunk)
            probabilitySum += probabilities
            chunk += 8
        }
        scratch.rowSum[i] = scratch.rowSum[i] * correction + probabilitySum.sum()
        if correction != 1 {
            let accumulator = scratch.accumulators + i * dimension
            let correctionVector = SIMD8<Float>(repeating: correction)
            var d = 0
            while d + 8 <= dimension { Vector.store(Vector.load(accumulator + d) * correctionVector, accumulator + d); d += 8 }
            while d < dimension { accumulator[d] *= correction; d += 1 }
        }
    }

    /// `accumulator[i] += Σⱼ p[i, j] · v[j]` for the tile: 2 queries × 32 dimensions per register block
    /// (8 accumulators held across all keys; per key 4 value loads and 2 broadcasts feed 8 multiply-adds).
    @inline(__always)
    private static func accumulateValues(
        _ values: UnsafePointer<Float>, _ stride: Int, _ keyCount: Int, _ queryCount: Int, _ dimension: Int, _ scratch: Scratch
    ) {
        var i0 = 0
        while i0 < queryCount {
            let pair = i0 + 1 < queryCount
            let p0 = UnsafePointer(scratch.scores + i0 * keyBlock)
            let p1 = UnsafePointer(scratch.scores + (pair ? i0 + 1 : i0) * keyBlock)
            let out0 = scratch.accumulators + i0 * dimension
            let out1 = scratch.accumulators + (pair ? i0 + 1 : i0) * dimension
            var d = 0
            while d + 32 <= dimension {
                var a0 = Vector.load(out0 + d), a1 = Vector.load(out0 + d + 8)
                var a2 = Vector.load(out0 + d + 16), a3 = Vector.load(out0 + d + 24)
                var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
                if pair {
                    b0 = Vector.load(out1 + d); b1 = Vector.load(out1 + d + 8)
                    b2 = Vector.load(out1 + d + 16); b3 = Vector.load(out1 + d + 24)
                }
                var row = values + d
                for j in 0..<keyCount {
                    let v0 = Vector.load(row), v1 = Vector.load(row + 8), v2 = Vector.load(row + 16), v3 = Vector.load(row + 24)
                    let x0 = SIMD8<Float>(repeating: p0[j]), x1 = SIMD8<Float>(repeating: p1[j])
                    a0 = Arithmetic.multiplyAdd(x0, v0, a0); a1 = Arithmetic.multiplyAdd(x0, v1, a1); a2 = Arithmetic.multiplyAdd(x0, v2, a2); a3 = Arithmetic.multiplyAdd(x0, v3, a3)
                    b0 = Arithmetic.multiplyAdd(x1, v0, b0); b1 = Arithmetic.multiplyAdd(x1, v1, b1); b2 = Arithmetic.multiplyAdd(x1, v2, b2); b3 = Arithmetic.multiplyAdd(x1, v3, b3)
                    row += stride
                }
                Vector.store(a0, out0 + d); Vector.store(a1, out0 + d + 8); Vector.store(a2, out0 + d + 16); Vector.store(a3, out0 + d + 24)
                if pair { Vector.store(b0, out1 + d); Vector.store(b1, out1 + d + 8); Vector.store(b2, out1 + d + 16); Vector.store(b3, out1 + d + 24) }
                d += 32
            }
            // Remaining dimensions (head widths that are not a multiple of 32), one query at a time.
            if d < dimension {
                for (probabilities, accumulator) in pair ? [(p0, out0), (p1, out1)] : [(p0, out0)] {
                    for j in 0..<keyCount {
                        let probability = probabilities[j]
                        let row = values + j * stride
                        var e = d
                        let broadcast = SIMD8<Float>(repeating: probability)
                        while e + 8 <= dimension { Vector.store(Vector.load(accumulator + e) + broadcast * Vector.load(row + e), accumulator + e); e += 8 }
                        while e < dimension { accumulator[e] += probability * row[e]; e += 1 }
                    }
                }
            }
            i0 += 2
        }
    }
}

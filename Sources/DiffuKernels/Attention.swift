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
public enum Attention {
    /// Query rows per tile.
    public static let queryBlock = 32
    /// Key rows per tile (a multiple of 8).
    public static let keyBlock = 64

    /// `output[i, h] = Σⱼ softmax_j(scale · q[i,h]·k[j,g]) · v[j,g]` with `g` the key/value head of `h`.
    ///
    /// - Parameters:
    ///   - scale: score multiplier, normally `1/√headDimension` rounded to f32.
    ///   - threads: worker count.
    public static func compute(
        query: UnsafePointer<Float>,
        key: UnsafePointer<Float>,
        value: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>,
        geometry: AttentionGeometry,
        scale: Float,
        threads: Int
    ) {
        let g = geometry
        precondition(g.headCount > 0 && g.keyValueHeadCount > 0 && g.headCount % g.keyValueHeadCount == 0)
        precondition(g.headDimension > 0 && g.queryCount >= 0 && g.keyCount >= 0)
        if g.queryCount == 0 { return }
        let queryBlocks = (g.queryCount + queryBlock - 1) / queryBlock
        let tasks = g.headCount * queryBlocks
        let workers = max(1, min(threads, tasks))
        Parallel.forEach(workers) { worker in
            let scratch = Scratch(headDimension: g.headDimension)
            defer { scratch.deallocate() }
            // Interleaved assignment balances the causal triangle across workers.
            var task = worker
            while task < tasks {
                attendBlock(head: task / queryBlocks, queryStart: (task % queryBlocks) * queryBlock,
                            query, key, value, output, g, scale, scratch)
                task += workers
            }
        }
    }

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

        init(headDimension: Int) {
            keysTransposed = .allocate(capacity: headDimension * Attention.keyBlock)
            scores = .allocate(capacity: Attention.queryBlock * Attention.keyBlock)
            accumulators = .allocate(capacity: Attention.queryBlock * headDimension)
            rowMaximum = .allocate(capacity: Attention.queryBlock)
            rowSum = .allocate(capacity: Attention.queryBlock)
        }

        func deallocate() {
            keysTransposed.deallocate(); scores.deallocate(); accumulators.deallocate()
            rowMaximum.deallocate(); rowSum.deallocate()
        }
    }

    private static func attendBlock(
        head: Int, queryStart: Int,
        _ query: UnsafePointer<Float>, _ key: UnsafePointer<Float>, _ value: UnsafePointer<Float>,
        _ output: UnsafeMutablePointer<Float>, _ g: AttentionGeometry, _ scale: Float, _ scratch: Scratch
    ) {
        let dimension = g.headDimension
        let kvHead = head / (g.headCount / g.keyValueHeadCount)
        let queryCount = min(queryBlock, g.queryCount - queryStart)
        let keyLimit = g.causal ? max(0, min(g.keyCount, g.queryPositionOffset + queryStart + queryCount)) : g.keyCount
        scratch.accumulators.initialize(repeating: 0, count: queryCount * dimension)
        scratch.rowMaximum.initialize(repeating: -.infinity, count: queryCount)
        scratch.rowSum.initialize(repeating: 0, count: queryCount)
        let scaleVector = SIMD8<Float>(repeating: scale)
        let dimensionVectorEnd = dimension & ~7

        var keyStart = 0
        while keyStart < keyLimit {
            let keyCount = min(keyBlock, keyLimit - keyStart)
            let paddedKeys = (keyCount + 7) & ~7
            // Transpose the key tile (zero padding past keyCount).
            for j in 0..<paddedKeys {
                if j < keyCount {
                    let row = key + (keyStart + j) * g.keyRowStride + kvHead * dimension
                    for d in 0..<dimension { scratch.keysTransposed[d * keyBlock + j] = row[d] }
                } else {
                    for d in 0..<dimension { scratch.keysTransposed[d * keyBlock + j] = 0 }
                }
            }
            for i in 0..<queryCount {
                let queryRow = query + (queryStart + i) * g.queryRowStride + head * dimension
                let scoreRow = scratch.scores + i * keyBlock
                // Keys visible to this query in this tile: [0, visible).
                var visible = keyCount
                if g.causal { visible = max(0, min(keyCount, g.queryPositionOffset + queryStart + i + 1 - keyStart)) }
                if visible == 0 { continue }
                // Scores, 8 keys at a time, accumulated over the head dimension.
                var blockMaximum = SIMD8<Float>(repeating: -.infinity)
                var chunk = 0
                while chunk < paddedKeys {
                    var sum = SIMD8<Float>()
                    var column = scratch.keysTransposed + chunk
                    for d in 0..<dimension {
                        sum += SIMD8(repeating: queryRow[d]) * Vector.load(column)
                        column += keyBlock
                    }
                    var scores = sum * scaleVector
                    if chunk + 8 > visible {
                        for lane in 0..<8 where chunk + lane >= visible { scores[lane] = -.infinity }
                    }
                    Vector.store(scores, scoreRow + chunk)
                    blockMaximum = pointwiseMax(blockMaximum, scores)
                    chunk += 8
                }
                // Online softmax update.
                let previousMaximum = scratch.rowMaximum[i]
                let newMaximum = max(previousMaximum, blockMaximum.max())
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
                // accumulator = accumulator · correction + Σⱼ pⱼ · v[j].
                let accumulator = scratch.accumulators + i * dimension
                let correctionVector = SIMD8<Float>(repeating: correction)
                var d = 0
                while d < dimensionVectorEnd {
                    Vector.store(Vector.load(accumulator + d) * correctionVector, accumulator + d)
                    d += 8
                }
                while d < dimension { accumulator[d] *= correction; d += 1 }
                for j in 0..<visible {
                    let probability = scoreRow[j]
                    let valueRow = value + (keyStart + j) * g.valueRowStride + kvHead * dimension
                    let broadcast = SIMD8<Float>(repeating: probability)
                    d = 0
                    while d < dimensionVectorEnd {
                        Vector.store(Vector.load(accumulator + d) + broadcast * Vector.load(valueRow + d), accumulator + d)
                        d += 8
                    }
                    while d < dimension { accumulator[d] += probability * valueRow[d]; d += 1 }
                }
            }
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
}

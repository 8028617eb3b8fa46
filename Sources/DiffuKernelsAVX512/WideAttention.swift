#if arch(x86_64) && DIFFU_AVX512
import DiffuAVX512Intrinsics

/// One (head, query block) task of blocked scaled-dot-product attention with an online softmax, at 512
/// bits (AVX-512 F): the `avx512` variant of `DiffuKernels/Attention.swift`, which splits the work and
/// calls this for each task. Head widths must be a multiple of 16 (64 and 128 in every model here).
///
/// Layouts (row-major f32, one row per token, pointers already at this task's head):
/// - `query`: ``Task/queryCount`` rows, ``Task/queryStride`` floats apart; `value`: rows `0..<keyLimit`
///   of this task's key/value head, its own stride (the caller passes them packed into contiguous rows, `dimension`
///   apart: `DiffuKernels.Attention`); `output`: the task's query rows.
/// - Keys: the task's key/value head transposed once for all its tasks by
///   ``transposeKeys(_:stride:tile:keyCount:dimension:into:)``: tile `t` (keys `64t..<64t + 64`) at
///   `keysTransposed + t * dimension * 64`, element `d` of key `64t + j` at `[d * 64 + j]`, keys past
///   the last one zero.
/// - Scratch (``scratchByteCount(dimension:)`` bytes, 64-byte aligned, the worker's own): the score tile
///   (`scores[i * 64 + j]`), the unnormalized output rows (`accumulators[i * dimension + d]`), and each
///   row's running maximum and sum.
///
/// Register blocks: scores 4 queries × 64 keys (16 zmm accumulators; per input 4 key loads and 4
/// broadcasts feed 16 FMAs); values 4 queries × 64 dimensions (16 accumulators; per key 4 value loads
/// and 4 broadcasts feed 16 FMAs).
public enum WideAttention {
    /// Query rows per task.
    public static let queryBlock = 64
    /// Key rows per tile.
    public static let keyBlock = 64

    /// One task's pointers, sizes and masking.
    public struct Task {
        /// Query row 0 of the task, at this head.
        public var query: UnsafePointer<Float>
        /// Floats between query rows.
        public var queryStride: Int
        /// Query rows of the task (1...``WideAttention/queryBlock``).
        public var queryCount: Int
        /// The task's key/value head's keys, transposed (see ``WideAttention``).
        public var keysTransposed: UnsafePointer<Float>
        /// Value row 0, at the task's key/value head.
        public var value: UnsafePointer<Float>
        /// Floats between value rows.
        public var valueStride: Int
        /// Keys the task reads (`0..<keyLimit`).
        public var keyLimit: Int
        /// `nil` for bidirectional attention; otherwise query row `i` sees keys `j < causalVisibleBase + i`.
        public var causalVisibleBase: Int?
        /// Output row 0 of the task, at this head.
        public var output: UnsafeMutablePointer<Float>
        /// Floats between output rows.
        public var outputStride: Int
        /// Floats per head (a multiple of 16).
        public var dimension: Int
        /// Score multiplier.
        public var scale: Float

        /// Describes one task (see the properties).
        public init(
            query: UnsafePointer<Float>, queryStride: Int, queryCount: Int, keysTransposed: UnsafePointer<Float>,
            value: UnsafePointer<Float>, valueStride: Int, keyLimit: Int, causalVisibleBase: Int?,
            output: UnsafeMutablePointer<Float>, outputStride: Int, dimension: Int, scale: Float
        ) {
            self.query = query; self.queryStride = queryStride; self.queryCount = queryCount
            self.keysTransposed = keysTransposed; self.value = value; self.valueStride = valueStride
            self.keyLimit = keyLimit; self.causalVisibleBase = causalVisibleBase
            self.output = output; self.outputStride = outputStride; self.dimension = dimension; self.scale = scale
        }
    }

    /// Whether this kernel takes heads of `dimension` floats.
    public static func handles(dimension: Int) -> Bool { dimension > 0 && dimension % 16 == 0 }

    /// Scratch bytes one worker needs for heads of `dimension` floats.
    public static func scratchByteCount(dimension: Int) -> Int {
        (queryBlock * keyBlock + queryBlock * dimension + 2 * queryBlock) * 4
    }

    /// Floats of one key/value head's transposed keys: `keyCount` rounded up to whole tiles × `dimension`.
    public static func transposedFloatCount(keyCount: Int, dimension: Int) -> Int {
        (keyCount + keyBlock - 1) / keyBlock * keyBlock * dimension
    }

    /// Writes tile `tile` of one key/value head's transposed keys (layout: see ``WideAttention``):
    /// `keys` is that head's key row 0, `stride` floats between rows, `keyCount` keys in all;
    /// `transposed` the head's ``transposedFloatCount(keyCount:dimension:)`` floats.
    public static func transposeKeys(
        _ keys: UnsafePointer<Float>, stride: Int, tile: Int, keyCount: Int, dimension: Int, into transposed: UnsafeMutablePointer<Float>
    ) {
        let first = tile &* keyBlock
        let count = min(keyBlock, keyCount &- first)
        let out = transposed + first &* dimension
        if count < keyBlock {
            for d in 0..<dimension { (out + d &* keyBlock + count).initialize(repeating: 0, count: keyBlock &- count) }
        }
        // Key-major: each key row read contiguously, its floats stored 256 bytes apart into the tile (32 KiB at
        // d = 128, L1-resident). Reading dimension-major instead (64 strided loads per store run) thrashes L1 when
        // the row stride is a multiple of 4 KiB (16 KiB at 32 heads × 128): the 64 rows then share one cache set.
        for j in 0..<count {
            let key = keys + (first &+ j) &* stride
            let column = out + j
            for d in 0..<dimension { column[d &* keyBlock] = key[d] }
        }
    }

    /// Runs one task: `output[i] = Σⱼ softmax_j(scale · q[i]·k[j]) · v[j]` over the visible keys.
    public static func attend(_ task: Task, scratch: UnsafeMutableRawPointer) {
        precondition(handles(dimension: task.dimension) && (1...queryBlock).contains(task.queryCount))
        let dimension = task.dimension, queryCount = task.queryCount
        let s = Scratch(scratch, dimension: dimension)
        let tileFloats = keyBlock * dimension
        s.accumulators.initialize(repeating: 0, count: queryCount * dimension)
        s.rowMaximum.initialize(repeating: -.infinity, count: queryCount)
        s.rowSum.initialize(repeating: 0, count: queryCount)
        var keyStart = 0
        while keyStart < task.keyLimit {
            let keyCount = min(keyBlock, task.keyLimit - keyStart)
            computeScores(task, task.keysTransposed + keyStart / keyBlock * tileFloats, s)
            for i in 0..<queryCount {
                var visible = keyCount
                if let base = task.causalVisibleBase { visible = max(0, min(keyCount, base + i - keyStart)) }
                updateRow(s, row: i, visible: visible, dimension: dimension)
            }
            accumulateValues(task.value + keyStart * task.valueStride, task.valueStride, keyCount, queryCount, dimension, s)
            keyStart += keyBlock
        }
        for i in 0..<queryCount {
            let sum = s.rowSum[i]
            let inverse = SIMD16<Float>(repeating: sum > 0 ? 1 / sum : 0)
            let accumulator = UnsafeRawPointer(s.accumulators + i * dimension)
            let row = UnsafeMutableRawPointer(task.output + i * task.outputStride)
            for d in stride(from: 0, to: dimension, by: 16) {
                row.storeBytes(of: accumulator.load(fromByteOffset: 4 * d, as: SIMD16<Float>.self) * inverse,
                               toByteOffset: 4 * d, as: SIMD16<Float>.self)
            }
        }
    }

    /// The worker's scratch, carved out of one buffer (every part a multiple of 64 bytes).
    private struct Scratch {
        let scores: UnsafeMutablePointer<Float>
        let accumulators: UnsafeMutablePointer<Float>
        let rowMaximum: UnsafeMutablePointer<Float>
        let rowSum: UnsafeMutablePointer<Float>

        init(_ raw: UnsafeMutableRawPointer, dimension: Int) {
            let floats = raw.bindMemory(to: Float.self, capacity: WideAttention.scratchByteCount(dimension: dimension) / 4)
            scores = floats
            accumulators = scores + WideAttention.queryBlock * WideAttention.keyBlock
            rowMaximum = accumulators + WideAttention.queryBlock * dimension
            rowSum = rowMaximum + WideAttention.queryBlock
        }
    }

    /// `scores[i, j] = scale · q[i] · k[j]` for all 64 key columns (zero keys past the tile give 0).
    @inline(__always)
    private static func computeScores(_ task: Task, _ keysTransposed: UnsafePointer<Float>, _ s: Scratch) {
        let scale = SIMD16<Float>(repeating: task.scale)
        let count = task.queryCount
        var i0 = 0
        while i0 < count {
            // Rows past the end repeat the last row; their results are not stored.
            let q0 = task.query + i0 * task.queryStride
            let q1 = task.query + min(i0 + 1, count - 1) * task.queryStride
            let q2 = task.query + min(i0 + 2, count - 1) * task.queryStride
            let q3 = task.query + min(i0 + 3, count - 1) * task.queryStride
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
            var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
            var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
            var e0 = SIMD16<Float>(), e1 = SIMD16<Float>(), e2 = SIMD16<Float>(), e3 = SIMD16<Float>()
            var column = UnsafeRawPointer(keysTransposed)
            for d in 0..<task.dimension {
                let k0 = column.load(as: SIMD16<Float>.self), k1 = column.load(fromByteOffset: 64, as: SIMD16<Float>.self)
                let k2 = column.load(fromByteOffset: 128, as: SIMD16<Float>.self), k3 = column.load(fromByteOffset: 192, as: SIMD16<Float>.self)
                var x = SIMD16<Float>(repeating: q0[d])
                a0.addProduct(x, k0); a1.addProduct(x, k1); a2.addProduct(x, k2); a3.addProduct(x, k3)
                x = SIMD16(repeating: q1[d])
                b0.addProduct(x, k0); b1.addProduct(x, k1); b2.addProduct(x, k2); b3.addProduct(x, k3)
                x = SIMD16(repeating: q2[d])
                c0.addProduct(x, k0); c1.addProduct(x, k1); c2.addProduct(x, k2); c3.addProduct(x, k3)
                x = SIMD16(repeating: q3[d])
                e0.addProduct(x, k0); e1.addProduct(x, k1); e2.addProduct(x, k2); e3.addProduct(x, k3)
                column += 4 * keyBlock
            }
            storeScores(a0, a1, a2, a3, scale, s.scores + i0 * keyBlock)
            if i0 + 1 < count { storeScores(b0, b1, b2, b3, scale, s.scores + (i0 + 1) * keyBlock) }
            if i0 + 2 < count { storeScores(c0, c1, c2, c3, scale, s.scores + (i0 + 2) * keyBlock) }
            if i0 + 3 < count { storeScores(e0, e1, e2, e3, scale, s.scores + (i0 + 3) * keyBlock) }
            i0 += 4
        }
    }

    @inline(__always)
    private static func storeScores(
        _ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>, _ v3: SIMD16<Float>, _ scale: SIMD16<Float>,
        _ row: UnsafeMutablePointer<Float>
    ) {
        let raw = UnsafeMutableRawPointer(row)
        raw.storeBytes(of: v0 * scale, as: SIMD16<Float>.self)
        raw.storeBytes(of: v1 * scale, toByteOffset: 64, as: SIMD16<Float>.self)
        raw.storeBytes(of: v2 * scale, toByteOffset: 128, as: SIMD16<Float>.self)
        raw.storeBytes(of: v3 * scale, toByteOffset: 192, as: SIMD16<Float>.self)
    }

    /// Online-softmax update of one row: masks keys `≥ visible`, turns the scores into `exp(s − m)` with
    /// the new running maximum `m`, rescales the row's sum and accumulator by `exp(m_old − m)`.
    @inline(__always)
    private static func updateRow(_ s: Scratch, row i: Int, visible: Int, dimension: Int) {
        let scoreRow = s.scores + i * keyBlock
        if visible == 0 {
            scoreRow.initialize(repeating: 0, count: keyBlock)
            return
        }
        for j in visible..<keyBlock { scoreRow[j] = -.infinity }
        let raw = UnsafeMutableRawPointer(scoreRow)
        let v0 = raw.load(as: SIMD16<Float>.self), v1 = raw.load(fromByteOffset: 64, as: SIMD16<Float>.self)
        let v2 = raw.load(fromByteOffset: 128, as: SIMD16<Float>.self), v3 = raw.load(fromByteOffset: 192, as: SIMD16<Float>.self)
        let tileMaximum = WideMath.horizontalMaximum(WideMath.maximum(WideMath.maximum(v0, v1), WideMath.maximum(v2, v3)))
        let previousMaximum = s.rowMaximum[i]
        let newMaximum = max(previousMaximum, tileMaximum)
        let correction = WideMath.exp(SIMD16(repeating: previousMaximum - newMaximum))[0]
        s.rowMaximum[i] = newMaximum
        let shift = SIMD16<Float>(repeating: newMaximum)
        let p0 = WideMath.exp(v0 - shift), p1 = WideMath.exp(v1 - shift)
        let p2 = WideMath.exp(v2 - shift), p3 = WideMath.exp(v3 - shift)
        raw.storeBytes(of: p0, as: SIMD16<Float>.self)
        raw.storeBytes(of: p1, toByteOffset: 64, as: SIMD16<Float>.self)
        raw.storeBytes(of: p2, toByteOffset: 128, as: SIMD16<Float>.self)
        raw.storeBytes(of: p3, toByteOffset: 192, as: SIMD16<Float>.self)
        let total = (p0 + p1) + (p2 + p3)
        s.rowSum[i] = s.rowSum[i] * correction + (total.lowHalf + total.highHalf).sum()
        if correction != 1 {
            let accumulator = UnsafeMutableRawPointer(s.accumulators + i * dimension)
            let factor = SIMD16<Float>(repeating: correction)
            for d in stride(from: 0, to: dimension, by: 16) {
                accumulator.storeBytes(of: accumulator.load(fromByteOffset: 4 * d, as: SIMD16<Float>.self) * factor,
                                       toByteOffset: 4 * d, as: SIMD16<Float>.self)
            }
        }
    }

    /// `accumulator[i] += Σⱼ p[i, j] · v[j]` for the tile's `keyCount` keys, in column blocks of 64
    /// dimensions (then one of the 16, 32 or 48 left).
    @inline(__always)
    private static func accumulateValues(
        _ values: UnsafePointer<Float>, _ stride: Int, _ keyCount: Int, _ queryCount: Int, _ dimension: Int, _ s: Scratch
    ) {
        var i0 = 0
        while i0 < queryCount {
            let rows = min(4, queryCount - i0)
            var d = 0
            while d < dimension {
                let vectors = min(4, (dimension - d) / 16)
                let block = ValueBlock(values: values + d, stride: stride, keyCount: keyCount,
                                       probabilities: UnsafePointer(s.scores + i0 * keyBlock),
                                       accumulators: s.accumulators + i0 * dimension + d, dimension: dimension, rows: rows)
                switch vectors {
                case 4: block.run(Rows4.self)
                case 3: block.run(Rows3.self)
                case 2: block.run(Rows2.self)
                default: block.run(Rows1.self)
                }
                d += 16 * vectors
            }
            i0 += 4
        }
    }

    /// 4 query rows × `Vectors.value` · 16 dimensions of the value accumulation.
    private struct ValueBlock {
        let values: UnsafePointer<Float>
        let stride: Int
        let keyCount: Int
        /// Row `i` of the probabilities at `probabilities + i * 64`.
        let probabilities: UnsafePointer<Float>
        /// Row `i` of the accumulators at `accumulators + i * dimension`.
        let accumulators: UnsafeMutablePointer<Float>
        let dimension: Int
        /// Valid rows (1...4); the others repeat row 0 and are not stored.
        let rows: Int

        /// One specialization per vector count (a constant in each).
        @inline(never)
        func run<Vectors: RowCount>(_ vectors: Vectors.Type) {
            let n = Vectors.value
            let r1 = rows > 1 ? 1 : 0, r2 = rows > 2 ? 2 : 0, r3 = rows > 3 ? 3 : 0
            let p0 = probabilities, p1 = probabilities + r1 * 64, p2 = probabilities + r2 * 64, p3 = probabilities + r3 * 64
            let o0 = UnsafeMutableRawPointer(accumulators), o1 = UnsafeMutableRawPointer(accumulators + r1 * dimension)
            let o2 = UnsafeMutableRawPointer(accumulators + r2 * dimension), o3 = UnsafeMutableRawPointer(accumulators + r3 * dimension)
            var a0 = o0.load(as: SIMD16<Float>.self), a1 = n > 1 ? o0.load(fromByteOffset: 64, as: SIMD16<Float>.self) : .zero
            var a2 = n > 2 ? o0.load(fromByteOffset: 128, as: SIMD16<Float>.self) : .zero, a3 = n > 3 ? o0.load(fromByteOffset: 192, as: SIMD16<Float>.self) : .zero
            var b0 = o1.load(as: SIMD16<Float>.self), b1 = n > 1 ? o1.load(fromByteOffset: 64, as: SIMD16<Float>.self) : .zero
            var b2 = n > 2 ? o1.load(fromByteOffset: 128, as: SIMD16<Float>.self) : .zero, b3 = n > 3 ? o1.load(fromByteOffset: 192, as: SIMD16<Float>.self) : .zero
            var c0 = o2.load(as: SIMD16<Float>.self), c1 = n > 1 ? o2.load(fromByteOffset: 64, as: SIMD16<Float>.self) : .zero
            var c2 = n > 2 ? o2.load(fromByteOffset: 128, as: SIMD16<Float>.self) : .zero, c3 = n > 3 ? o2.load(fromByteOffset: 192, as: SIMD16<Float>.self) : .zero
            var e0 = o3.load(as: SIMD16<Float>.self), e1 = n > 1 ? o3.load(fromByteOffset: 64, as: SIMD16<Float>.self) : .zero
            var e2 = n > 2 ? o3.load(fromByteOffset: 128, as: SIMD16<Float>.self) : .zero, e3 = n > 3 ? o3.load(fromByteOffset: 192, as: SIMD16<Float>.self) : .zero
            var row = UnsafeRawPointer(values)
            let rowBytes = 4 * stride
            for j in 0..<keyCount {
                let v0 = row.loadUnaligned(as: SIMD16<Float>.self)
                let v1 = n > 1 ? row.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : .zero
                let v2 = n > 2 ? row.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self) : .zero
                let v3 = n > 3 ? row.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self) : .zero
                var x = SIMD16<Float>(repeating: p0[j])
                a0.addProduct(x, v0); if n > 1 { a1.addProduct(x, v1) }; if n > 2 { a2.addProduct(x, v2) }; if n > 3 { a3.addProduct(x, v3) }
                x = SIMD16(repeating: p1[j])
                b0.addProduct(x, v0); if n > 1 { b1.addProduct(x, v1) }; if n > 2 { b2.addProduct(x, v2) }; if n > 3 { b3.addProduct(x, v3) }
                x = SIMD16(repeating: p2[j])
                c0.addProduct(x, v0); if n > 1 { c1.addProduct(x, v1) }; if n > 2 { c2.addProduct(x, v2) }; if n > 3 { c3.addProduct(x, v3) }
                x = SIMD16(repeating: p3[j])
                e0.addProduct(x, v0); if n > 1 { e1.addProduct(x, v1) }; if n > 2 { e2.addProduct(x, v2) }; if n > 3 { e3.addProduct(x, v3) }
                row += rowBytes
            }
            // Only the valid rows are stored (the repeated ones alias row 0).
            if rows > 3 { store(e0, e1, e2, e3, n, o3) }
            if rows > 2 { store(c0, c1, c2, c3, n, o2) }
            if rows > 1 { store(b0, b1, b2, b3, n, o1) }
            store(a0, a1, a2, a3, n, o0)
        }

        @inline(__always)
        private func store(
            _ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>, _ v3: SIMD16<Float>, _ n: Int, _ out: UnsafeMutableRawPointer
        ) {
            out.storeBytes(of: v0, as: SIMD16<Float>.self)
            if n > 1 { out.storeBytes(of: v1, toByteOffset: 64, as: SIMD16<Float>.self) }
            if n > 2 { out.storeBytes(of: v2, toByteOffset: 128, as: SIMD16<Float>.self) }
            if n > 3 { out.storeBytes(of: v3, toByteOffset: 192, as: SIMD16<Float>.self) }
        }
    }
}

/// The elementary functions of the wide kernels on `SIMD16<Float>`: the same methods and accuracy as
/// `DiffuKernels.FastMath` (which works on 8 lanes), at 16 lanes.
enum WideMath {
    /// `eˣ` per lane, relative error ≲ 2e-7 on [-87.3, 88], exactly 0 below -87.3 (and for `-∞`).
    /// Method (as `FastMath.exp`): `x = n·ln2 + r` (Cody–Waite), degree-7 Taylor polynomial of `eʳ`,
    /// `2ⁿ` from exponent bits — here every multiply-add fused (this variant has FMA), which halves the
    /// instructions of the polynomial and rounds once per step.
    @inline(__always)
    static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let lowest = SIMD16<Float>(repeating: -87.33654)
        let clamped = minimum(maximum(x, lowest), SIMD16(repeating: 88))
        let magic = SIMD16<Float>(repeating: 12_582_912)
        let shifted = magic.addingProduct(clamped, SIMD16(repeating: 1.442_695_04))
        let n = shifted - magic
        let r = clamped.addingProduct(n, SIMD16(repeating: -0.693_359_375)).addingProduct(n, SIMD16(repeating: 2.121_944_4e-4))
        var p = SIMD16<Float>(repeating: 1.0 / 720).addingProduct(SIMD16(repeating: 1.0 / 5040), r)
        p = SIMD16<Float>(repeating: 1.0 / 120).addingProduct(p, r)
        p = SIMD16<Float>(repeating: 1.0 / 24).addingProduct(p, r)
        p = SIMD16<Float>(repeating: 1.0 / 6).addingProduct(p, r)
        p = SIMD16<Float>(repeating: 0.5).addingProduct(p, r)
        p = SIMD16<Float>(repeating: 1).addingProduct(p, r)
        p = SIMD16<Float>(repeating: 1).addingProduct(p, r)
        let integer = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        let scale = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD16<Float>.self)
        return AVX512Intrinsics.replacing(p * scale, with: .zero, whereLessThan: lowest, compared: x)
    }

    /// Lane-wise maximum; a NaN lane of `a` is kept.
    @inline(__always)
    static func maximum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { AVX512Intrinsics.maximum(a, b) }

    /// Lane-wise minimum; a NaN lane of `a` is kept.
    @inline(__always)
    static func minimum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { AVX512Intrinsics.minimum(a, b) }

    /// The largest lane.
    @inline(__always)
    static func horizontalMaximum(_ x: SIMD16<Float>) -> Float {
        let eight = x.lowHalf.replacing(with: x.highHalf, where: x.lowHalf .< x.highHalf)
        let four = eight.lowHalf.replacing(with: eight.highHalf, where: eight.lowHalf .< eight.highHalf)
        return Swift.max(Swift.max(four[0], four[1]), Swift.max(four[2], four[3]))
    }
}
#endif

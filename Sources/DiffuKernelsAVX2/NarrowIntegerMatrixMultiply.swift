import DiffuStorage
#if arch(x86_64) && DIFFU_AVX2_KERNELS
import DiffuAVX2Intrinsics

/// `y = x · Wᵀ (+ bias)` for q8/q4 weights in integer arithmetic at 256 bits (AVX2, no VNNI): one
/// worker's share.
///
/// Layouts expected:
/// - activations already quantized by ``NarrowActivationQuantizer`` (block-major, Int16 values for q8
///   weights, Int8 for q4);
/// - `W`: `panel16` q8 or q4 (`DiffuStorage/PanelGeometry.swift`), read from the mapping; each panel's
///   blocks over all of K are rewritten once per call into an L2-resident tile
///   (``NarrowIntegerTileDecoder``: 576 bytes per q4 block, 1088 per q8 block) that every row group reuses;
/// - `y`: f32 row-major `[L × N]`, `bias` N values.
///
/// Micro-kernels: 4 rows × 16 outputs (two 8-lane halves), then single rows for the tail. Per block and
/// row:
/// - q4: 16 `vpmaddubsw` (weights `q + 8` unsigned × activations signed, 4 inputs broadcast from memory)
///   summed in 16-bit lanes over the whole block — each pair is at most 2 · 15 · 127 and eight of them
///   at most 30480, so nothing saturates or wraps — then 2 `vpmaddwd` by 1 into int32 from the row's
///   start value `-8 · Σ q_x`;
/// - q8: 32 `vpmaddwd` (Int16 weight pairs × Int16 activation pairs broadcast from memory) into int32;
/// then one `vcvtdq2ps` and one FMA with `d_w[c] · d_x` per half.
public enum NarrowIntegerMatrixMultiply {
    /// Rows per full micro-kernel pass.
    public static let groupRows = 4

    /// Bytes of the tile scratch ``multiply(activations:rows:panels:weights:bias:into:tile:)`` needs for
    /// `weights` (one decoded panel over all of K).
    public static func tileByteCount(_ weights: WeightMatrix) -> Int {
        weights.geometry.blockCount * NarrowIntegerTileDecoder.blockByteCount(weights.storage)
    }

    /// Computes rows `rows` of `y` for the outputs of panels `panels`.
    ///
    /// - Parameters:
    ///   - activations: the whole quantized activation matrix (its `elementWidth` must be
    ///     ``NarrowActivationQuantizer/elementWidth(for:)`` of the weights' storage).
    ///   - weights: a q8 or q4 matrix.
    ///   - tile: ``tileByteCount(_:)`` bytes of 32-byte-aligned scratch, this worker's own.
    public static func multiply(
        activations: NarrowActivationQuantizer.Output,
        rows: Range<Int>,
        panels: Range<Int>,
        weights: WeightMatrix,
        bias: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>,
        tile: UnsafeMutableRawPointer
    ) {
        if rows.isEmpty || panels.isEmpty { return }
        let geometry = weights.geometry
        let width = PanelGeometry.panelWidth
        let storage = weights.storage
        precondition(activations.elementWidth == NarrowActivationQuantizer.elementWidth(for: storage))
        for panel in panels {
            NarrowIntegerTileDecoder.decode(storage, source: weights.base + geometry.blockOffset(panel: panel, block: 0),
                                            blockCount: geometry.blockCount, into: tile)
            let outputStart = panel * width
            let problem = NarrowIntegerMicroKernel.Problem(
                rowStride: activations.rowCount, slotByteCount: activations.slotByteCount, blockCount: geometry.blockCount,
                tile: UnsafeRawPointer(tile), outputStride: geometry.rows, lanes: min(width, geometry.rows - outputStart),
                bias: bias.map { $0 + outputStart })
            var row = rows.lowerBound
            while row < rows.upperBound {
                let count = rows.upperBound - row >= groupRows ? groupRows : 1
                let x = UnsafeRawPointer(activations.values + row * activations.slotByteCount)
                let output = y + row * geometry.rows + outputStart
                let scales = activations.scales + row, starts = activations.starts + row
                switch (storage, count) {
                case (.q8, groupRows): NarrowIntegerMicroKernel.fourRowsQ8(problem, x, scales, output)
                case (.q8, _): NarrowIntegerMicroKernel.oneRowQ8(problem, x, scales, output)
                case (_, groupRows): NarrowIntegerMicroKernel.fourRowsQ4(problem, x, scales, starts, output)
                default: NarrowIntegerMicroKernel.oneRowQ4(problem, x, scales, starts, output)
                }
                row += count
            }
        }
    }
}

/// The AVX2 integer micro-kernels: a group of quantized activation rows × one 16-output panel tile, over
/// all blocks of K. Layouts: see ``NarrowIntegerMatrixMultiply`` and ``NarrowIntegerTileDecoder``.
enum NarrowIntegerMicroKernel {
    /// What every group of one panel shares.
    struct Problem {
        /// Rows per block in the quantized activations (slots between one block and the next).
        let rowStride: Int
        /// Bytes of one row's block of quantized activations.
        let slotByteCount: Int
        let blockCount: Int
        let tile: UnsafeRawPointer
        let outputStride: Int
        /// Valid outputs of the panel (16 except in the last one).
        let lanes: Int
        let bias: UnsafePointer<Float>?
    }

    /// The f32 sums of one row: outputs 0..<8 and 8..<16.
    struct RowSums {
        var low = SIMD8<Float>(), high = SIMD8<Float>()
    }

    @inline(never)
    static func fourRowsQ4(_ p: Problem, _ x: UnsafeRawPointer, _ scales: UnsafePointer<Float>, _ starts: UnsafePointer<Int32>,
                           _ output: UnsafeMutablePointer<Float>) {
        q4(4, p, x, scales, starts, output)
    }

    @inline(never)
    static func oneRowQ4(_ p: Problem, _ x: UnsafeRawPointer, _ scales: UnsafePointer<Float>, _ starts: UnsafePointer<Int32>,
                         _ output: UnsafeMutablePointer<Float>) {
        q4(1, p, x, scales, starts, output)
    }

    @inline(never)
    static func fourRowsQ8(_ p: Problem, _ x: UnsafeRawPointer, _ scales: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
        q8(4, p, x, scales, output)
    }

    @inline(never)
    static func oneRowQ8(_ p: Problem, _ x: UnsafeRawPointer, _ scales: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
        q8(1, p, x, scales, output)
    }

    /// 4 activation bytes (or 2 Int16) at `x + offset`, broadcast to all 8 lanes.
    @inline(__always)
    private static func broadcast(_ x: UnsafeRawPointer, _ offset: Int) -> SIMD8<Int32> {
        SIMD8(repeating: x.loadUnaligned(fromByteOffset: offset, as: Int32.self))
    }

    /// The q4 body: `rows` (1 or 4) is a constant after inlining. Row `r` of block `b` is at
    /// `x + (b · rowStride + r) · 32`.
    @inline(__always)
    private static func q4(
        _ rows: Int, _ p: Problem, _ x: UnsafeRawPointer, _ scales: UnsafePointer<Float>, _ starts: UnsafePointer<Int32>,
        _ output: UnsafeMutablePointer<Float>
    ) {
        var sums = (RowSums(), RowSums(), RowSums(), RowSums())
        let ones = SIMD16<Int16>(repeating: 1)
        var xBlock = x, sBlock = scales, tBlock = starts, wBlock = p.tile
        let xStep = p.rowStride &* p.slotByteCount, tileStep = NarrowIntegerTileDecoder.blockByteCount(.q4)
        for _ in 0..<p.blockCount {
            var l0 = SIMD16<Int16>(), h0 = SIMD16<Int16>(), l1 = SIMD16<Int16>(), h1 = SIMD16<Int16>()
            var l2 = SIMD16<Int16>(), h2 = SIMD16<Int16>(), l3 = SIMD16<Int16>(), h3 = SIMD16<Int16>()
            for group in 0..<8 {
                let low = wBlock.load(fromByteOffset: 64 * group, as: SIMD8<Int32>.self)
                let high = wBlock.load(fromByteOffset: 64 * group + 32, as: SIMD8<Int32>.self)
                let x0 = broadcast(xBlock, 4 * group)
                l0 = AVX2Intrinsics.add(l0, AVX2Intrinsics.multiplyAddPairs(unsignedBytes: low, signedBytes: x0))
                h0 = AVX2Intrinsics.add(h0, AVX2Intrinsics.multiplyAddPairs(unsignedBytes: high, signedBytes: x0))
                if rows > 1 {
                    let x1 = broadcast(xBlock, 32 + 4 * group), x2 = broadcast(xBlock, 64 + 4 * group)
                    let x3 = broadcast(xBlock, 96 + 4 * group)
                    l1 = AVX2Intrinsics.add(l1, AVX2Intrinsics.multiplyAddPairs(unsignedBytes: low, signedBytes: x1))
                    h1 = AVX2Intrinsics.add(h1, AVX2Intrinsics.multiplyAddPairs(unsignedBytes: high, signedBytes: x1))
                    l2 = AVX2Intrinsics.add(l2, AVX2Intrinsics.multiplyAddPairs(unsignedBytes: low, signedBytes: x2))
                    h2 = AVX2Intrinsics.add(h2, AVX2Intrinsics.multiplyAddPairs(unsignedBytes: high, signedBytes: x2))
                    l3 = AVX2Intrinsics.add(l3, AVX2Intrinsics.multiplyAddPairs(unsignedBytes: low, signedBytes: x3))
                    h3 = AVX2Intrinsics.add(h3, AVX2Intrinsics.multiplyAddPairs(unsignedBytes: high, signedBytes: x3))
                }
            }
            let wLow = wBlock.load(fromByteOffset: 512, as: SIMD8<Float>.self)
            let wHigh = wBlock.load(fromByteOffset: 544, as: SIMD8<Float>.self)
            func finish(_ sums: inout RowSums, _ low: SIMD16<Int16>, _ high: SIMD16<Int16>, _ r: Int) {
                let start = SIMD8<Int32>(repeating: tBlock[r]), d = SIMD8<Float>(repeating: sBlock[r])
                let lowSums = AVX2Intrinsics.multiplyAddPairs(low, ones) &+ start
                let highSums = AVX2Intrinsics.multiplyAddPairs(high, ones) &+ start
                sums.low = sums.low.addingProduct(AVX2Intrinsics.convertToFloat(lowSums), wLow * d)
                sums.high = sums.high.addingProduct(AVX2Intrinsics.convertToFloat(highSums), wHigh * d)
            }
            finish(&sums.0, l0, h0, 0)
            if rows > 1 {
                finish(&sums.1, l1, h1, 1); finish(&sums.2, l2, h2, 2); finish(&sums.3, l3, h3, 3)
            }
            xBlock += xStep
            sBlock += p.rowStride
            tBlock += p.rowStride
            wBlock += tileStep
        }
        storeRows(rows, sums, p, output)
    }

    /// The q8 body: `rows` (1 or 4) is a constant after inlining. Row `r` of block `b` is at
    /// `x + (b · rowStride + r) · 64` (Int16 values).
    @inline(__always)
    private static func q8(
        _ rows: Int, _ p: Problem, _ x: UnsafeRawPointer, _ scales: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>
    ) {
        var sums = (RowSums(), RowSums(), RowSums(), RowSums())
        var xBlock = x, sBlock = scales, wBlock = p.tile
        let xStep = p.rowStride &* p.slotByteCount, tileStep = NarrowIntegerTileDecoder.blockByteCount(.q8)
        for _ in 0..<p.blockCount {
            var l0 = SIMD8<Int32>(), h0 = SIMD8<Int32>(), l1 = SIMD8<Int32>(), h1 = SIMD8<Int32>()
            var l2 = SIMD8<Int32>(), h2 = SIMD8<Int32>(), l3 = SIMD8<Int32>(), h3 = SIMD8<Int32>()
            for pair in 0..<16 {
                let low = wBlock.load(fromByteOffset: 64 * pair, as: SIMD16<Int16>.self)
                let high = wBlock.load(fromByteOffset: 64 * pair + 32, as: SIMD16<Int16>.self)
                let x0 = unsafeBitCast(broadcast(xBlock, 4 * pair), to: SIMD16<Int16>.self)
                l0 &+= AVX2Intrinsics.multiplyAddPairs(low, x0)
                h0 &+= AVX2Intrinsics.multiplyAddPairs(high, x0)
                if rows > 1 {
                    let x1 = unsafeBitCast(broadcast(xBlock, 64 + 4 * pair), to: SIMD16<Int16>.self)
                    let x2 = unsafeBitCast(broadcast(xBlock, 128 + 4 * pair), to: SIMD16<Int16>.self)
                    let x3 = unsafeBitCast(broadcast(xBlock, 192 + 4 * pair), to: SIMD16<Int16>.self)
                    l1 &+= AVX2Intrinsics.multiplyAddPairs(low, x1)
                    h1 &+= AVX2Intrinsics.multiplyAddPairs(high, x1)
                    l2 &+= AVX2Intrinsics.multiplyAddPairs(low, x2)
                    h2 &+= AVX2Intrinsics.multiplyAddPairs(high, x2)
                    l3 &+= AVX2Intrinsics.multiplyAddPairs(low, x3)
                    h3 &+= AVX2Intrinsics.multiplyAddPairs(high, x3)
                }
            }
            let wLow = wBlock.load(fromByteOffset: 1024, as: SIMD8<Float>.self)
            let wHigh = wBlock.load(fromByteOffset: 1056, as: SIMD8<Float>.self)
            func finish(_ sums: inout RowSums, _ low: SIMD8<Int32>, _ high: SIMD8<Int32>, _ r: Int) {
                let d = SIMD8<Float>(repeating: sBlock[r])
                sums.low = sums.low.addingProduct(AVX2Intrinsics.convertToFloat(low), wLow * d)
                sums.high = sums.high.addingProduct(AVX2Intrinsics.convertToFloat(high), wHigh * d)
            }
            finish(&sums.0, l0, h0, 0)
            if rows > 1 {
                finish(&sums.1, l1, h1, 1); finish(&sums.2, l2, h2, 2); finish(&sums.3, l3, h3, 3)
            }
            xBlock += xStep
            sBlock += p.rowStride
            wBlock += tileStep
        }
        storeRows(rows, sums, p, output)
    }

    /// Writes the first `rows` rows of sums (plus the bias) to consecutive output rows.
    @inline(__always)
    private static func storeRows(
        _ rows: Int, _ sums: (RowSums, RowSums, RowSums, RowSums), _ p: Problem, _ output: UnsafeMutablePointer<Float>
    ) {
        store(sums.0, output, p)
        if rows > 1 {
            store(sums.1, output + p.outputStride, p)
            store(sums.2, output + 2 &* p.outputStride, p)
            store(sums.3, output + 3 &* p.outputStride, p)
        }
    }

    /// Writes one row of 16 sums (`lanes` of them valid) plus the bias.
    @inline(__always)
    private static func store(_ sums: RowSums, _ row: UnsafeMutablePointer<Float>, _ p: Problem) {
        if p.lanes == 16 {
            var low = sums.low, high = sums.high
            if let bias = p.bias {
                low += UnsafeRawPointer(bias).loadUnaligned(as: SIMD8<Float>.self)
                high += UnsafeRawPointer(bias).loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            }
            UnsafeMutableRawPointer(row).storeBytes(of: low, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(row).storeBytes(of: high, toByteOffset: 32, as: SIMD8<Float>.self)
        } else {
            for c in 0..<p.lanes { row[c] = (c < 8 ? sums.low[c] : sums.high[c - 8]) + (p.bias?[c] ?? 0) }
        }
    }
}
#endif

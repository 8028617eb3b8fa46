import DiffuStorage
#if arch(x86_64) && DIFFU_AVX512
import DiffuAVX512Intrinsics

/// `y = x · Wᵀ (+ bias)` for q8/q4 weights in integer arithmetic (AVX-512 VNNI): one worker's share.
///
/// Layouts expected:
/// - activations already quantized by ``ActivationQuantizer`` (block-major signed bytes, f32 scales and
///   int32 start values, `rowStride` = ``paddedRowCount(_:)`` rows per block, padding rows cleared);
/// - `W`: `panel16` q8 or q4 (`DiffuStorage/PanelGeometry.swift`), read from the mapping; each panel's
///   blocks over all of K are rewritten once per call into an L2-resident tile (``IntegerTileDecoder``,
///   640 bytes per block: 220 KB at K = 11008) that every row group then reuses;
/// - `y`: f32 row-major `[L × N]`, `bias` N values.
///
/// Micro-kernel: 8 rows × 16 outputs (4 for the last rows). Per block it loads the 8 weight groups
/// once (8 zmm, unsigned `q + 128`) and, per row, runs 8 `vpdpbusd` (32 inputs × 16 outputs; the
/// activations' 4 signed bytes broadcast from memory inside the instruction) from the row's
/// `-128 · Σ q_x` start value, then one `vcvtdq2ps` and one FMA with `d_w[c] · d_x`: the int32 sums
/// never exceed 32 · 255 · 128. Registers: 8 f32 accumulators + 8 int32 sums in flight + 8 weights + the
/// start and scale vectors = 26 of 32 zmm (LLVM interleaves every row's chain, so 10 and 12 rows
/// spilled and ran slower).
public enum IntegerMatrixMultiply {
    /// Rows per full micro-kernel pass.
    public static let groupRows = 8
    /// Rows per tail pass.
    public static let tailRows = 4

    /// Rows the quantized activations must hold (``ActivationQuantizer`` `rowStride`): whole groups,
    /// then whole tail passes; the rows past `rowCount` are cleared.
    public static func paddedRowCount(_ rowCount: Int) -> Int {
        let grouped = rowCount / groupRows * groupRows
        return grouped + (rowCount - grouped + tailRows - 1) / tailRows * tailRows
    }

    /// Bytes of the tile scratch ``multiply(activations:rows:panels:weights:bias:into:tile:)``
    /// needs for `weights` (one decoded panel over all of K).
    public static func tileByteCount(_ weights: WeightMatrix) -> Int {
        weights.geometry.blockCount * IntegerTileDecoder.blockByteCount
    }

    /// Computes rows `rows` of `y` for the outputs of panels `panels`.
    ///
    /// - Parameters:
    ///   - activations: the whole quantized activation matrix (``ActivationQuantizer`` layout,
    ///     `rowStride` = ``paddedRowCount(_:)``); `rows.lowerBound` must be a multiple of ``groupRows``.
    ///   - weights: a q8 or q4 matrix.
    ///   - tile: ``tileByteCount(_:)`` bytes of 64-byte-aligned scratch, this worker's own.
    public static func multiply(
        activations: ActivationQuantizer.Output,
        rows: Range<Int>,
        panels: Range<Int>,
        weights: WeightMatrix,
        bias: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>,
        tile: UnsafeMutableRawPointer
    ) {
        if rows.isEmpty || panels.isEmpty { return }
        let geometry = weights.geometry
        let blockCount = geometry.blockCount
        let width = PanelGeometry.panelWidth
        for panel in panels {
            IntegerTileDecoder.decode(weights.storage, source: weights.base + geometry.blockOffset(panel: panel, block: 0),
                                      blockCount: blockCount, into: tile)
            let outputStart = panel * width
            let problem = IntegerMicroKernel.Problem(
                rowStride: activations.rowStride, blockCount: blockCount, tile: UnsafeRawPointer(tile),
                outputStride: geometry.rows, lanes: min(width, geometry.rows - outputStart),
                bias: bias.map { $0 + outputStart })
            var rowStart = rows.lowerBound
            while rowStart < rows.upperBound {
                let remaining = rows.upperBound - rowStart
                let count = remaining >= groupRows ? groupRows : min(tailRows, remaining)
                let x = UnsafeRawPointer(activations.bytes + rowStart * PanelGeometry.blockLength)
                let output = y + rowStart * geometry.rows + outputStart
                let scales = activations.scales + rowStart, starts = activations.starts + rowStart
                if count == groupRows {
                    IntegerMicroKernel.eightRows(problem, x: x, scales: scales, starts: starts, output: output)
                } else {
                    IntegerMicroKernel.fourRows(problem, x: x, scales: scales, starts: starts, output: output, validRows: count)
                }
                rowStart += count
            }
        }
    }
}

/// The `vpdpbusd` micro-kernel: a group of quantized activation rows × one 16-output panel tile, over
/// all blocks of K. Layouts: see ``IntegerMatrixMultiply`` and ``IntegerTileDecoder``.
enum IntegerMicroKernel {
    /// What every group of one panel shares.
    struct Problem {
        /// Rows per block in the quantized activations.
        let rowStride: Int
        let blockCount: Int
        let tile: UnsafeRawPointer
        let outputStride: Int
        /// Valid outputs of the panel (16 except in the last one).
        let lanes: Int
        let bias: UnsafePointer<Float>?
    }

    /// The 8 weight groups of one decoded block (4 inputs × 16 outputs each).
    struct BlockWeights {
        let g0, g1, g2, g3, g4, g5, g6, g7: SIMD16<Int32>
        let scales: SIMD16<Float>

        @inline(__always)
        init(_ block: UnsafeRawPointer) {
            g0 = block.load(as: SIMD16<Int32>.self)
            g1 = block.load(fromByteOffset: 64, as: SIMD16<Int32>.self)
            g2 = block.load(fromByteOffset: 128, as: SIMD16<Int32>.self)
            g3 = block.load(fromByteOffset: 192, as: SIMD16<Int32>.self)
            g4 = block.load(fromByteOffset: 256, as: SIMD16<Int32>.self)
            g5 = block.load(fromByteOffset: 320, as: SIMD16<Int32>.self)
            g6 = block.load(fromByteOffset: 384, as: SIMD16<Int32>.self)
            g7 = block.load(fromByteOffset: 448, as: SIMD16<Int32>.self)
            scales = block.load(fromByteOffset: 512, as: SIMD16<Float>.self)
        }

        /// `accumulator + d_w · d_x · Σ_k q_x[k] · q[k][c]` for one row's block (32 signed bytes at `x`,
        /// `start` = `-128 · Σ_k q_x[k]`).
        @inline(__always)
        func accumulate(_ accumulator: SIMD16<Float>, x: UnsafeRawPointer, scale: Float, start: Int32) -> SIMD16<Float> {
            var sums = SIMD16<Int32>(repeating: start)
            sums = dot(sums, x, 0, g0); sums = dot(sums, x, 4, g1)
            sums = dot(sums, x, 8, g2); sums = dot(sums, x, 12, g3)
            sums = dot(sums, x, 16, g4); sums = dot(sums, x, 20, g5)
            sums = dot(sums, x, 24, g6); sums = dot(sums, x, 28, g7)
            return accumulator.addingProduct(AVX512Intrinsics.convertToFloat(sums), scales * SIMD16(repeating: scale))
        }

        /// One `vpdpbusd` with 4 activation bytes broadcast to every lane (folded into the instruction as
        /// a `{1to16}` memory operand).
        @inline(__always)
        private func dot(_ sums: SIMD16<Int32>, _ x: UnsafeRawPointer, _ offset: Int, _ group: SIMD16<Int32>) -> SIMD16<Int32> {
            let quad = SIMD16<Int32>(repeating: x.loadUnaligned(fromByteOffset: offset, as: Int32.self))
            return AVX512Intrinsics.dotProductAccumulate(sums, unsignedBytes: group, signedBytes: quad)
        }
    }

    /// 8 rows: `x` points at the group's first row in block 0 (rows 32 bytes apart, blocks
    /// `rowStride * 32` bytes apart), `scales` and `starts` likewise (1 and `rowStride` values apart).
    @inline(never)
    static func eightRows(
        _ p: Problem, x: UnsafeRawPointer, scales: UnsafePointer<Float>, starts: UnsafePointer<Int32>, output: UnsafeMutablePointer<Float>
    ) {
        kernel(8, p, x, scales, starts, output, validRows: 8)
    }

    /// 4 rows (the tail), of which `validRows` are stored; same layouts as ``eightRows(_:x:scales:starts:output:)``.
    @inline(never)
    static func fourRows(
        _ p: Problem, x: UnsafeRawPointer, scales: UnsafePointer<Float>, starts: UnsafePointer<Int32>, output: UnsafeMutablePointer<Float>,
        validRows: Int
    ) {
        kernel(4, p, x, scales, starts, output, validRows: validRows)
    }

    /// The body of both: `rows` (4 or 8) is a constant after inlining, so the unused accumulators and
    /// their branches fold away.
    @inline(__always)
    private static func kernel(
        _ rows: Int, _ p: Problem, _ x: UnsafeRawPointer, _ scales: UnsafePointer<Float>, _ starts: UnsafePointer<Int32>,
        _ output: UnsafeMutablePointer<Float>, validRows: Int
    ) {
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
        var xBlock = x, sBlock = scales, tBlock = starts, wBlock = p.tile
        let xStep = p.rowStride &* PanelGeometry.blockLength
        for _ in 0..<p.blockCount {
            let w = BlockWeights(wBlock)
            a0 = w.accumulate(a0, x: xBlock, scale: sBlock[0], start: tBlock[0])
            a1 = w.accumulate(a1, x: xBlock + 32, scale: sBlock[1], start: tBlock[1])
            a2 = w.accumulate(a2, x: xBlock + 64, scale: sBlock[2], start: tBlock[2])
            a3 = w.accumulate(a3, x: xBlock + 96, scale: sBlock[3], start: tBlock[3])
            if rows > 4 {
                a4 = w.accumulate(a4, x: xBlock + 128, scale: sBlock[4], start: tBlock[4])
                a5 = w.accumulate(a5, x: xBlock + 160, scale: sBlock[5], start: tBlock[5])
                a6 = w.accumulate(a6, x: xBlock + 192, scale: sBlock[6], start: tBlock[6])
                a7 = w.accumulate(a7, x: xBlock + 224, scale: sBlock[7], start: tBlock[7])
            }
            xBlock += xStep
            sBlock += p.rowStride
            tBlock += p.rowStride
            wBlock += IntegerTileDecoder.blockByteCount
        }
        let stride = p.outputStride
        store(a0, output, p.lanes, p.bias)
        if validRows > 1 { store(a1, output + stride, p.lanes, p.bias) }
        if validRows > 2 { store(a2, output + 2 &* stride, p.lanes, p.bias) }
        if validRows > 3 { store(a3, output + 3 &* stride, p.lanes, p.bias) }
        if validRows > 4 { store(a4, output + 4 &* stride, p.lanes, p.bias) }
        if validRows > 5 { store(a5, output + 5 &* stride, p.lanes, p.bias) }
        if validRows > 6 { store(a6, output + 6 &* stride, p.lanes, p.bias) }
        if validRows > 7 { store(a7, output + 7 &* stride, p.lanes, p.bias) }
    }

    /// Writes one row of 16 sums (`lanes` of them valid) plus the bias.
    @inline(__always)
    private static func store(_ sums: SIMD16<Float>, _ row: UnsafeMutablePointer<Float>, _ lanes: Int, _ bias: UnsafePointer<Float>?) {
        if lanes == 16 {
            var value = sums
            if let bias { value += UnsafeRawPointer(bias).loadUnaligned(as: SIMD16<Float>.self) }
            UnsafeMutableRawPointer(row).storeBytes(of: value, as: SIMD16<Float>.self)
        } else {
            for c in 0..<lanes { row[c] = sums[c] + (bias?[c] ?? 0) }
        }
    }
}
#endif

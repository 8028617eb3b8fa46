import DiffuStorage
#if arch(x86_64) && DIFFU_AVX512
import DiffuAVX512Intrinsics

/// `y = x · Wᵀ (+ bias)` for f32 / f16 / bf16 weights and f32 activations at 512 bits (AVX-512 F): one
/// worker's share. Results equal the exact f32 products up to the order of the additions (every product
/// and sum in f32, one FMA per input, as the AVX2 route).
///
/// Layouts expected:
/// - `x`: f32, row-major `[L × K]`, read in place (rows broadcast from memory inside the FMAs).
/// - `W`: `panel16` f32, f16 or bf16 (`DiffuStorage/PanelGeometry.swift`), read from the mapping. f32
///   blocks are used in place; f16 / bf16 chunks of ``chunkBlocks`` blocks are widened per panel into an
///   f32 tile (`tile[k * 16 + c]`, 8 KiB per panel), which every row group of the worker then reuses.
/// - `y`: f32, row-major `[L × N]`; `bias`: N values.
///
/// Blocking (as the AVX2 route, `DiffuKernels/MatrixMultiply.swift`): output blocks of ``panelBlock``
/// panels whose sums stay in L2 (in a scratch block with a padded row stride when K has several chunks),
/// inside them input chunks of ``chunkBlocks`` blocks, inside them panel pairs.
///
/// Micro-kernel: 8 rows × 2 panels (32 outputs) in 16 zmm accumulators. Per input it loads the two
/// panels' 16 weights (2 zmm) and issues 16 `vfmadd231ps` whose activation operand is broadcast from
/// memory (`{1to16}`): 10 loads per 16 FMAs, so the FMA ports, not the loads, bound it; 16 independent
/// chains cover the FMA latency on two 512-bit units.
public enum FloatMatrixMultiply {
    /// Rows per micro-kernel pass.
    public static let groupRows = 8
    /// Inputs per chunk, in 32-input blocks (a widened panel chunk is `chunkBlocks × 2 KiB`).
    public static let chunkBlocks = 4
    /// Panels per output block.
    public static let panelBlock = 16

    /// Bytes of the widening tile one worker needs (two panels of one chunk).
    public static let tileByteCount = 2 * chunkBlocks * PanelGeometry.blockLength * PanelGeometry.panelWidth * 4

    /// Bytes of the accumulation scratch one worker needs for `rowCount` rows (0 when K fits one chunk).
    public static func scratchByteCount(rowCount: Int, weights: WeightMatrix) -> Int {
        weights.geometry.blockCount > chunkBlocks ? rowCount * scratchStride * 4 : 0
    }

    /// Floats between scratch rows: one output block plus 16, so rows do not alias in the caches.
    static let scratchStride = panelBlock * PanelGeometry.panelWidth + 16

    /// Whether this route multiplies weights of `storage` (the float types).
    public static func handles(_ storage: StorageType) -> Bool {
        storage == .f32 || storage == .f16 || storage == .bf16
    }

    /// Computes rows `rows` of `y` for the outputs of panels `panels`.
    ///
    /// - Parameters:
    ///   - x: the whole activation matrix, row-major with `weights.columns` floats per row.
    ///   - tile: ``tileByteCount`` bytes of 64-byte-aligned scratch, this worker's own.
    ///   - scratch: ``scratchByteCount(rowCount:weights:)`` bytes (for `rows.count`), this worker's own.
    public static func multiply(
        _ x: UnsafePointer<Float>,
        rows: Range<Int>,
        panels: Range<Int>,
        weights: WeightMatrix,
        bias: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>,
        tile: UnsafeMutableRawPointer,
        scratch: UnsafeMutableRawPointer
    ) {
        precondition(handles(weights.storage), "FloatMatrixMultiply takes f32, f16 or bf16 weights")
        if rows.isEmpty || panels.isEmpty { return }
        let geometry = weights.geometry
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        let outputs = geometry.rows, columns = geometry.columns, blockCount = geometry.blockCount
        let tileFloats = tile.bindMemory(to: Float.self, capacity: tileByteCount / 4)
        let secondTile = tileFloats + tileByteCount / 8
        let sums = scratch.bindMemory(to: Float.self, capacity: max(1, rows.count * scratchStride))
        // Equal chunks of at most `chunkBlocks` blocks (18 blocks → 3 + 3 + 3 + 3 + 3 + 3, not 4 × 4 + 2).
        let chunkTotal = (blockCount + chunkBlocks - 1) / chunkBlocks
        let chunkSize = (blockCount + chunkTotal - 1) / chunkTotal
        let usesScratch = chunkTotal > 1

        var blockStart = panels.lowerBound
        while blockStart < panels.upperBound {
            let blockEnd = min(panels.upperBound, blockStart + panelBlock)
            var chunkStart = 0
            while chunkStart < blockCount {
                let chunkCount = min(chunkSize, blockCount - chunkStart)
                let kStart = chunkStart * length
                let problem = MicroKernel.Problem(
                    depth: min(chunkCount * length, columns - kStart),
                    xStride: columns,
                    outputStride: usesScratch ? scratchStride : outputs,
                    accumulates: chunkStart > 0)
                var panel = blockStart
                while panel < blockEnd {
                    let pair = panel + 1 < blockEnd
                    let first = panelTile(weights, panel: panel, chunkStart: chunkStart, chunkCount: chunkCount, into: tileFloats)
                    let second = pair ? panelTile(weights, panel: panel + 1, chunkStart: chunkStart, chunkCount: chunkCount, into: secondTile) : first
                    let outputStart = panel * width
                    let output = usesScratch ? sums + (panel - blockStart) * width : y + rows.lowerBound * outputs + outputStart
                    let lanes = (min(width, outputs - outputStart), pair ? min(width, outputs - outputStart - width) : 0)
                    // The bias enters once, with the first chunk.
                    let panelBias = chunkStart == 0 ? bias.map { $0 + outputStart } : nil
                    var rowStart = 0
                    while rowStart < rows.count {
                        let count = min(groupRows, rows.count - rowStart)
                        MicroKernel.run(
                            problem, rows: count, pair: pair,
                            x: x + (rows.lowerBound + rowStart) * columns + kStart,
                            tiles: (first, second),
                            output: output + rowStart * problem.outputStride,
                            lanes: lanes, bias: panelBias)
                        rowStart += count
                    }
                    panel += pair ? 2 : 1
                }
                chunkStart += chunkCount
            }
            if usesScratch {
                let outputStart = blockStart * width
                let outputCount = min(blockEnd * width, outputs) - outputStart
                for row in 0..<rows.count {
                    (y + (rows.lowerBound + row) * outputs + outputStart).update(from: sums + row * scratchStride, count: outputCount)
                }
            }
            blockStart = blockEnd
        }
    }

    /// The f32 tile of one panel's chunk: the payload itself for f32, otherwise widened into `tile`.
    @inline(__always)
    private static func panelTile(
        _ weights: WeightMatrix, panel: Int, chunkStart: Int, chunkCount: Int, into tile: UnsafeMutablePointer<Float>
    ) -> UnsafeRawPointer {
        let source = weights.base + weights.geometry.blockOffset(panel: panel, block: chunkStart)
        switch weights.storage {
        case .f32: return source
        case .f16: FloatTileWidener.widenF16(source, blocks: chunkCount, into: tile)
        default: FloatTileWidener.widenBF16(source, blocks: chunkCount, into: tile)
        }
        return UnsafeRawPointer(tile)
    }
}

/// Widens 16-bit float blocks (`k * 16 + c` order, 1024 bytes per block) into the f32 tile layout
/// (`k * 16 + c`, 2048 bytes per block), 16 lanes per instruction.
enum FloatTileWidener {
    /// f16 → f32 with `vcvtph2ps zmm` (exact).
    @inline(never)
    static func widenF16(_ source: UnsafeRawPointer, blocks: Int, into tile: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(tile)
        for index in 0..<(blocks * PanelGeometry.blockLength) {
            let halves = source.loadUnaligned(fromByteOffset: 32 * index, as: SIMD16<Float16>.self)
            out.storeBytes(of: AVX512Intrinsics.widen(halves), toByteOffset: 64 * index, as: SIMD16<Float>.self)
        }
    }

    /// bf16 → f32: each value's bits into the high half of a 32-bit lane (exact).
    @inline(never)
    static func widenBF16(_ source: UnsafeRawPointer, blocks: Int, into tile: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(tile)
        for index in 0..<(blocks * PanelGeometry.blockLength) {
            let bits = source.loadUnaligned(fromByteOffset: 32 * index, as: SIMD16<UInt16>.self)
            out.storeBytes(of: AVX512Intrinsics.widenHighHalf(bits), toByteOffset: 64 * index, as: SIMD16<Float>.self)
        }
    }
}

/// The zmm f32 micro-kernel of ``FloatMatrixMultiply``: up to 8 rows × 2 panels. Layouts: see there.
enum MicroKernel {
    /// What every row group of one chunk shares.
    struct Problem {
        /// Inputs of the chunk (the last chunk stops at K exactly; activations are not padded).
        let depth: Int
        /// Floats between activation rows.
        let xStride: Int
        /// Floats between output rows.
        let outputStride: Int
        /// Whether the sums are added to the outputs (later chunks) or stored (the first).
        let accumulates: Bool
    }

    /// Dispatches to a specialization per row count and panel count.
    @inline(__always)
    static func run(
        _ p: Problem, rows: Int, pair: Bool, x: UnsafePointer<Float>, tiles: (UnsafeRawPointer, UnsafeRawPointer),
        output: UnsafeMutablePointer<Float>, lanes: (Int, Int), bias: UnsafePointer<Float>?
    ) {
        if pair {
            run(p, rows: rows, Pair.self, x, tiles, output, lanes, bias)
        } else {
            run(p, rows: rows, Single.self, x, tiles, output, lanes, bias)
        }
    }

    @inline(__always)
    private static func run<Panels: PanelCount>(
        _ p: Problem, rows: Int, _ panels: Panels.Type, _ x: UnsafePointer<Float>, _ tiles: (UnsafeRawPointer, UnsafeRawPointer),
        _ output: UnsafeMutablePointer<Float>, _ lanes: (Int, Int), _ bias: UnsafePointer<Float>?
    ) {
        switch rows {
        case 8: kernel(Rows8.self, panels, p, x, tiles, output, lanes, bias)
        case 7: kernel(Rows7.self, panels, p, x, tiles, output, lanes, bias)
        case 6: kernel(Rows6.self, panels, p, x, tiles, output, lanes, bias)
        case 5: kernel(Rows5.self, panels, p, x, tiles, output, lanes, bias)
        case 4: kernel(Rows4.self, panels, p, x, tiles, output, lanes, bias)
        case 3: kernel(Rows3.self, panels, p, x, tiles, output, lanes, bias)
        case 2: kernel(Rows2.self, panels, p, x, tiles, output, lanes, bias)
        default: kernel(Rows1.self, panels, p, x, tiles, output, lanes, bias)
        }
    }

    /// The body, one specialized function per (row count, panel count) type pair, so `rows` and `pair`
    /// are constants in each: unused accumulators and their branches fold away. Rows past `rows` alias
    /// row 0 and are never read.
    @inline(never)
    private static func kernel<Rows: RowCount, Panels: PanelCount>(
        _ rowType: Rows.Type, _ panelType: Panels.Type, _ p: Problem, _ x: UnsafePointer<Float>,
        _ tiles: (UnsafeRawPointer, UnsafeRawPointer), _ output: UnsafeMutablePointer<Float>, _ lanes: (Int, Int),
        _ bias: UnsafePointer<Float>?
    ) {
        let rows = Rows.value, pair = Panels.value == 2
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
        var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
        var b4 = SIMD16<Float>(), b5 = SIMD16<Float>(), b6 = SIMD16<Float>(), b7 = SIMD16<Float>()
        let s = p.xStride
        let x0 = x, x1 = rows > 1 ? x + s : x, x2 = rows > 2 ? x + 2 &* s : x, x3 = rows > 3 ? x + 3 &* s : x
        let x4 = rows > 4 ? x + 4 &* s : x, x5 = rows > 5 ? x + 5 &* s : x, x6 = rows > 6 ? x + 6 &* s : x
        let x7 = rows > 7 ? x + 7 &* s : x
        var w0 = tiles.0, w1 = tiles.1
        for k in 0..<p.depth {
            let u = w0.load(as: SIMD16<Float>.self)
            let v = pair ? w1.load(as: SIMD16<Float>.self) : u
            var broadcast = SIMD16<Float>(repeating: x0[k])
            a0.addProduct(broadcast, u); if pair { b0.addProduct(broadcast, v) }
            if rows > 1 { broadcast = SIMD16(repeating: x1[k]); a1.addProduct(broadcast, u); if pair { b1.addProduct(broadcast, v) } }
            if rows > 2 { broadcast = SIMD16(repeating: x2[k]); a2.addProduct(broadcast, u); if pair { b2.addProduct(broadcast, v) } }
            if rows > 3 { broadcast = SIMD16(repeating: x3[k]); a3.addProduct(broadcast, u); if pair { b3.addProduct(broadcast, v) } }
            if rows > 4 { broadcast = SIMD16(repeating: x4[k]); a4.addProduct(broadcast, u); if pair { b4.addProduct(broadcast, v) } }
            if rows > 5 { broadcast = SIMD16(repeating: x5[k]); a5.addProduct(broadcast, u); if pair { b5.addProduct(broadcast, v) } }
            if rows > 6 { broadcast = SIMD16(repeating: x6[k]); a6.addProduct(broadcast, u); if pair { b6.addProduct(broadcast, v) } }
            if rows > 7 { broadcast = SIMD16(repeating: x7[k]); a7.addProduct(broadcast, u); if pair { b7.addProduct(broadcast, v) } }
            w0 += 64
            w1 += 64
        }
        let stride = p.outputStride
        let secondBias = bias.map { $0 + 16 }
        finish(a0, b0, pair, output, p, lanes, bias, secondBias)
        if rows > 1 { finish(a1, b1, pair, output + stride, p, lanes, bias, secondBias) }
        if rows > 2 { finish(a2, b2, pair, output + 2 &* stride, p, lanes, bias, secondBias) }
        if rows > 3 { finish(a3, b3, pair, output + 3 &* stride, p, lanes, bias, secondBias) }
        if rows > 4 { finish(a4, b4, pair, output + 4 &* stride, p, lanes, bias, secondBias) }
        if rows > 5 { finish(a5, b5, pair, output + 5 &* stride, p, lanes, bias, secondBias) }
        if rows > 6 { finish(a6, b6, pair, output + 6 &* stride, p, lanes, bias, secondBias) }
        if rows > 7 { finish(a7, b7, pair, output + 7 &* stride, p, lanes, bias, secondBias) }
    }

    /// Writes one row's sums: the first panel's 16 outputs at `row`, the second's at `row + 16`.
    @inline(__always)
    private static func finish(
        _ first: SIMD16<Float>, _ second: SIMD16<Float>, _ pair: Bool, _ row: UnsafeMutablePointer<Float>, _ p: Problem,
        _ lanes: (Int, Int), _ bias: UnsafePointer<Float>?, _ secondBias: UnsafePointer<Float>?
    ) {
        store(first, row, lanes.0, p.accumulates, bias)
        if pair { store(second, row + 16, lanes.1, p.accumulates, secondBias) }
    }

    /// Stores (or adds) 16 sums, of which `lanes` are valid, plus the bias when given.
    @inline(__always)
    private static func store(
        _ sums: SIMD16<Float>, _ row: UnsafeMutablePointer<Float>, _ lanes: Int, _ accumulates: Bool, _ bias: UnsafePointer<Float>?
    ) {
        if lanes == 16 {
            let raw = UnsafeMutableRawPointer(row)
            var value = sums
            if accumulates { value += raw.loadUnaligned(as: SIMD16<Float>.self) }
            if let bias { value += UnsafeRawPointer(bias).loadUnaligned(as: SIMD16<Float>.self) }
            raw.storeBytes(of: value, as: SIMD16<Float>.self)
        } else {
            for c in 0..<lanes {
                var value = sums[c]
                if accumulates { value += row[c] }
                if let bias { value += bias[c] }
                row[c] = value
            }
        }
    }
}

/// A row count known to the type system, so that each micro-kernel specialization sees a constant.
protocol RowCount { static var value: Int { get } }
enum Rows1: RowCount { static var value: Int { 1 } }
enum Rows2: RowCount { static var value: Int { 2 } }
enum Rows3: RowCount { static var value: Int { 3 } }
enum Rows4: RowCount { static var value: Int { 4 } }
enum Rows5: RowCount { static var value: Int { 5 } }
enum Rows6: RowCount { static var value: Int { 6 } }
enum Rows7: RowCount { static var value: Int { 7 } }
enum Rows8: RowCount { static var value: Int { 8 } }

/// One panel or a pair of panels, known to the type system (see ``RowCount``).
protocol PanelCount { static var value: Int { get } }
enum Single: PanelCount { static var value: Int { 1 } }
enum Pair: PanelCount { static var value: Int { 2 } }
#endif

import DiffuStorage

/// The few-rows path of ``MatrixMultiply`` (1...4 activation rows): memory-bound, GEMV-like.
///
/// With so few rows the work is bounded by reading and decoding the weights: no activation packing, no
/// input chunking; one panel at a time with its `rows × 16` sums held in registers across all of K, each
/// block decoded into a 2 KiB L1 tile right before use. (Decoding straight into registers through
/// per-storage closures was tried: the SIMD conversions then stopped inlining and ran 5× slower.)
///
/// Layouts: `x` row-major `[rows × K]` (read in place, never packed), weights `panel16`
/// (`DiffuStorage/PanelGeometry.swift`), `y` row-major `[rows × N]`, `bias` N values.
enum GemmSmallRows {
    /// Largest row count this path handles.
    static let maximumRows = 4

    /// Computes rows `0..<rows` of `y` for the outputs of `panels`.
    static func multiply(
        _ x: UnsafePointer<Float>,
        rows: Int,
        panels: Range<Int>,
        _ weights: WeightMatrix,
        _ bias: UnsafePointer<Float>?,
        _ y: UnsafeMutablePointer<Float>
    ) {
        switch rows {
        case 1: multiplyStorage(1, x, panels, weights, bias, y)
        case 2: multiplyStorage(2, x, panels, weights, bias, y)
        case 3: multiplyStorage(3, x, panels, weights, bias, y)
        default: multiplyStorage(4, x, panels, weights, bias, y)
        }
    }

    /// For each panel: accumulate `rows × 16` sums over all inputs, then store them (+ bias).
    /// Each block is first decoded into a 2 KiB f32 tile (`GemmTileDecoder`, L1-resident; `f32` blocks
    /// are read in place), then its 32 input rows are multiplied into the accumulators.
    @inline(__always)
    private static func multiplyStorage(
        _ rows: Int,
        _ x: UnsafePointer<Float>,
        _ panels: Range<Int>,
        _ weights: WeightMatrix,
        _ bias: UnsafePointer<Float>?,
        _ y: UnsafeMutablePointer<Float>
    ) {
        let geometry = weights.geometry
        let columns = geometry.columns, outputs = geometry.rows
        let length = PanelGeometry.blockLength, width = PanelGeometry.panelWidth
        let decodes = weights.storage != .f32
        let tile = UnsafeMutableRawPointer.allocate(byteCount: GemmTileDecoder.floatsPerBlock * 4, alignment: 64)
        defer { tile.deallocate() }
        let tileFloats = tile.bindMemory(to: Float.self, capacity: GemmTileDecoder.floatsPerBlock)
        for panel in panels {
            var a0 = SIMD8<Float>(), b0 = SIMD8<Float>()
            var a1 = SIMD8<Float>(), b1 = SIMD8<Float>()
            var a2 = SIMD8<Float>(), b2 = SIMD8<Float>()
            var a3 = SIMD8<Float>(), b3 = SIMD8<Float>()
            var kStart = 0, block = 0
            while kStart < columns {
                let kCount = min(length, columns - kStart)
                let source = weights.base + geometry.blockOffset(panel: panel, block: block)
                var w = source
                if decodes {
                    GemmTileDecoder.decode(weights.storage, source: source, blockCount: 1, into: tileFloats)
                    w = UnsafeRawPointer(tile)
                }
                let xBlock = x + kStart
                for k in 0..<kCount {
                    let low = w.loadUnaligned(fromByteOffset: 64 * k, as: SIMD8<Float>.self)
                    let high = w.loadUnaligned(fromByteOffset: 64 * k + 32, as: SIMD8<Float>.self)
                    var broadcast = SIMD8<Float>(repeating: xBlock[k])
                    a0 = Arithmetic.multiplyAdd(broadcast, low, a0); b0 = Arithmetic.multiplyAdd(broadcast, high, b0)
                    if rows > 1 {
                        broadcast = SIMD8<Float>(repeating: xBlock[columns + k])
                        a1 = Arithmetic.multiplyAdd(broadcast, low, a1); b1 = Arithmetic.multiplyAdd(broadcast, high, b1)
                    }
                    if rows > 2 {
                        broadcast = SIMD8<Float>(repeating: xBlock[2 * columns + k])
                        a2 = Arithmetic.multiplyAdd(broadcast, low, a2); b2 = Arithmetic.multiplyAdd(broadcast, high, b2)
                    }
                    if rows > 3 {
                        broadcast = SIMD8<Float>(repeating: xBlock[3 * columns + k])
                        a3 = Arithmetic.multiplyAdd(broadcast, low, a3); b3 = Arithmetic.multiplyAdd(broadcast, high, b3)
                    }
                }
                kStart += length
                block += 1
            }
            let outputStart = panel * width
            let lanes = min(width, outputs - outputStart)
            let panelBias = bias.map { $0 + outputStart }
            let out = y + outputStart
            store(a0, b0, out, lanes, panelBias)
            if rows > 1 { store(a1, b1, out + outputs, lanes, panelBias) }
            if rows > 2 { store(a2, b2, out + 2 * outputs, lanes, panelBias) }
            if rows > 3 { store(a3, b3, out + 3 * outputs, lanes, panelBias) }
        }
    }

    /// Stores one row of 16 sums (`lanes` valid) plus the bias.
    @inline(__always)
    private static func store(
        _ low: SIMD8<Float>, _ high: SIMD8<Float>,
        _ row: UnsafeMutablePointer<Float>, _ lanes: Int, _ bias: UnsafePointer<Float>?
    ) {
        if lanes == 16 {
            var sumLow = low, sumHigh = high
            if let bias {
                sumLow += UnsafeRawPointer(bias).loadUnaligned(as: SIMD8<Float>.self)
                sumHigh += UnsafeRawPointer(bias).loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            }
            UnsafeMutableRawPointer(row).storeBytes(of: sumLow, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(row).storeBytes(of: sumHigh, toByteOffset: 32, as: SIMD8<Float>.self)
        } else {
            for c in 0..<lanes { row[c] = (c < 8 ? low[c] : high[c - 8]) + (bias?[c] ?? 0) }
        }
    }
}

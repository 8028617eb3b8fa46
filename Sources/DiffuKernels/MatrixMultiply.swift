import DiffuStorage

/// `y = x · Wᵀ (+ bias)` for f32 activations and panel-layout weights of any storage type.
///
/// Layouts: `x` is row-major `[rowCount × K]`, `y` row-major `[rowCount × N]` (`K` = `weights.columns`,
/// `N` = `weights.rows`), `bias` has `N` values. Work is split across panels of 16 outputs.
public enum MatrixMultiply {
    /// Computes `y[l, n] = Σ_k x[l, k] · W[n, k] + bias[n]` for `l < rowCount`, `n < N`.
    ///
    /// - Parameters:
    ///   - x: `rowCount * K` activations, row-major.
    ///   - rowCount: number of activation rows L.
    ///   - weights: the weight matrix view.
    ///   - bias: optional `N` biases.
    ///   - y: `rowCount * N` outputs, row-major; fully overwritten.
    ///   - threads: worker count (1 runs on the calling thread).
    public static func multiply(
        _ x: UnsafePointer<Float>,
        rowCount: Int,
        weights: WeightMatrix,
        bias: UnsafePointer<Float>? = nil,
        into y: UnsafeMutablePointer<Float>,
        threads: Int
    ) {
        let geometry = weights.geometry
        let panels = geometry.panelCount
        let workers = max(1, min(threads, panels))
        // Static split into `workers` contiguous panel ranges: one fork-join per call.
        Parallel.forEach(workers) { worker in
            let start = panels * worker / workers, end = panels * (worker + 1) / workers
            multiplyPanels(start..<end, x, rowCount, weights, bias, y)
        }
    }

    /// Straightforward path: decode each 32×16 block into an f32 tile, then accumulate every row of `x`.
    private static func multiplyPanels(
        _ panels: Range<Int>,
        _ x: UnsafePointer<Float>,
        _ rowCount: Int,
        _ weights: WeightMatrix,
        _ bias: UnsafePointer<Float>?,
        _ y: UnsafeMutablePointer<Float>
    ) {
        let geometry = weights.geometry
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        let columns = geometry.columns, rows = geometry.rows
        let tile = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: length)
        let accumulators = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: rowCount)
        defer { tile.deallocate(); accumulators.deallocate() }
        for panel in panels {
            accumulators.initialize(repeating: SIMD16<Float>(repeating: 0), count: rowCount)
            for block in 0..<geometry.blockCount {
                TileDecoder.decode(weights, panel: panel, block: block, into: tile)
                let kStart = block * length
                let kCount = min(length, columns - kStart)
                for l in 0..<rowCount {
                    let xRow = x + l * columns + kStart
                    var sum = accumulators[l]
                    for k in 0..<kCount { sum.addProduct(SIMD16<Float>(repeating: xRow[k]), tile[k]) }
                    accumulators[l] = sum
                }
            }
            let rowBase = panel * width
            let lanes = min(width, rows - rowBase)
            for l in 0..<rowCount {
                let out = y + l * rows + rowBase
                let sum = accumulators[l]
                for c in 0..<lanes { out[c] = sum[c] + (bias?[rowBase + c] ?? 0) }
            }
        }
    }
}

/// Decodes one 32-input × 16-lane block of a panel-layout matrix into f32, input-major
/// (`tile[k]` holds the 16 lanes of input `k`).
public enum TileDecoder {
    /// Decodes block `block` of panel `panel` into `tile[0..<32]`.
    @inline(__always)
    public static func decode(_ weights: WeightMatrix, panel: Int, block: Int, into tile: UnsafeMutablePointer<SIMD16<Float>>) {
        let base = weights.base + weights.geometry.blockOffset(panel: panel, block: block)
        let length = PanelGeometry.blockLength
        switch weights.storage {
        case .f32:
            for k in 0..<length { tile[k] = base.loadUnaligned(fromByteOffset: 64 * k, as: SIMD16<Float>.self) }
        case .f16:
            for k in 0..<length {
                let halves = base.loadUnaligned(fromByteOffset: 32 * k, as: SIMD16<UInt16>.self)
                var value = SIMD16<Float>()
                for c in 0..<16 { value[c] = Float(Float16(bitPattern: halves[c])) }
                tile[k] = value
            }
        case .bf16:
            for k in 0..<length {
                let halves = base.loadUnaligned(fromByteOffset: 32 * k, as: SIMD16<UInt16>.self)
                var value = SIMD16<Float>()
                for c in 0..<16 { value[c] = Float(bitPattern: UInt32(halves[c]) << 16) }
                tile[k] = value
            }
        case .q8:
            let scales = decodeScales(base)
            for k in 0..<length {
                var value = SIMD16<Float>()
                for c in 0..<16 { value[c] = Float(base.load(fromByteOffset: 32 + 16 * k + c, as: Int8.self)) }
                tile[k] = value * scales
            }
        case .q4:
            let scales = decodeScales(base)
            for j in 0..<(length / 2) {
                var low = SIMD16<Float>(), high = SIMD16<Float>()
                for c in 0..<16 {
                    let byte = base.load(fromByteOffset: 32 + 16 * j + c, as: UInt8.self)
                    low[c] = Float(Int(byte & 0x0F) - 8)
                    high[c] = Float(Int(byte >> 4) - 8)
                }
                tile[j] = low * scales
                tile[j + 16] = high * scales
            }
        case .bytes:
            preconditionFailure("bytes tensors are not matrices")
        }
    }

    @inline(__always)
    private static func decodeScales(_ base: UnsafeRawPointer) -> SIMD16<Float> {
        var scales = SIMD16<Float>()
        for c in 0..<16 { scales[c] = Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: 2 * c, as: UInt16.self))) }
        return scales
    }
}

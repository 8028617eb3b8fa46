/// The f32 register-tiled micro-kernel of ``MatrixMultiply``: up to 6 activation rows × 16 outputs.
///
/// Expected layouts:
/// - `x`: activations read in place, row-major: `x[r * xStride + k]` = activation row `r`, input `k`
///   (`k < depth`; nothing past `depth` is read, so the last input chunk needs no padding).
/// - `tile`: an f32 weight tile, `tile[k * 16 + c]` = weight of lane `c` for input `k` (the `f32` block
///   layout of `PanelGeometry`, blocks of one panel back to back).
/// - `output`: `output[r * outputStride + c]`, row-major `y`.
///
/// Registers (AVX2, 16 ymm): 12 accumulators (6 rows × 2 halves of 8 lanes), 2 weight vectors, 1 broadcast.
/// Each input step issues 12 independent FMAs — enough to cover the 4-cycle FMA latency at 2 FMAs per
/// cycle — against 2 weight loads and 6 broadcasts.
enum GemmMicroKernel {
    /// Activation rows per packed group.
    static let groupRows = 6

    /// How the micro-kernel combines its sums with the output.
    enum Store {
        /// `y = sums` (+ bias when given): the first input chunk.
        case overwrite
        /// `y += sums`: later input chunks.
        case accumulate
    }

    /// Runs the kernel for `rows` (1...6) valid rows; dispatches to a specialization per row count.
    @inline(never)
    static func run(
        rows: Int,
        x: UnsafePointer<Float>,
        xStride: Int,
        tile: UnsafeRawPointer,
        depth: Int,
        output: UnsafeMutablePointer<Float>,
        outputStride: Int,
        lanes: Int,
        store: Store,
        bias: UnsafePointer<Float>?
    ) {
        switch rows {
        case 6: kernel(6, x, xStride, tile, depth, output, outputStride, lanes, store, bias)
        case 5: kernel(5, x, xStride, tile, depth, output, outputStride, lanes, store, bias)
        case 4: kernel(4, x, xStride, tile, depth, output, outputStride, lanes, store, bias)
        case 3: kernel(3, x, xStride, tile, depth, output, outputStride, lanes, store, bias)
        case 2: kernel(2, x, xStride, tile, depth, output, outputStride, lanes, store, bias)
        default: kernel(1, x, xStride, tile, depth, output, outputStride, lanes, store, bias)
        }
    }

    /// The kernel body; `rows` is a constant after inlining, so unused accumulators disappear.
    @inline(__always)
    private static func kernel(
        _ rows: Int,
        _ x: UnsafePointer<Float>,
        _ xStride: Int,
        _ tile: UnsafeRawPointer,
        _ depth: Int,
        _ output: UnsafeMutablePointer<Float>,
        _ outputStride: Int,
        _ lanes: Int,
        _ store: Store,
        _ bias: UnsafePointer<Float>?
    ) {
        var a0 = SIMD8<Float>(), b0 = SIMD8<Float>()
        var a1 = SIMD8<Float>(), b1 = SIMD8<Float>()
        var a2 = SIMD8<Float>(), b2 = SIMD8<Float>()
        var a3 = SIMD8<Float>(), b3 = SIMD8<Float>()
        var a4 = SIMD8<Float>(), b4 = SIMD8<Float>()
        var a5 = SIMD8<Float>(), b5 = SIMD8<Float>()
        // Row pointers; rows past `rows` alias row 0 and are never read (their branches fold away).
        let x0 = x
        let x1 = rows > 1 ? x + xStride : x
        let x2 = rows > 2 ? x + 2 * xStride : x
        let x3 = rows > 3 ? x + 3 * xStride : x
        let x4 = rows > 4 ? x + 4 * xStride : x
        let x5 = rows > 5 ? x + 5 * xStride : x
        var w = tile
        for k in 0..<depth {
            let low = w.loadUnaligned(as: SIMD8<Float>.self)
            let high = w.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            var broadcast = SIMD8<Float>(repeating: x0[k])
            a0 = Arithmetic.multiplyAdd(broadcast, low, a0); b0 = Arithmetic.multiplyAdd(broadcast, high, b0)
            if rows > 1 {
                broadcast = SIMD8<Float>(repeating: x1[k])
                a1 = Arithmetic.multiplyAdd(broadcast, low, a1); b1 = Arithmetic.multiplyAdd(broadcast, high, b1)
            }
            if rows > 2 {
                broadcast = SIMD8<Float>(repeating: x2[k])
                a2 = Arithmetic.multiplyAdd(broadcast, low, a2); b2 = Arithmetic.multiplyAdd(broadcast, high, b2)
            }
            if rows > 3 {
                broadcast = SIMD8<Float>(repeating: x3[k])
                a3 = Arithmetic.multiplyAdd(broadcast, low, a3); b3 = Arithmetic.multiplyAdd(broadcast, high, b3)
            }
            if rows > 4 {
                broadcast = SIMD8<Float>(repeating: x4[k])
                a4 = Arithmetic.multiplyAdd(broadcast, low, a4); b4 = Arithmetic.multiplyAdd(broadcast, high, b4)
            }
            if rows > 5 {
                broadcast = SIMD8<Float>(repeating: x5[k])
                a5 = Arithmetic.multiplyAdd(broadcast, low, a5); b5 = Arithmetic.multiplyAdd(broadcast, high, b5)
            }
            w += 64
        }
        finish(a0, b0, output, lanes, store, bias)
        if rows > 1 { finish(a1, b1, output + outputStride, lanes, store, bias) }
        if rows > 2 { finish(a2, b2, output + 2 * outputStride, lanes, store, bias) }
        if rows > 3 { finish(a3, b3, output + 3 * outputStride, lanes, store, bias) }
        if rows > 4 { finish(a4, b4, output + 4 * outputStride, lanes, store, bias) }
        if rows > 5 { finish(a5, b5, output + 5 * outputStride, lanes, store, bias) }
    }

    /// Writes one row of 16 sums (`lanes` of them valid) to `row`.
    @inline(__always)
    private static func finish(
        _ low: SIMD8<Float>, _ high: SIMD8<Float>,
        _ row: UnsafeMutablePointer<Float>,
        _ lanes: Int, _ store: Store, _ bias: UnsafePointer<Float>?
    ) {
        let raw = UnsafeMutableRawPointer(row)
        if lanes == 16 {
            var sumLow = low, sumHigh = high
            switch store {
            case .accumulate:
                sumLow += raw.loadUnaligned(as: SIMD8<Float>.self)
                sumHigh += raw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            case .overwrite:
                if let bias {
                    sumLow += UnsafeRawPointer(bias).loadUnaligned(as: SIMD8<Float>.self)
                    sumHigh += UnsafeRawPointer(bias).loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                }
            }
            raw.storeBytes(of: sumLow, as: SIMD8<Float>.self)
            raw.storeBytes(of: sumHigh, toByteOffset: 32, as: SIMD8<Float>.self)
        } else {
            for c in 0..<lanes {
                let sum = c < 8 ? low[c] : high[c - 8]
                switch store {
                case .accumulate: row[c] += sum
                case .overwrite: row[c] = sum + (bias?[c] ?? 0)
                }
            }
        }
    }
}

/// Row-wise normalizations of activations.
///
/// Layout: `input` and `output` are row-major `[rowCount × width]` (they may be the same buffer);
/// `weight` and `bias` hold `width` values. Statistics are accumulated in f32 like PyTorch's CPU kernels.
public enum Normalization {
    /// LayerNorm: `y = (x − mean) / √(var + ε) · weight + bias`, biased variance over the row.
    public static func layerNorm(
        _ input: UnsafePointer<Float>,
        rowCount: Int,
        width: Int,
        weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?,
        epsilon: Float,
        into output: UnsafeMutablePointer<Float>,
        threads: Int
    ) {
        forEachRowChunk(rowCount: rowCount, width: width, threads: threads) { rows in
            for row in rows {
                layerNormRow(input + row * width, width, weight, bias, epsilon, output + row * width)
            }
        }
    }

    /// RMSNorm (LLaMA): `y = x / √(mean(x²) + ε) · weight`.
    public static func rmsNorm(
        _ input: UnsafePointer<Float>,
        rowCount: Int,
        width: Int,
        weight: UnsafePointer<Float>,
        epsilon: Float,
        into output: UnsafeMutablePointer<Float>,
        threads: Int
    ) {
        forEachRowChunk(rowCount: rowCount, width: width, threads: threads) { rows in
            for row in rows {
                rmsNormRow(input + row * width, width, weight, epsilon, output + row * width)
            }
        }
    }

    /// Splits rows over workers when there is enough work to pay for a fork-join.
    static func forEachRowChunk(rowCount: Int, width: Int, threads: Int, _ body: (Range<Int>) -> Void) {
        let workers = max(1, min(threads, rowCount, (rowCount * width) / 16_384))
        Parallel.forEach(workers) { worker in
            body((rowCount * worker / workers)..<(rowCount * (worker + 1) / workers))
        }
    }

    @inline(__always)
    private static func layerNormRow(
        _ x: UnsafePointer<Float>, _ width: Int, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
        _ epsilon: Float, _ y: UnsafeMutablePointer<Float>
    ) {
        let vectorEnd = width & ~7
        var sum = SIMD8<Float>()
        var index = 0
        while index < vectorEnd { sum += Vector.load(x + index); index += 8 }
        var total = sum.sum()
        while index < width { total += x[index]; index += 1 }
        let mean = total / Float(width)
        let meanVector = SIMD8<Float>(repeating: mean)
        var squares = SIMD8<Float>()
        index = 0
        while index < vectorEnd {
            let centered = Vector.load(x + index) - meanVector
            squares += centered * centered
            index += 8
        }
        var squareTotal = squares.sum()
        while index < width { let centered = x[index] - mean; squareTotal += centered * centered; index += 1 }
        let inverse = 1 / (squareTotal / Float(width) + epsilon).squareRoot()
        let inverseVector = SIMD8<Float>(repeating: inverse)
        index = 0
        while index < vectorEnd {
            var value = (Vector.load(x + index) - meanVector) * inverseVector * Vector.load(weight + index)
            if let bias { value += Vector.load(bias + index) }
            Vector.store(value, y + index)
            index += 8
        }
        while index < width {
            var value = (x[index] - mean) * inverse * weight[index]
            if let bias { value += bias[index] }
            y[index] = value
            index += 1
        }
    }

    @inline(__always)
    private static func rmsNormRow(
        _ x: UnsafePointer<Float>, _ width: Int, _ weight: UnsafePointer<Float>, _ epsilon: Float,
        _ y: UnsafeMutablePointer<Float>
    ) {
        let vectorEnd = width & ~7
        var squares = SIMD8<Float>()
        var index = 0
        while index < vectorEnd { let value = Vector.load(x + index); squares += value * value; index += 8 }
        var total = squares.sum()
        while index < width { total += x[index] * x[index]; index += 1 }
        let inverse = 1 / (total / Float(width) + epsilon).squareRoot()
        let inverseVector = SIMD8<Float>(repeating: inverse)
        index = 0
        while index < vectorEnd {
            Vector.store(Vector.load(weight + index) * (Vector.load(x + index) * inverseVector), y + index)
            index += 8
        }
        while index < width { y[index] = weight[index] * (x[index] * inverse); index += 1 }
    }
}

/// Unaligned 8-lane loads and stores on `Float` pointers.
enum Vector {
    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load(_ pointer: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
    }

    /// Loads `count < 8` values into the low lanes (the others are zero).
    @inline(__always)
    static func loadPartial(_ pointer: UnsafePointer<Float>, _ count: Int) -> SIMD8<Float> {
        var value = SIMD8<Float>()
        for lane in 0..<count { value[lane] = pointer[lane] }
        return value
    }

    /// Stores the low `count < 8` lanes.
    @inline(__always)
    static func storePartial(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
        for lane in 0..<count { pointer[lane] = value[lane] }
    }
}

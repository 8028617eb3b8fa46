/// Numerically stable softmax over rows.
public enum Softmax {
    /// `y[i] = exp(x[i] − max x) / Σ exp(x[j] − max x)` for each row of a row-major `[rowCount × width]`
    /// buffer; `input` and `output` may alias. Entries of `-∞` get probability exactly 0.
    public static func rows(
        _ input: UnsafePointer<Float>, rowCount: Int, width: Int, into output: UnsafeMutablePointer<Float>, threads: Int
    ) {
        Normalization.forEachRowChunk(rowCount: rowCount, width: width, threads: threads) { rows in
            for row in rows { softmaxRow(input + row * width, width, output + row * width) }
        }
    }

    @inline(__always)
    static func softmaxRow(_ x: UnsafePointer<Float>, _ width: Int, _ y: UnsafeMutablePointer<Float>) {
        var maximum = -Float.infinity
        var index = 0
        var maximumVector = SIMD8<Float>(repeating: -.infinity)
        while index + 8 <= width { maximumVector = FastMath.maximum(maximumVector, Vector.load(x + index)); index += 8 }
        maximum = FastMath.horizontalMaximum(maximumVector)
        while index < width { maximum = max(maximum, x[index]); index += 1 }
        let shift = SIMD8<Float>(repeating: maximum)
        var sumVector = SIMD8<Float>()
        index = 0
        while index + 8 <= width {
            let value = FastMath.exp(Vector.load(x + index) - shift)
            Vector.store(value, y + index)
            sumVector += value
            index += 8
        }
        var sum = sumVector.sum()
        if index < width {
            let value = FastMath.exp(Vector.loadPartial(x + index, width - index) - shift)
            for lane in 0..<(width - index) { y[index + lane] = value[lane]; sum += value[lane] }
        }
        let inverse = SIMD8<Float>(repeating: 1 / sum)
        index = 0
        while index + 8 <= width { Vector.store(Vector.load(y + index) * inverse, y + index); index += 8 }
        while index < width { y[index] *= inverse[0]; index += 1 }
    }
}

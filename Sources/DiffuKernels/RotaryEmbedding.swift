/// Rotary position embedding in the Hugging Face half-split (`rotate_half`) convention.
///
/// For a head vector `x` of width `d` (even) and `j < d/2`, with `θⱼ = position · invFreq[j]`:
/// `y[j] = x[j]·cos θⱼ − x[j + d/2]·sin θⱼ`, `y[j + d/2] = x[j + d/2]·cos θⱼ + x[j]·sin θⱼ`.
///
/// The table reproduces transformers' float32 arithmetic: `invFreq[j] = 1 / Float(base ** (Float(2j) / d))`
/// (the power rounded to float32), the angle `Float(position) · invFreq[j]` rounded to float32, and its
/// cosine and sine rounded to float32.
public struct RotaryTable: Sendable {
    /// Width of one head (the rotation uses `headDimension / 2` frequencies).
    public let headDimension: Int
    /// Positions covered (`0..<positionCount`).
    public let positionCount: Int
    /// `cos θ`, row-major `[positionCount × headDimension/2]`.
    public let cosine: [Float]
    /// `sin θ`, row-major `[positionCount × headDimension/2]`.
    public let sine: [Float]

    /// Builds the table; `headDimension` must be even and positive, `base` positive.
    public init(headDimension: Int, base: Float, positionCount: Int) {
        precondition(headDimension > 0 && headDimension % 2 == 0 && base > 0 && positionCount >= 0)
        self.headDimension = headDimension
        self.positionCount = positionCount
        let half = headDimension / 2
        let inverseFrequencies: [Float] = (0..<half).map { j in
            let exponent = Float(2 * j) / Float(headDimension)
            let power = Float(PreciseMath.pow(Double(base), Double(exponent)))
            return 1 / power
        }
        var cosine = [Float](repeating: 0, count: positionCount * half)
        var sine = [Float](repeating: 0, count: positionCount * half)
        for position in 0..<positionCount {
            for j in 0..<half {
                let angle = Float(position) * inverseFrequencies[j]
                let (s, c) = PreciseMath.sineCosine(Double(angle))
                cosine[position * half + j] = Float(c)
                sine[position * half + j] = Float(s)
            }
        }
        self.cosine = cosine
        self.sine = sine
    }
}

/// Applies rotary embeddings in place.
public enum RotaryEmbedding {
    /// Rotates every head of every row in place.
    ///
    /// Layout: `data` is row-major with `rowStride` floats per row; row `i` holds `headCount` heads of
    /// `table.headDimension` floats, head `h` starting at `h · headDimension`. Row `i` is at position
    /// `firstPosition + i`, which must be `< table.positionCount`.
    public static func apply(
        _ data: UnsafeMutablePointer<Float>,
        rowCount: Int,
        rowStride: Int,
        headCount: Int,
        firstPosition: Int,
        table: RotaryTable,
        threads: Int
    ) {
        precondition(firstPosition >= 0 && firstPosition + rowCount <= table.positionCount)
        let dimension = table.headDimension, half = dimension / 2
        table.cosine.withUnsafeBufferPointer { cosine in
            table.sine.withUnsafeBufferPointer { sine in
                Normalization.forEachRowChunk(rowCount: rowCount, width: headCount * dimension, threads: threads) { rows in
                    for row in rows {
                        let cosRow = cosine.baseAddress! + (firstPosition + row) * half
                        let sinRow = sine.baseAddress! + (firstPosition + row) * half
                        for head in 0..<headCount {
                            rotate(data + row * rowStride + head * dimension, half, cosRow, sinRow)
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func rotate(
        _ x: UnsafeMutablePointer<Float>, _ half: Int, _ cosine: UnsafePointer<Float>, _ sine: UnsafePointer<Float>
    ) {
        var j = 0
        while j + 8 <= half {
            let first = Vector.load(x + j), second = Vector.load(x + half + j)
            let c = Vector.load(cosine + j), s = Vector.load(sine + j)
            Vector.store(first * c - second * s, x + j)
            Vector.store(second * c + first * s, x + half + j)
            j += 8
        }
        while j < half {
            let first = x[j], second = x[half + j]
            x[j] = first * cosine[j] - second * sine[j]
            x[half + j] = second * cosine[j] + first * sine[j]
            j += 1
        }
    }
}

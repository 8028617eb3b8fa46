import DiffuKernels
import DiffuStorage
import DiffuTestSupport
import Foundation
import Testing

/// Deterministic values in [-1, 1) (SplitMix64) so failures reproduce.
struct KernelRandom {
    var generator: SplitMix64
    init(_ seed: UInt64) { generator = SplitMix64(state: seed) }
    mutating func next() -> Float { generator.nextSignedUnit() }
    mutating func values(_ count: Int, scale: Float = 1) -> [Float] { (0..<count).map { _ in next() * scale } }
}

/// The vectorized elementary functions against Foundation's double-precision ones.
@Suite struct FastMathTests {
    @Test func expRelativeError() {
        var worst = 0.0
        var x: Float = -87
        while x <= 88 {
            let vector = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0123 })
            let result = FastMath.exp(vector)
            for lane in 0..<8 {
                let expected = Foundation.exp(Double(vector[lane]))
                worst = max(worst, abs(Double(result[lane]) - expected) / expected)
            }
            x += 0.37
        }
        #expect(worst <= 3e-7, "worst relative error \(worst)")
        #expect(FastMath.exp(-Float.infinity) == 0)
        #expect(FastMath.exp(-100) == 0)
        #expect(FastMath.exp(0) == 1)
    }

    @Test func tanhAndSigmoidRelativeError() {
        var worstTanh = 0.0, worstSigmoid = 0.0
        var x: Float = -12
        while x <= 12 {
            let vector = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0031 })
            let tanh = FastMath.tanh(vector), sigmoid = FastMath.sigmoid(vector)
            for lane in 0..<8 {
                let value = Double(vector[lane])
                let expectedTanh = Foundation.tanh(value)
                if expectedTanh != 0 { worstTanh = max(worstTanh, abs(Double(tanh[lane]) - expectedTanh) / abs(expectedTanh)) }
                let expectedSigmoid = 1 / (1 + Foundation.exp(-value))
                worstSigmoid = max(worstSigmoid, abs(Double(sigmoid[lane]) - expectedSigmoid) / expectedSigmoid)
            }
            x += 0.0517
        }
        #expect(worstTanh <= 5e-7, "tanh worst relative error \(worstTanh)")
        #expect(worstSigmoid <= 5e-7, "sigmoid worst relative error \(worstSigmoid)")
        #expect(FastMath.tanh(1e-6) == 1e-6)
    }

    @Test func preciseMathMatchesFoundation() {
        for x in stride(from: 1.0001, through: 2e6, by: 1234.567) {
            #expect(abs(PreciseMath.log(x) - Foundation.log(x)) <= 2e-15 * abs(Foundation.log(x)))
        }
        for x in stride(from: -50.0, through: 50, by: 0.739) {
            #expect(abs(PreciseMath.exp(x) - Foundation.exp(x)) <= 3e-15 * Foundation.exp(x))
        }
        for angle in stride(from: -3000.0, through: 5000, by: 1.2345) {
            let (sine, cosine) = PreciseMath.sineCosine(angle)
            #expect(abs(sine - Foundation.sin(angle)) <= 1e-14 && abs(cosine - Foundation.cos(angle)) <= 1e-14, "angle \(angle)")
        }
        #expect(abs(PreciseMath.pow(10000, 0.25) - 10) <= 1e-13)
    }
}

/// LayerNorm / RMSNorm against float64 references.
@Suite struct NormalizationTests {
    @Test(arguments: [(7, 37, 1), (40, 1000, 3)])
    func layerNormMatchesReference(rows: Int, width: Int, threads: Int) {
        var random = KernelRandom(11)
        let x = random.values(rows * width, scale: 3).enumerated().map { $0.element + Float($0.offset % 5) * 0.1 }
        let weight = random.values(width).map { $0 + 1.2 }, bias = random.values(width, scale: 0.5)
        var y = [Float](repeating: .nan, count: rows * width)
        Normalization.layerNorm(x, rowCount: rows, width: width, weight: weight, bias: bias, epsilon: 1e-5, into: &y, threads: threads)
        for r in 0..<rows {
            let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
            let mean = row.reduce(0, +) / Double(width)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
            for c in 0..<width {
                let expected = (row[c] - mean) / (variance + 1e-5).squareRoot() * Double(weight[c]) + Double(bias[c])
                #expect(abs(Double(y[r * width + c]) - expected) <= 2e-5 * max(1, abs(expected)))
            }
        }
    }

    @Test(arguments: [(7, 37, 1), (40, 1000, 3)])
    func rmsNormMatchesReference(rows: Int, width: Int, threads: Int) {
        var random = KernelRandom(12)
        let x = random.values(rows * width, scale: 0.05)
        let weight = random.values(width).map { $0 + 1.2 }
        var y = [Float](repeating: .nan, count: rows * width)
        // In place: the output buffer starts as a copy of the input.
        y = x
        y.withUnsafeMutableBufferPointer { buffer in
            Normalization.rmsNorm(buffer.baseAddress!, rowCount: rows, width: width, weight: weight, epsilon: 1e-4,
                                  into: buffer.baseAddress!, threads: threads)
        }
        for r in 0..<rows {
            let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
            let meanSquare = row.map { $0 * $0 }.reduce(0, +) / Double(width)
            for c in 0..<width {
                let expected = row[c] / (meanSquare + 1e-4).squareRoot() * Double(weight[c])
                #expect(abs(Double(y[r * width + c]) - expected) <= 2e-5 * max(1, abs(expected)))
            }
        }
    }
}

/// Activations against float64 formulas.
@Suite struct ActivationTests {
    static func geluTanhReference(_ x: Double) -> Double {
        0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    }

    @Test(arguments: [(1003, 1), (70_001, 3)])
    func geluTanhMatchesGeluNew(count: Int, threads: Int) {
        var random = KernelRandom(21)
        let x = random.values(count, scale: 8)
        var y = [Float](repeating: .nan, count: count)
        Activations.geluTanh(x, count: count, into: &y, threads: threads)
        for i in 0..<count {
            let expected = Self.geluTanhReference(Double(x[i]))
            #expect(abs(Double(y[i]) - expected) <= 1e-6 * max(1, abs(expected)), "x = \(x[i])")
        }
        // The tolerance discriminates tanh-GELU from erf-GELU (they differ by 4.7e-4 at x = 2.7).
        let erfGelu = 0.5 * 2.7 * (1 + erf(2.7 / 2.0.squareRoot()))
        #expect(abs(Self.geluTanhReference(2.7) - erfGelu) > 4e-4)
    }

    @Test(arguments: [(1003, 1), (70_001, 3)])
    func siluAndSwiGLUMatchReference(count: Int, threads: Int) {
        var random = KernelRandom(22)
        let gate = random.values(count, scale: 12), up = random.values(count, scale: 2)
        var silu = [Float](repeating: .nan, count: count)
        var swiglu = [Float](repeating: .nan, count: count)
        Activations.silu(gate, count: count, into: &silu, threads: threads)
        Activations.swiGLU(gate: gate, up: up, count: count, into: &swiglu, threads: threads)
        for i in 0..<count {
            let g = Double(gate[i])
            let expected = g / (1 + Foundation.exp(-g))
            #expect(abs(Double(silu[i]) - expected) <= 1e-6 * max(1, abs(expected)))
            #expect(abs(Double(swiglu[i]) - expected * Double(up[i])) <= 1e-6 * max(1, abs(expected * Double(up[i]))))
        }
    }

    @Test func residualAdd() {
        var random = KernelRandom(23)
        let a = random.values(70_003), b = random.values(70_003)
        var sum = a
        Activations.add(b, into: &sum, count: a.count, threads: 3)
        #expect(sum == zip(a, b).map { $0 + $1 })
    }
}

/// Softmax against a float64 reference, with masked (−∞) entries.
@Suite struct SoftmaxTests {
    @Test func softmaxRows() {
        var random = KernelRandom(31)
        let rows = 5, width = 29
        var x = random.values(rows * width, scale: 20)
        x[3] = -.infinity
        x[width + 28] = -.infinity
        var y = [Float](repeating: .nan, count: x.count)
        Softmax.rows(x, rowCount: rows, width: width, into: &y, threads: 2)
        for r in 0..<rows {
            let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
            let maximum = row.max()!
            let exps = row.map { Foundation.exp($0 - maximum) }
            let total = exps.reduce(0, +)
            for c in 0..<width {
                #expect(abs(Double(y[r * width + c]) - exps[c] / total) <= 1e-6)
            }
        }
        #expect(y[3] == 0 && y[width + 28] == 0)
    }
}

/// RoPE: the table reproduces transformers' float32 recipe, the rotation the half-split layout.
@Suite struct RotaryEmbeddingTests {
    @Test(arguments: [Float(10000), 1_000_000, 500_000])
    func tableMatchesFloat32Recipe(theta: Float) {
        let dimension = 16, positions = 300
        let table = RotaryTable(headDimension: dimension, base: theta, positionCount: positions)
        for j in 0..<(dimension / 2) {
            // transformers: inv_freq = 1 / (base ** (arange(0, d, 2).float() / d)) in float32.
            let power = Float(Foundation.pow(Double(theta), Double(Float(2 * j) / Float(dimension))))
            let inverse = 1 / power
            for position in [0, 1, 7, 299] {
                let angle = Float(position) * inverse
                #expect(table.cosine[position * dimension / 2 + j] == Float(Foundation.cos(Double(angle))))
                #expect(table.sine[position * dimension / 2 + j] == Float(Foundation.sin(Double(angle))))
            }
        }
    }

    @Test func halfSplitRotation() {
        let heads = 3, dimension = 12, rows = 5, first = 2, stride = heads * dimension + 4
        var random = KernelRandom(41)
        let original = random.values(rows * stride)
        var data = original
        let theta: Float = 1000
        let table = RotaryTable(headDimension: dimension, base: theta, positionCount: 16)
        RotaryEmbedding.apply(&data, rowCount: rows, rowStride: stride, headCount: heads, firstPosition: first, table: table, threads: 2)
        let half = dimension / 2
        for row in 0..<rows {
            for head in 0..<heads {
                let base = row * stride + head * dimension
                for j in 0..<half {
                    let frequency = 1 / Foundation.pow(Double(theta), Double(2 * j) / Double(dimension))
                    let angle = Double(first + row) * frequency
                    let x1 = Double(original[base + j]), x2 = Double(original[base + half + j])
                    #expect(abs(Double(data[base + j]) - (x1 * Foundation.cos(angle) - x2 * Foundation.sin(angle))) <= 1e-5)
                    #expect(abs(Double(data[base + half + j]) - (x2 * Foundation.cos(angle) + x1 * Foundation.sin(angle))) <= 1e-5)
                }
            }
            // Padding past the heads is untouched.
            for extra in (heads * dimension)..<stride { #expect(data[row * stride + extra] == original[row * stride + extra]) }
        }
    }
}

/// Blocked attention against a naive float64 implementation.
@Suite struct AttentionTests {
    /// Naive attention: query head h uses key/value head h / (heads / kvHeads).
    static func reference(
        _ q: [Float], _ k: [Float], _ v: [Float], queries: Int, keys: Int, heads: Int, kvHeads: Int, dimension: Int,
        causal: Bool, offset: Int, scale: Double
    ) -> [Double] {
        var out = [Double](repeating: 0, count: queries * heads * dimension)
        let group = heads / kvHeads
        for h in 0..<heads {
            let g = h / group
            for i in 0..<queries {
                let visible = causal ? min(keys, offset + i + 1) : keys
                var scores = [Double](repeating: 0, count: visible)
                for j in 0..<visible {
                    var dot = 0.0
                    for d in 0..<dimension {
                        dot += Double(q[i * heads * dimension + h * dimension + d]) * Double(k[j * kvHeads * dimension + g * dimension + d])
                    }
                    scores[j] = dot * scale
                }
                let maximum = scores.max()!
                let weights = scores.map { Foundation.exp($0 - maximum) }
                let total = weights.reduce(0, +)
                for d in 0..<dimension {
                    var sum = 0.0
                    for j in 0..<visible { sum += weights[j] * Double(v[j * kvHeads * dimension + g * dimension + d]) }
                    out[i * heads * dimension + h * dimension + d] = sum / total
                }
            }
        }
        return out
    }

    @Test(arguments: [
        (70, 4, 2, 12, false, 1), (70, 4, 2, 12, true, 3), (150, 2, 1, 16, false, 3), (150, 2, 1, 16, true, 2),
        (9, 6, 3, 8, true, 1), (33, 4, 4, 64, false, 2), (37, 2, 1, 48, true, 2), (65, 2, 2, 128, false, 2),
    ])
    func matchesNaiveReference(length: Int, heads: Int, kvHeads: Int, dimension: Int, causal: Bool, threads: Int) {
        var random = KernelRandom(UInt64(51 + length + dimension))
        // Spread large enough for peaked softmax rows.
        let q = random.values(length * heads * dimension, scale: 3)
        let k = random.values(length * kvHeads * dimension, scale: 3)
        let v = random.values(length * kvHeads * dimension)
        var out = [Float](repeating: .nan, count: length * heads * dimension)
        let scale = Float(1 / Double(dimension).squareRoot())
        let geometry = AttentionGeometry(queryCount: length, keyCount: length, headCount: heads, keyValueHeadCount: kvHeads,
                                         headDimension: dimension, causal: causal)
        let expected = Self.reference(q, k, v, queries: length, keys: length, heads: heads, kvHeads: kvHeads, dimension: dimension,
                                      causal: causal, offset: 0, scale: Double(scale))
        for variant in KernelVariant.supported {
            out = [Float](repeating: .nan, count: length * heads * dimension)
            Attention.compute(query: q, key: k, value: v, output: &out, geometry: geometry, scale: scale, threads: threads,
                              variant: variant)
            var worst = 0.0
            for index in out.indices { worst = max(worst, abs(Double(out[index]) - expected[index])) }
            #expect(worst <= 2e-6, "\(variant): max |Δ| \(worst)")
        }
    }

    /// Causal vs bidirectional differ exactly where they should; the first row of causal attention is v[0].
    @Test func causalFirstRowIsFirstValue() {
        var random = KernelRandom(61)
        let length = 20, heads = 2, dimension = 8
        let q = random.values(length * heads * dimension), k = random.values(length * heads * dimension)
        let v = random.values(length * heads * dimension)
        var causal = [Float](repeating: .nan, count: q.count), bidirectional = causal
        var geometry = AttentionGeometry(queryCount: length, keyCount: length, headCount: heads, keyValueHeadCount: heads,
                                         headDimension: dimension, causal: true)
        Attention.compute(query: q, key: k, value: v, output: &causal, geometry: geometry, scale: 0.3, threads: 1)
        geometry.causal = false
        Attention.compute(query: q, key: k, value: v, output: &bidirectional, geometry: geometry, scale: 0.3, threads: 1)
        for d in 0..<(heads * dimension) { #expect(abs(causal[d] - v[d]) <= 1e-6) }
        // The last query sees every key in both modes.
        let last = (length - 1) * heads * dimension
        for d in 0..<(heads * dimension) { #expect(abs(causal[last + d] - bidirectional[last + d]) <= 1e-6) }
        #expect(abs(causal[0] - bidirectional[0]) > 1e-3)
    }

    /// Queries placed after a prefix of keys (the shape a prefix KV cache would produce).
    @Test func queriesAfterPrefix() {
        var random = KernelRandom(71)
        let keys = 90, queries = 20, heads = 4, kvHeads = 2, dimension = 16
        let q = random.values(queries * heads * dimension, scale: 2)
        let k = random.values(keys * kvHeads * dimension, scale: 2), v = random.values(keys * kvHeads * dimension)
        for causal in [false, true] {
            var geometry = AttentionGeometry(queryCount: queries, keyCount: keys, headCount: heads, keyValueHeadCount: kvHeads,
                                             headDimension: dimension, causal: causal)
            geometry.queryPositionOffset = keys - queries
            let expected = Self.reference(q, k, v, queries: queries, keys: keys, heads: heads, kvHeads: kvHeads, dimension: dimension,
                                          causal: causal, offset: keys - queries, scale: 0.25)
            for variant in KernelVariant.supported {
                var out = [Float](repeating: .nan, count: q.count)
                Attention.compute(query: q, key: k, value: v, output: &out, geometry: geometry, scale: 0.25, threads: 2, variant: variant)
                var worst = 0.0
                for index in out.indices { worst = max(worst, abs(Double(out[index]) - expected[index])) }
                #expect(worst <= 2e-6, "\(variant) causal \(causal): max |Δ| \(worst)")
            }
        }
    }
}

/// Embedding rows decoded from every storage type equal the reference decoder's rows.
@Suite struct EmbeddingTests {
    @Test(arguments: [StorageType.f32, .f16, .bf16, .q8, .q4])
    func gatherMatchesReferenceDecoder(storage: StorageType) throws {
        let rows = 37, columns = 70
        var random = KernelRandom(81)
        let matrix = random.values(rows * columns, scale: 2)
        let geometry = try #require(PanelGeometry(rows: rows, columns: columns, storage: storage))
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: geometry.byteCount, alignment: 64)
        defer { payload.deallocate() }
        try matrix.withUnsafeBufferPointer { try WeightPacking.pack($0, geometry: geometry, into: payload) }
        let table = WeightMatrix(geometry: geometry, base: UnsafeRawPointer(payload.baseAddress!))
        let tokens: [Int32] = [0, 36, 15, 16, 15, 31]
        var gathered = [Float](repeating: .nan, count: tokens.count * columns)
        Embedding.gather(table, rows: tokens, rowCount: tokens.count, into: &gathered, threads: 2)
        var expected = [Float](repeating: 0, count: columns)
        for (index, token) in tokens.enumerated() {
            expected.withUnsafeMutableBufferPointer {
                WeightPacking.decodeRow(UnsafeRawBufferPointer(payload), row: Int(token), geometry: geometry, into: $0)
            }
            #expect(Array(gathered[(index * columns)..<((index + 1) * columns)]) == expected)
        }
    }
}

/// Projections through quantized weights stay within the bound implied by the documented per-value
/// quantization error (DiffuStorage/WeightPacking.swift): |y_q − y| ≤ Σₖ |xₖ| · e(block of k), with
/// e = amax/254 + amax·2⁻¹¹ (q8) and amax/8 + amax·2⁻¹⁰ (q4), plus f32 arithmetic slack.
@Suite struct QuantizedProjectionTests {
    @Test(arguments: [StorageType.q8, .q4])
    func projectionWithinDocumentedBound(storage: StorageType) throws {
        let outputs = 40, inputs = 100, rowCount = 3
        var random = KernelRandom(91)
        let w = random.values(outputs * inputs, scale: 1.5), x = random.values(rowCount * inputs, scale: 2)
        let geometry = try #require(PanelGeometry(rows: outputs, columns: inputs, storage: storage))
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: geometry.byteCount, alignment: 64)
        defer { payload.deallocate() }
        try w.withUnsafeBufferPointer { try WeightPacking.pack($0, geometry: geometry, into: payload) }
        var y = [Float](repeating: .nan, count: rowCount * outputs)
        MatrixMultiply.multiply(x, rowCount: rowCount, weights: WeightMatrix(geometry: geometry, base: UnsafeRawPointer(payload.baseAddress!)),
                                into: &y, threads: 2)
        for l in 0..<rowCount {
            for n in 0..<outputs {
                var exact = 0.0, bound = 0.0
                for k in 0..<inputs {
                    exact += Double(x[l * inputs + k]) * Double(w[n * inputs + k])
                    let block = (k / 32) * 32
                    let amax = Double(w[(n * inputs + block)..<(n * inputs + min(inputs, block + 32))].map(abs).max()!)
                    let error = storage == .q8 ? amax / 254 + amax * 0x1p-11 : amax / 8 + amax * 0x1p-10
                    bound += abs(Double(x[l * inputs + k])) * error
                }
                #expect(abs(Double(y[l * outputs + n]) - exact) <= bound + 1e-4, "l \(l) n \(n)")
            }
        }
    }
}

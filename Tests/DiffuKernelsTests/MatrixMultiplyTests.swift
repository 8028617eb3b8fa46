import Testing
import DiffuKernels
import DiffuStorage

/// One GEMM problem: `rowCount` activation rows, `rows` outputs N, `columns` inputs K.
struct GemmShape: Sendable, CustomStringConvertible {
    let rowCount: Int
    let rows: Int
    let columns: Int
    let withBias: Bool

    var description: String { "L\(rowCount) N\(rows) K\(columns)\(withBias ? " bias" : "")" }

    /// Shapes covering every edge of the blocking: one row, row tails of the 6-row groups, N not a multiple
    /// of 16 (partial last panel), K not a multiple of 32 (padded last block), more than one 256-input
    /// chunk (sums in the scratch block), more than one 256-output panel block, both at once, and both
    /// thread splits (L100 N40 splits rows at 2 and 3 threads; L80 N300 splits panels at 2 threads and
    /// rows at 3).
    static let all: [GemmShape] = [
        GemmShape(rowCount: 1, rows: 17, columns: 33, withBias: true),
        GemmShape(rowCount: 3, rows: 41, columns: 100, withBias: true),
        GemmShape(rowCount: 17, rows: 300, columns: 70, withBias: false),
        GemmShape(rowCount: 100, rows: 40, columns: 300, withBias: true),
        GemmShape(rowCount: 30, rows: 16, columns: 32, withBias: false),
        GemmShape(rowCount: 80, rows: 300, columns: 300, withBias: true),
        // Integer route: three 8-row groups and a 4-row tail of which 2 rows are real; K > 8 blocks.
        GemmShape(rowCount: 26, rows: 48, columns: 320, withBias: true),
    ]
}

@Suite struct MatrixMultiplyTests {
    /// The kernel must equal a float64 product of the activations with the *decoded* weights
    /// (`WeightPacking.decodeRow`, the scalar reference decoder), for every storage type, odd shapes and
    /// 1, 2 or 3 threads; it must write exactly the `L × N` outputs and nothing past them, and read no
    /// activation past `L × K`. It runs for every kernel variant this CPU supports; the integer
    /// variants (`avx2`, `avx512`) multiply q8/q4 weights by int8-rounded activations, so its reference rounds them first
    /// (llama.cpp's Q8_0 rule, re-implemented here: per 32-input block `d = max|x| / 127`,
    /// `q = round(x / d)`) and is then held to the same tolerance.
    @Test(arguments: [StorageType.f32, .f16, .bf16, .q8, .q4], GemmShape.all)
    func matchesDecodedReference(storage: StorageType, shape: GemmShape) throws {
        #expect(KernelVariant.supported.contains(.avx2) || KernelVariant.supported.contains(.baseline))
        for variant in KernelVariant.supported {
            try checkAgainstDecodedReference(storage: storage, shape: shape, variant: variant)
        }
    }

    /// The activations as the integer route sees them: each 32-input block rounded to `q · d`.
    static func roundedActivations(_ x: [Float], rowCount: Int, columns: Int) -> [Float] {
        var rounded = x
        for l in 0..<rowCount {
            for blockStart in stride(from: 0, to: columns, by: 32) {
                let range = (l * columns + blockStart)..<(l * columns + min(columns, blockStart + 32))
                let largest = x[range].map { abs($0) }.max() ?? 0
                let d = largest / 127
                let inverse: Float = d == 0 ? 0 : 1 / d
                for index in range { rounded[index] = (x[index] * inverse).rounded(.toNearestOrEven) * d }
            }
        }
        return rounded
    }

    func checkAgainstDecodedReference(storage: StorageType, shape: GemmShape, variant: KernelVariant) throws {
        let rowCount = shape.rowCount, rows = shape.rows, columns = shape.columns
        var state: UInt64 = 7 &+ UInt64(rows * 131 + columns)
        func random() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
        let w = (0..<(rows * columns)).map { _ in random() }
        // NaN guard after the activations: reading past the last row would turn outputs into NaN.
        let x = (0..<(rowCount * columns)).map { _ in random() } + [Float](repeating: .nan, count: 64)
        let bias = (0..<rows).map { _ in random() }
        let geometry = try #require(PanelGeometry(rows: rows, columns: columns, storage: storage))
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: geometry.byteCount, alignment: 64)
        defer { payload.deallocate() }
        try w.withUnsafeBufferPointer { try WeightPacking.pack($0, geometry: geometry, into: payload) }
        var decoded = [Float](repeating: 0, count: rows * columns)
        for n in 0..<rows {
            decoded.withUnsafeMutableBufferPointer { buffer in
                let slice = UnsafeMutableBufferPointer(rebasing: buffer[(n * columns)..<((n + 1) * columns)])
                WeightPacking.decodeRow(UnsafeRawBufferPointer(payload), row: n, geometry: geometry, into: slice)
            }
        }
        let integerRoute = variant.multipliesInIntegers(storage)
        let seen = integerRoute ? Self.roundedActivations(x, rowCount: rowCount, columns: columns) : x
        var expected = [Double](repeating: 0, count: rowCount * rows)
        var magnitude = [Double](repeating: 0, count: rowCount * rows)
        for l in 0..<rowCount {
            for n in 0..<rows {
                var sum = shape.withBias ? Double(bias[n]) : 0, size = abs(sum)
                for k in 0..<columns {
                    let term = Double(seen[l * columns + k]) * Double(decoded[n * columns + k])
                    sum += term
                    size += abs(term)
                }
                expected[l * rows + n] = sum
                magnitude[l * rows + n] = size
            }
        }
        let matrix = WeightMatrix(geometry: geometry, base: UnsafeRawPointer(payload.baseAddress!))
        let guardCount = 37
        for threads in [1, 2, 3] {
            var y = [Float](repeating: .nan, count: rowCount * rows + guardCount)
            x.withUnsafeBufferPointer { xp in
                bias.withUnsafeBufferPointer { bp in
                    y.withUnsafeMutableBufferPointer { yp in
                        MatrixMultiply.multiply(
                            xp.baseAddress!, rowCount: rowCount, weights: matrix,
                            bias: shape.withBias ? bp.baseAddress! : nil, into: yp.baseAddress!, threads: threads,
                            variant: variant)
                    }
                }
            }
            var failures = 0
            for index in 0..<(rowCount * rows) where failures < 5 {
                // f32 accumulation: error ≤ K·ε·Σ|terms| in the worst case; far below that in practice.
                let tolerance = 1e-6 + 4e-6 * magnitude[index]
                if !(abs(Double(y[index]) - expected[index]) <= tolerance) {
                    failures += 1
                    Issue.record("\(variant) threads \(threads) l \(index / rows) n \(index % rows): \(y[index]) vs \(expected[index])")
                }
            }
            #expect(y[(rowCount * rows)...].allSatisfy { $0.isNaN }, "\(variant) threads \(threads): wrote past y")
        }
    }

    /// A NaN or infinite activation must reach its row's outputs (the samplers reject non-finite logits):
    /// every variant, q8, q4 and f32 weights; the other rows stay finite.
    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteActivationsPropagate(value: Float) throws {
        let rowCount = 9, rows = 20, columns = 70
        for storage in [StorageType.q8, .q4, .f32] {
            let geometry = try #require(PanelGeometry(rows: rows, columns: columns, storage: storage))
            let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: geometry.byteCount, alignment: 64)
            defer { payload.deallocate() }
            let w = (0..<(rows * columns)).map { Float(($0 * 37) % 101 - 50) / 50 }
            try w.withUnsafeBufferPointer { try WeightPacking.pack($0, geometry: geometry, into: payload) }
            let matrix = WeightMatrix(geometry: geometry, base: UnsafeRawPointer(payload.baseAddress!))
            var x = (0..<(rowCount * columns)).map { Float(($0 * 13) % 29 - 14) / 7 }
            x[3 * columns + 40] = value
            for variant in KernelVariant.supported {
                var y = [Float](repeating: 0, count: rowCount * rows)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        MatrixMultiply.multiply(xp.baseAddress!, rowCount: rowCount, weights: matrix, into: yp.baseAddress!,
                                                threads: 2, variant: variant)
                    }
                }
                for l in 0..<rowCount {
                    let row = y[(l * rows)..<((l + 1) * rows)]
                    if l == 3 {
                        #expect(row.allSatisfy { !$0.isFinite }, "\(variant) \(storage) \(value): row 3 \(Array(row.prefix(4)))")
                    } else {
                        #expect(row.allSatisfy { $0.isFinite }, "\(variant) \(storage) \(value): row \(l)")
                    }
                }
            }
        }
    }

    /// `TileDecoder` (one block to 32 × 16 f32, input-major) must agree with the reference row decoder.
    @Test(arguments: [StorageType.f32, .f16, .bf16, .q8, .q4])
    func tileDecoderMatchesReference(storage: StorageType) throws {
        let rows = 20, columns = 40
        let w = (0..<(rows * columns)).map { Float(($0 * 37) % 101 - 50) / 17 }
        let geometry = try #require(PanelGeometry(rows: rows, columns: columns, storage: storage))
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: geometry.byteCount, alignment: 64)
        defer { payload.deallocate() }
        try w.withUnsafeBufferPointer { try WeightPacking.pack($0, geometry: geometry, into: payload) }
        let matrix = WeightMatrix(geometry: geometry, base: UnsafeRawPointer(payload.baseAddress!))
        var row = [Float](repeating: 0, count: columns)
        let tile = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: 32)
        defer { tile.deallocate() }
        for n in 0..<rows {
            row.withUnsafeMutableBufferPointer {
                WeightPacking.decodeRow(UnsafeRawBufferPointer(payload), row: n, geometry: geometry, into: $0)
            }
            for block in 0..<geometry.blockCount {
                TileDecoder.decode(matrix, panel: n / 16, block: block, into: tile)
                for k in 0..<32 where block * 32 + k < columns {
                    #expect(tile[k][n % 16] == row[block * 32 + k], "n \(n) k \(block * 32 + k)")
                }
            }
        }
    }
}

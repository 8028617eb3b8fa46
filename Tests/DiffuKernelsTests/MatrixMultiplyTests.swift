import Testing
import DiffuKernels
import DiffuStorage

@Suite struct MatrixMultiplyTests {
    /// The kernel must equal a float64 product of the activations with the *decoded* weights,
    /// for every storage type, odd shapes and 1 or 2 threads.
    @Test(arguments: [StorageType.f32, .f16, .bf16, .q8, .q4], [1, 2])
    func matchesDecodedReference(storage: StorageType, threads: Int) throws {
        let rowCount = 5, rows = 41, columns = 100
        var state: UInt64 = 7
        func random() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
        let w = (0..<(rows * columns)).map { _ in random() }
        let x = (0..<(rowCount * columns)).map { _ in random() }
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
        let matrix = WeightMatrix(geometry: geometry, base: UnsafeRawPointer(payload.baseAddress!))
        var y = [Float](repeating: .nan, count: rowCount * rows)
        x.withUnsafeBufferPointer { xp in
            bias.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    MatrixMultiply.multiply(xp.baseAddress!, rowCount: rowCount, weights: matrix, bias: bp.baseAddress!, into: yp.baseAddress!, threads: threads)
                }
            }
        }
        for l in 0..<rowCount {
            for n in 0..<rows {
                var expected = Double(bias[n])
                for k in 0..<columns { expected += Double(x[l * columns + k]) * Double(decoded[n * columns + k]) }
                #expect(abs(Double(y[l * rows + n]) - expected) <= 1e-4 * max(1, abs(expected)), "l \(l) n \(n)")
            }
        }
    }
}

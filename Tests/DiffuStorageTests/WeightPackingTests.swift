import Testing
import DiffuStorage
import DiffuTestSupport

@Suite struct WeightPackingTests {
    /// Round trip through every storage type with the documented per-value error bound.
    @Test(arguments: [StorageType.f32, .f16, .bf16, .q8, .q4])
    func roundTripWithinBound(storage: StorageType) throws {
        let rows = 37, columns = 70  // neither a multiple of 16 nor of 32: padding is exercised
        var generator = SplitMix64(state: 42)
        let matrix = (0..<(rows * columns)).map { _ in generator.nextSignedUnit() * 3 }
        let geometry = try #require(PanelGeometry(rows: rows, columns: columns, storage: storage))
        var payload = [UInt8](repeating: 0xFF, count: geometry.byteCount)
        try matrix.withUnsafeBufferPointer { source in
            try payload.withUnsafeMutableBytes { try WeightPacking.pack(source, geometry: geometry, into: $0) }
        }
        var decoded = [Float](repeating: .nan, count: columns)
        for row in 0..<rows {
            payload.withUnsafeBytes { bytes in
                decoded.withUnsafeMutableBufferPointer { WeightPacking.decodeRow(bytes, row: row, geometry: geometry, into: $0) }
            }
            for column in 0..<columns {
                let block = column / 32
                let blockValues = matrix[(row * columns + block * 32)..<(row * columns + min(columns, block * 32 + 32))]
                let amax = blockValues.map(abs).max()!
                let original = matrix[row * columns + column]
                let bound: Float = switch storage {
                case .f32: 0
                case .f16: abs(original) * 0x1p-11
                case .bf16: abs(original) * 0x1p-8
                case .q8: amax / 254 + amax * 0x1p-11
                case .q4: amax / 8 + amax * 0x1p-10
                case .bytes: 0
                }
                #expect(abs(decoded[column] - original) <= bound, "row \(row) column \(column)")
            }
        }
    }

    @Test func q4MatchesLlamaCppQ4_0Rounding() throws {
        // One block of one row: values chosen so x/d + 8.5 lands on exact halves.
        var row = [Float](repeating: 0, count: 32)
        row[0] = -8  // largest magnitude, negative: d = -8 / -8 = 1
        row[1] = 7.5  // 7.5 + 8.5 = 16 → clamped to 15 → q = 7
        row[2] = -0.5  // 8.0 → q = 0
        row[3] = 0.49  // 8.99 → 8 → q = 0
        row[4] = 0.5  // 9.0 → q = 1
        let geometry = try #require(PanelGeometry(rows: 1, columns: 32, storage: .q4))
        var payload = [UInt8](repeating: 0, count: geometry.byteCount)
        try row.withUnsafeBufferPointer { source in
            try payload.withUnsafeMutableBytes { try WeightPacking.pack(source, geometry: geometry, into: $0) }
        }
        var decoded = [Float](repeating: 0, count: 32)
        payload.withUnsafeBytes { bytes in
            decoded.withUnsafeMutableBufferPointer { WeightPacking.decodeRow(bytes, row: 0, geometry: geometry, into: $0) }
        }
        #expect(Array(decoded[0..<5]) == [-8, 7, 0, 0, 1])
        #expect(payload[32] == 0x00 | (8 << 4))  // input 0 → nibble 0, input 16 (zero) → nibble 8
    }

    /// Blocks so small that `1 / d` overflows (`d` = amax/127 or m/−8 below ~3·10⁻³⁹, found by the GGUF
    /// fuzz target in a subnormal-scale Q4_K block): quantized to zero codes with a zero f16 scale — the
    /// f16 scale of such a block is 0 whatever the codes — instead of trapping on `Int8(±∞)`.
    @Test(arguments: [StorageType.q8, .q4], [Float(1e-40), 2.5e-38, -Float.leastNonzeroMagnitude])
    func blocksTooSmallForTheirInverseScaleBecomeZero(storage: StorageType, amax: Float) throws {
        let geometry = try #require(PanelGeometry(rows: 1, columns: 32, storage: storage))
        var payload = [UInt8](repeating: 0xFF, count: geometry.byteCount)
        let values = (0..<32).map { Float($0 % 5) / 4 * amax }
        try values.withUnsafeBufferPointer { source in
            try payload.withUnsafeMutableBytes { try WeightPacking.pack(source, geometry: geometry, into: $0) }
        }
        var decoded = [Float](repeating: .nan, count: 32)
        payload.withUnsafeBytes { bytes in
            decoded.withUnsafeMutableBufferPointer { WeightPacking.decodeRow(bytes, row: 0, geometry: geometry, into: $0) }
        }
        #expect(decoded.allSatisfy { $0 == 0 })
    }

    @Test func nonFiniteInputIsRejected() throws {
        let geometry = try #require(PanelGeometry(rows: 1, columns: 4, storage: .q8))
        var payload = [UInt8](repeating: 0, count: geometry.byteCount)
        let values: [Float] = [1, .nan, 2, 3]
        #expect(throws: StorageError.nonFiniteValue(index: 1)) {
            try values.withUnsafeBufferPointer { source in
                try payload.withUnsafeMutableBytes { try WeightPacking.pack(source, geometry: geometry, into: $0) }
            }
        }
    }

    @Test func byteCountsRejectOverflowAndInvalidCombinations() {
        #expect(TensorGeometry.byteCount(shape: [Int.max / 2, 4], storage: .f32, layout: .rowMajor) == nil)
        #expect(TensorGeometry.byteCount(shape: [Int.max, Int.max], storage: .q4, layout: .panel16) == nil)
        #expect(TensorGeometry.byteCount(shape: [4, 4], storage: .q8, layout: .rowMajor) == nil)
        #expect(TensorGeometry.byteCount(shape: [2, 3, 4], storage: .f16, layout: .panel16) == nil)
        #expect(TensorGeometry.byteCount(shape: [0, 4], storage: .f32, layout: .rowMajor) == nil)
        #expect(TensorGeometry.byteCount(shape: [17, 33], storage: .q8, layout: .panel16) == 2 * 2 * 544)
        #expect(TensorGeometry.byteCount(shape: [3, 5], storage: .bf16, layout: .rowMajor) == 30)
    }
}

import DiffuGGUF
import DiffuStorage
import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuConvert

/// The ggml block types against the `gguf` package's reference dequantizer: `blocks.gguf` holds random
/// but valid blocks, edge blocks and reference-quantized blocks of every imported type, and one `.npy`
/// per tensor holds what `gguf.quants.dequantize` makes of them (`tools/fixtures/make_gguf_block_fixtures.py`).
@Suite struct GGMLBlockTests {
    static let fixture = Fixtures.path("convert", "blocks/blocks.gguf")
    static let typeNames = ["q4_k", "q5_k", "q6_k", "q5_0", "q5_1", "q8_0", "q4_0", "q4_1", "f16", "bf16"]

    static func tensor(_ name: String, in path: String = fixture) throws -> SourceTensor {
        try #require(try GGUFCheckpoint.open(path: path).tensors[name], "no tensor \(name)")
    }

    static func expected(_ name: String) throws -> NumpyArray {
        try NumpyArray(path: Fixtures.path("convert", "blocks/\(name).npy"))
    }

    /// The names of the fixture's tensors of one type (`random`, `edge`, and `quantized` where gguf-py
    /// quantizes that type).
    static func names(of type: String) throws -> [String] {
        let names = try GGUFCheckpoint.open(path: fixture).tensors.keys.filter { $0.hasPrefix(type + ".") }.sorted()
        #expect(names.count >= 2, "\(type): \(names)")
        return names
    }

    /// The GGUF's raw bytes of one tensor.
    static func rawBytes(_ name: String) throws -> [UInt8] {
        let bytes = try Fixtures.bytes("convert", "blocks/blocks.gguf")
        let info = try #require(try GGUFFile.parse(bytes).tensor(named: name))
        let count = try #require(info.byteCount)
        return Array(bytes[info.absoluteOffset..<(info.absoluteOffset + count)])
    }

    /// Encodes `source` as a whole matrix in `storage` through the converter's matrix route.
    static func encode(_ source: SourceTensor, storage: StorageType, transform: TensorTransform = .identity) throws -> [UInt8] {
        let planned = PlannedTensor(name: "matrix", shape: source.shape, kind: .matrix, source: source, transform: transform)
        var cache = Converter.SourceCache()
        return try Converter.encode(planned, storage: storage, cache: &cache, threadCount: 1, chunkElements: 4 << 20)
    }

    static func decode(_ payload: [UInt8], rows: Int, columns: Int, storage: StorageType) throws -> [Float] {
        let geometry = try #require(PanelGeometry(rows: rows, columns: columns, storage: storage))
        var output = [Float](repeating: 0, count: rows * columns)
        payload.withUnsafeBytes { raw in
            output.withUnsafeMutableBufferPointer { result in
                for row in 0..<rows {
                    WeightPacking.decodeRow(raw, row: row, geometry: geometry,
                                            into: UnsafeMutableBufferPointer(rebasing: result[(row * columns)..<((row + 1) * columns)]))
                }
            }
        }
        return output
    }

    @Test(arguments: typeNames)
    func dequantizesBitExactlyLikeGGUFPy(type: String) throws {
        for name in try Self.names(of: type) {
            let source = try Self.tensor(name)
            let reference = try Self.expected(name)
            #expect(source.elementType?.description.lowercased() == type)
            #expect(source.shape == reference.shape, "\(name)")
            #expect(firstMismatch(try source.readFloats(), reference.values) == nil, "\(name) differs from gguf.quants.dequantize")
            guard source.shape.count == 2 else { continue }  // rank 1 (q6_k.vector) is read whole
            // A row range starts at its own byte offset.
            let tail = try source.readFloats(rows: 1..<source.rowCount)
            #expect(firstMismatch(tail, Array(reference.values[source.rowLength...])) == nil, "\(name), rows 1…")
        }
    }

    @Test func rankOneKQuantIsReadWhole() throws {
        let source = try Self.tensor("q6_k.vector")
        #expect(source.shape == [256])
        #expect(firstMismatch(try source.readFloats(), try Self.expected("q6_k.vector").values) == nil)
    }

    /// Blocks without a single-scale form are decoded and quantized by the recipe: f32 storage holds
    /// gguf-py's values exactly, q8/q4 exactly what `WeightPacking.pack` makes of those values.
    @Test(arguments: ["q4_k", "q5_k", "q6_k", "q5_1", "q4_1"], [StorageType.f32, .f16, .q8, .q4])
    func requantizesTheDecodedValuesWithTheRecipe(type: String, storage: StorageType) throws {
        let name = type + ".random"
        let source = try Self.tensor(name)
        let reference = try Self.expected(name)
        let payload = try Self.encode(source, storage: storage)
        let geometry = try #require(PanelGeometry(rows: source.rowCount, columns: source.rowLength, storage: storage))
        var expected = [UInt8](repeating: 0, count: geometry.byteCount)
        try reference.values.withUnsafeBufferPointer { values in
            try expected.withUnsafeMutableBytes { try WeightPacking.pack(values, geometry: geometry, into: $0) }
        }
        #expect(payload == expected, "\(name) as \(storage)")
    }

    /// The scale bits and codes of block `block` as the GGUF stores them, read here from the layout of
    /// llama.cpp's `block_q8_0` / `block_q4_0` / `block_q5_0`.
    static func ggufBlock(_ raw: [UInt8], type: String, index: Int) -> (scale: UInt16, codes: [Int]) {
        let size = ["q8_0": 34, "q4_0": 18, "q5_0": 22][type]!
        let block = Array(raw[(index * size)..<((index + 1) * size)])
        let scale = UInt16(block[0]) | UInt16(block[1]) << 8
        switch type {
        case "q8_0":
            return (scale, (0..<32).map { Int(Int8(bitPattern: block[2 + $0])) })
        case "q4_0":
            return (scale, (0..<32).map { Int($0 < 16 ? block[2 + $0] & 0x0F : block[2 + $0 - 16] >> 4) - 8 })
        default:
            let high = UInt32(block[2]) | UInt32(block[3]) << 8 | UInt32(block[4]) << 16 | UInt32(block[5]) << 24
            return (scale, (0..<32).map { j in
                let low = j < 16 ? block[6 + j] & 0x0F : block[6 + j - 16] >> 4
                return (Int(low) | Int((high >> UInt32(j)) & 1) << 4) - 16
            })
        }
    }

    /// The scale bits and codes Diffu stores for (row, block) of a q8/q4 payload, read from the
    /// `panel16` layout (formats/diffu-v1.md).
    static func storedBlock(_ payload: [UInt8], geometry: PanelGeometry, row: Int, block: Int) -> (scale: UInt16, codes: [Int]) {
        let base = geometry.blockOffset(panel: row / 16, block: block), lane = row % 16
        let scale = UInt16(payload[base + 2 * lane]) | UInt16(payload[base + 2 * lane + 1]) << 8
        let codes = (0..<32).map { k -> Int in
            if geometry.storage == .q8 { return Int(Int8(bitPattern: payload[base + 32 + k * 16 + lane])) }
            let byte = payload[base + 32 + (k % 16) * 16 + lane]
            return Int(k < 16 ? byte & 0x0F : byte >> 4) - 8
        }
        return (scale, codes)
    }

    /// Q8_0, Q4_0 and Q5_0 blocks kept as they are in the storage whose codes hold them: the same scale
    /// bits, the same codes, so the same values as gguf-py's dequantization (no second rounding).
    @Test(arguments: [("q8_0", StorageType.q8), ("q4_0", .q4), ("q4_0", .q8), ("q5_0", .q8)])
    func keepsScaledBlocksUnchanged(type: String, storage: StorageType) throws {
        for name in try Self.names(of: type) {
            let source = try Self.tensor(name)
            let payload = try Self.encode(source, storage: storage)
            let geometry = try #require(PanelGeometry(rows: source.rowCount, columns: source.rowLength, storage: storage))
            let raw = try Self.rawBytes(name)
            let blocksPerRow = source.rowLength / 32
            var differing = 0
            for row in 0..<source.rowCount {
                for block in 0..<blocksPerRow {
                    let original = Self.ggufBlock(raw, type: type, index: row * blocksPerRow + block)
                    let stored = Self.storedBlock(payload, geometry: geometry, row: row, block: block)
                    if original.scale != stored.scale || original.codes != stored.codes { differing += 1 }
                }
            }
            #expect(differing == 0, "\(name) as \(storage): \(differing) of \(source.rowCount * blocksPerRow) blocks changed")
            let values = try Self.decode(payload, rows: source.rowCount, columns: source.rowLength, storage: storage)
            #expect(firstMismatch(values, try Self.expected(name).values) == nil, "\(name) as \(storage): values differ from gguf-py")
        }
    }

    /// The copy follows llama.cpp's Q/K row permutation: canonical row `j·d/2 + i` of a head holds GGUF
    /// row `2i + j`'s block bytes (the inverse written here from the permutation's definition).
    @Test func copiedBlocksFollowTheRoPEUnpermutation() throws {
        let source = try Self.tensor("q8_0.quantized")
        let heads = 2, headDimension = source.rowCount / 2, half = headDimension / 2, columns = source.rowLength
        let payload = try Self.encode(source, storage: .q8, transform: .unpermuteRoPE(headCount: heads))
        let reference = try Self.expected("q8_0.quantized").values
        var expected = [Float](repeating: 0, count: reference.count)
        for head in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let from = head * headDimension + 2 * i + j, to = head * headDimension + j * half + i
                    expected[(to * columns)..<((to + 1) * columns)] = reference[(from * columns)..<((from + 1) * columns)]
                }
            }
        }
        let values = try Self.decode(payload, rows: source.rowCount, columns: columns, storage: .q8)
        #expect(firstMismatch(values, expected) == nil)
    }

    @Test func storageThatCannotHoldTheCodesRequantizes() throws {
        // Q8_0 codes do not fit q4: decoded and quantized like any f32 values.
        let source = try Self.tensor("q8_0.random")
        let payload = try Self.encode(source, storage: .q4)
        let geometry = try #require(PanelGeometry(rows: source.rowCount, columns: source.rowLength, storage: .q4))
        var expected = [UInt8](repeating: 0, count: geometry.byteCount)
        try Self.expected("q8_0.random").values.withUnsafeBufferPointer { values in
            try expected.withUnsafeMutableBytes { try WeightPacking.pack(values, geometry: geometry, into: $0) }
        }
        #expect(payload == expected)
    }

    /// What the GGUF fuzz target does with a parsed file: dequantize every small tensor and encode every
    /// matrix as q8 and q4; errors are fine, traps are not.
    static func decodeAndEncodeEveryTensor(of checkpoint: GGUFCheckpoint) {
        for name in checkpoint.tensors.keys.sorted() {
            guard let tensor = checkpoint.tensors[name], tensor.elementCount <= 1 << 16 else { continue }
            _ = try? tensor.readFloats()
            guard tensor.shape.count == 2 else { continue }
            for storage in [StorageType.q8, .q4] { _ = try? encode(tensor, storage: storage) }
        }
    }

    /// Every tensor of the fixture encodes as q8 and q4 (the BF16 edge row holds values of 9·10⁻⁴¹, whose
    /// q8 scale has an infinite inverse: found by the fuzz target, `ScaledIntegerCodec.inverseScale`).
    @Test func everyFixtureTensorEncodesWithoutTrapping() throws {
        let checkpoint = try GGUFCheckpoint.open(path: Self.fixture)
        Self.decodeAndEncodeEveryTensor(of: checkpoint)
        let source = try Self.tensor("bf16.edge")
        let values = try Self.decode(try Self.encode(source, storage: .q8), rows: 3, columns: source.rowLength, storage: .q8)
        #expect(values[(2 * source.rowLength)...].allSatisfy { $0 == 0 })
    }

    @Test(arguments: [("q2_k.refused", "Q2_K"), ("q3_k.refused", "Q3_K")])
    func typesWithoutADequantizerAreRefusedByName(name: String, type: String) throws {
        let source = try Self.tensor(name)
        #expect(source.elementType == nil)
        #expect(throws: ConvertError.unsupportedGGUFTensorType(tensor: name, type: type)) { _ = try source.readFloats() }
        #expect(ConvertError.unsupportedGGUFTensorType(tensor: name, type: type).description.contains("Q4_K"))
    }

    /// A copy of the fixture with `edit` applied to its bytes, as a file.
    static func edited(_ edit: (inout [UInt8], GGUFFile) throws -> Void) throws -> (TemporaryDirectory, String) {
        var bytes = try Fixtures.bytes("convert", "blocks/blocks.gguf")
        try edit(&bytes, try GGUFFile.parse(bytes))
        let directory = try TemporaryDirectory()
        try directory.write("edited.gguf", bytes)
        return (directory, directory.path + "/edited.gguf")
    }

    /// Every f16 field (scale or minimum) of each type, by offset in its block: an infinity or a NaN
    /// there is a typed error naming the tensor and the first value of that block.
    static let halfFields: [(type: String, blockLength: Int, blockBytes: Int, offset: Int)] = [
        ("q4_k", 256, 144, 0), ("q4_k", 256, 144, 2), ("q5_k", 256, 176, 0), ("q5_k", 256, 176, 2), ("q6_k", 256, 210, 208),
        ("q5_0", 32, 22, 0), ("q5_1", 32, 24, 0), ("q5_1", 32, 24, 2), ("q8_0", 32, 34, 0), ("q4_0", 32, 18, 0), ("q4_1", 32, 20, 0), ("q4_1", 32, 20, 2),
    ]

    @Test(arguments: halfFields, [UInt16(0x7C00), 0xFC00, 0x7E00])
    func nonFiniteScaleIsATypedError(field: (type: String, blockLength: Int, blockBytes: Int, offset: Int), bits: UInt16) throws {
        let name = field.type + ".random"
        let (directory, path) = try Self.edited { bytes, file in
            let info = try #require(file.tensor(named: name))
            let blocksPerRow = info.dimensions[0] / field.blockLength
            let position = info.absoluteOffset + (blocksPerRow + 1) * field.blockBytes + field.offset  // row 1, block 1
            bytes[position] = UInt8(bits & 0xFF)
            bytes[position + 1] = UInt8(bits >> 8)
        }
        let source = try Self.tensor(name, in: path)
        let error = ConvertError.nonFiniteValue(tensor: name, index: source.rowLength + field.blockLength)
        #expect(throws: error) { _ = try source.readFloats() }
        // The block-copy route reports the same error.
        if ["q8_0", "q4_0", "q5_0"].contains(field.type) {
            #expect(throws: error) { _ = try Self.encode(source, storage: .q8) }
        }
        withExtendedLifetime(directory) {}
    }

    @Test(arguments: [("q4_k.random", [384, 4]), ("q6_k.random", [128, 12]), ("q5_k.random", [192, 8]), ("q5_0.random", [48, 8]), ("q5_1.random", [16, 24])])
    func rowLengthThatIsNotAWholeNumberOfBlocksIsATypedError(name: String, dimensions: [Int]) throws {
        let (directory, path) = try Self.edited { bytes, file in
            let info = try #require(file.tensor(named: name))
            #expect(info.dimensions.reduce(1, *) == dimensions.reduce(1, *))
            let nameBytes = Array(name.utf8)
            let position = try #require((0..<(bytes.count - nameBytes.count)).first { Array(bytes[$0..<($0 + nameBytes.count)]) == nameBytes })
            for (index, dimension) in dimensions.enumerated() {
                for byte in 0..<8 { bytes[position + nameBytes.count + 4 + 8 * index + byte] = UInt8((dimension >> (8 * byte)) & 0xFF) }
            }
        }
        #expect(throws: ConvertError.gguf(path: path, error: .misalignedBlocks(tensor: name))) { _ = try GGUFCheckpoint.open(path: path) }
        withExtendedLifetime(directory) {}
    }

    @Test func truncatedBlocksAreATypedError() throws {
        let (directory, path) = try Self.edited { bytes, file in
            let info = try #require(file.tensor(named: "q6_k.vector"))
            bytes.removeSubrange((info.absoluteOffset + 100)...)  // inside the rank-1 Q6_K block
        }
        #expect(throws: ConvertError.gguf(path: path, error: .tensorOutOfBounds(tensor: "q6_k.vector"))) {
            _ = try GGUFCheckpoint.open(path: path)
        }
        withExtendedLifetime(directory) {}
    }
}

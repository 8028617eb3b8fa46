import DiffuStorage
import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuFormat

/// Packs a random matrix, writes it with `policy`, reads it back, and checks bytes and values.
private func roundTrip(storage: StorageType, rows: Int, columns: Int, policy: CompressionPolicy) throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("model.diffu").path
    let geometry = try #require(PanelGeometry(rows: rows, columns: columns, storage: storage))
    let matrix = randomFloats(count: rows * columns, seed: UInt64(storage.rawValue) + 7, scale: 3)
    var packed = [UInt8](repeating: 0, count: geometry.byteCount)
    try matrix.withUnsafeBufferPointer { source in
        try packed.withUnsafeMutableBytes { try WeightPacking.pack(source, geometry: geometry, into: $0) }
    }
    let bias = randomFloats(count: rows, seed: 99)
    let writer = try DiffuFileWriter(destination: path)
    try packed.withUnsafeBytes {
        try writer.add(name: "layers.0.weight", shape: [rows, columns], storage: storage, layout: .panel16, compression: policy, payload: $0)
    }
    try bias.withUnsafeBytes {
        try writer.add(name: "layers.0.bias", shape: [rows], storage: .f32, layout: .rowMajor, compression: policy, payload: $0)
    }
    try writer.finish(metadata: sampleMetadata())

    let file = try DiffuFile.open(path: path)
    #expect(file.tensors.count == 2)
    #expect(file.metadata == sampleMetadata())
    let entry = try #require(file.tensor(named: "layers.0.weight"))
    #expect(entry.shape == [rows, columns] && entry.storage == storage && entry.layout == .panel16)
    #expect(entry.offset % 64 == 0)
    let payload = try file.payload(of: entry)
    #expect(Int(bitPattern: payload.baseAddress) % 64 == 0)
    #expect(Array(payload) == packed)
    #expect(Array(try file.payload(named: "layers.0.bias")) == bias.withUnsafeBytes { Array($0) })
    #expect(file.verify().isEmpty)

    // Values within the documented error bound of each storage type (WeightPacking's documentation).
    var row = [Float](repeating: 0, count: columns)
    for r in 0..<rows {
        row.withUnsafeMutableBufferPointer { WeightPacking.decodeRow(payload, row: r, geometry: geometry, into: $0) }
        let original = Array(matrix[(r * columns)..<((r + 1) * columns)])
        var amax: Float = 0
        for block in stride(from: 0, to: columns, by: 32) {
            amax = original[block..<min(columns, block + 32)].map(abs).max()!
            for k in block..<min(columns, block + 32) {
                let error = abs(original[k] - row[k])
                let bound: Float = switch storage {
                case .f32: 0
                case .f16: abs(original[k]) * 0x1p-11 + 0x1p-24
                case .bf16: abs(original[k]) * 0x1p-8
                case .q8: amax / 254 + amax * 0x1p-11
                case .q4: amax / 8 + amax * 0x1p-10
                case .bytes: 0
                }
                #expect(error <= bound * 1.0001, "\(storage) row \(r) column \(k): error \(error) > \(bound)")
            }
        }
    }
}

@Test(arguments: [StorageType.f32, .f16, .bf16, .q8, .q4])
func everyStorageTypeRoundTrips(storage: StorageType) throws {
    try roundTrip(storage: storage, rows: 37, columns: 70, policy: .none)
}

@Test(arguments: [StorageType.f32, .q4])
func zstdTensorsRoundTripIntoAlignedOwnedMemory(storage: StorageType) throws {
    try roundTrip(storage: storage, rows: 16, columns: 64, policy: .zstd(level: 3))
}

@Test func autoPolicyCompressesOnlyWhenItPays() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("auto.diffu").path
    let writer = try DiffuFileWriter(destination: path)
    let random = randomFloats(count: 4096, seed: 5)  // full-entropy mantissas: zstd saves < 10 %
    let repetitive = [Float](repeating: 0.5, count: 4096)
    try random.withUnsafeBytes { try writer.add(name: "random", shape: [4096], storage: .f32, layout: .rowMajor, compression: .automatic, payload: $0) }
    try repetitive.withUnsafeBytes { try writer.add(name: "repetitive", shape: [64, 64], storage: .f32, layout: .rowMajor, compression: .automatic, payload: $0) }
    #expect(writer.contains(tensorNamed: "random") && !writer.contains(tensorNamed: "other"))
    try writer.finish(metadata: sampleMetadata())
    let file = try DiffuFile.open(path: path)
    let randomEntry = try #require(file.tensor(named: "random"))
    let repetitiveEntry = try #require(file.tensor(named: "repetitive"))
    #expect(randomEntry.compression == .none && randomEntry.storedByteCount == 16384)
    #expect(repetitiveEntry.compression == .zstd && repetitiveEntry.storedByteCount < 1000)
    #expect(repetitiveEntry.rawByteCount == 16384)
    let first = try file.payload(of: repetitiveEntry)
    let second = try file.payload(of: repetitiveEntry)
    #expect(first.baseAddress == second.baseAddress)  // decompressed once
    #expect(Array(first) == repetitive.withUnsafeBytes { Array($0) })
}

@Test func concurrentFirstAccessDecompressesOnce() async throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("concurrent.diffu").path
    let writer = try DiffuFileWriter(destination: path)
    let values = (0..<65536).map { Float($0 % 7) }
    try values.withUnsafeBytes { try writer.add(name: "t", shape: [65536], storage: .f32, layout: .rowMajor, compression: .zstd(level: 1), payload: $0) }
    try writer.finish(metadata: sampleMetadata())
    let file = try DiffuFile.open(path: path)
    let addresses = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<8 { group.addTask { Int(bitPattern: try file.payload(named: "t").baseAddress) } }
        return try await group.reduce(into: Set<Int>()) { $0.insert($1) }
    }
    #expect(addresses.count == 1)
}

@Test func blobsAndTokenizerFilesRoundTrip() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("blobs.diffu").path
    let vocabulary = Array("{\"hello\": 0, \"wörld\": 1}".utf8)
    let merges = Array(String(repeating: "h e\nl l\n", count: 200).utf8)
    let writer = try DiffuFileWriter(destination: path)
    try writer.addBlob(name: "tokenizer/vocab.json", bytes: vocabulary, compression: .none)
    try writer.addBlob(name: "tokenizer/merges.txt", bytes: merges)
    try writer.finish(metadata: sampleMetadata(blobs: ["vocab.json": "tokenizer/vocab.json", "merges.txt": "tokenizer/merges.txt"]))
    let file = try DiffuFile.open(path: path)
    #expect(try file.blob(named: "tokenizer/vocab.json") == vocabulary)
    #expect(file.tensor(named: "tokenizer/merges.txt")?.compression == .zstd)
    #expect(try file.tokenizerFiles() == ["vocab.json": vocabulary, "merges.txt": merges])
    #expect(throws: DiffuFormatError.tensorNotFound("nope")) { try file.blob(named: "nope") }
}

@Test func metadataModelValueDecodesIntoATypedConfiguration() throws {
    struct Configuration: Codable, Equatable {
        var architecture: String
        var hiddenSize: Int
        var normEpsilon: Float
        var tied: Bool
        enum CodingKeys: String, CodingKey {
            case architecture, tied
            case hiddenSize = "hidden_size"
            case normEpsilon = "norm_eps"
        }
    }
    let configuration = Configuration(architecture: "qwen2", hiddenSize: 3584, normEpsilon: 1e-6, tied: false)
    let value = try JSONValue(encoding: configuration)
    #expect(value["hidden_size"] == .integer(3584))
    #expect(value["tied"] == .bool(false))
    #expect(try value.decode(Configuration.self) == configuration)
    #expect(throws: DecodingError.self) { try JSONValue.object([:]).decode(Configuration.self) }
}

/// A file written by tools/fixtures/make_format_fixtures.py straight from the spec (independent writer).
@Test func readsAFileWrittenFromTheSpecByPython() throws {
    struct Expected: Decodable {
        let normWeight: [Double]
        let up: [Double]
        let down: [Double]
        let tokenizerSHA256: String
        enum CodingKeys: String, CodingKey {
            case normWeight = "norm.weight"
            case up = "layers.0.mlp.up.weight"
            case down = "layers.0.mlp.down.weight"
            case tokenizerSHA256 = "tokenizer_sha256"
        }
    }
    let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: try fixtureURL("python_written.json")))
    let file = try DiffuFile.open(path: try fixtureURL("python_written.diffu").path)
    #expect(file.verify().isEmpty)
    #expect(file.metadata.diffusion.maskTokenID == 811 && file.metadata.diffusion.shiftLogits)
    #expect(file.metadata.diffusion.samplerDefaults?.topP == 0.95)
    #expect(file.metadata.model["rope_theta"] == .number(10000) || file.metadata.model["rope_theta"] == .integer(10000))
    #expect(file.metadata.tokenizer.kind == .tokenizerJSON)
    let norm = try file.payload(named: "norm.weight")
    #expect(Array(norm.bindMemory(to: Float.self)) == expected.normWeight.map { Float($0) })
    for (name, values, rows, columns) in [("layers.0.mlp.up.weight", expected.up, 17, 33), ("layers.0.mlp.down.weight", expected.down, 20, 64)] {
        let entry = try #require(file.tensor(named: name))
        let geometry = try #require(PanelGeometry(rows: rows, columns: columns, storage: entry.storage))
        let payload = try file.payload(of: entry)
        var row = [Float](repeating: 0, count: columns)
        for r in 0..<rows {
            row.withUnsafeMutableBufferPointer { WeightPacking.decodeRow(payload, row: r, geometry: geometry, into: $0) }
            #expect(row == values[(r * columns)..<((r + 1) * columns)].map { Float($0) }, "\(name) row \(r)")
        }
    }
    let tokenizer = try file.tokenizerFiles()["tokenizer.json"]
    #expect(tokenizer.map { SHA256.hexString(SHA256.hash($0)) } == expected.tokenizerSHA256)
}

@Test func compressionSurveyReportsSavingsPerStorageType() throws {
    var survey = CompressionSurvey(level: 3, threshold: 0.10)
    let zeros = [UInt8](repeating: 0, count: 10000)
    let random = randomFloats(count: 2500, seed: 3)
    let zerosSize = try zeros.withUnsafeBytes { try survey.add($0, storage: .q8) }
    try random.withUnsafeBytes { _ = try survey.add($0, storage: .f32) }
    #expect(zerosSize < 100)
    #expect(survey.totals[.q8]?.tensorsPassingThreshold == 1)
    #expect(survey.totals[.f32]?.tensorsPassingThreshold == 0)
    #expect((survey.totals[.q8]?.saving ?? 0) > 0.99)
    #expect(survey.report().contains("| q8 | 1 |"))
}

import DiffuStorage
import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuFormat

/// `Tests/Fixtures/format/<name>`; a missing fixture fails the test (``FixtureError/missing(_:)``).
func fixtureURL(_ name: String) throws -> URL {
    try TestFixtures.existingURL("format/\(name)")
}

/// Names in a directory (hidden files included).
func directoryListing(_ url: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
}

/// Deterministic pseudo-random floats in [-scale, scale) (SplitMix64).
func randomFloats(count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var generator = SplitMix64(state: seed)
    return (0..<count).map { _ in (Float(generator.next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
}

/// Metadata used by the tests; `blobs` become the tokenizer's files.
func sampleMetadata(blobs: [String: String] = [:]) -> DiffuMetadata {
    DiffuMetadata(
        model: .object([
            "architecture": .string("gpt2"), "vocab_size": .integer(50258), "norm_eps": .number(1e-5),
            "tied_embeddings": .bool(true), "nested": .array([.null, .integer(-3), .string("ü")]),
        ]),
        diffusion: DiffusionSettings(
            maskTokenID: 50257, shiftLogits: false, bosTokenID: 50256, eosTokenID: 50256, chatTemplate: "{{ x }}",
            samplerDefaults: SamplerDefaults(sampler: "origin", steps: 64, temperature: 0.7, topP: 0.9, generationLength: 128,
                                             options: ["alg_temp": .number(0.1)])),
        tokenizer: TokenizerFiles(kind: .vocabularyAndMerges, files: blobs),
        provenance: Provenance(
            sources: [.init(path: "model.safetensors", size: 42, sha256: String(repeating: "ab", count: 32))],
            converterVersion: "test", quantization: "q8", createdAt: "2026-11-27T03:00:00Z"),
        extra: ["note": .string("test")])
}

/// Writes a small file with several tensors (float vector, q8 and q4 panels, a zstd blob) and returns
/// its bytes (the file is removed).
func makeSampleImage() throws -> [UInt8] {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("sample.diffu").path
    let writer = try DiffuFileWriter(destination: path)
    let vector = randomFloats(count: 40, seed: 1)
    try vector.withUnsafeBytes { try writer.add(name: "norm.weight", shape: [40], storage: .f32, layout: .rowMajor, payload: $0) }
    for (name, storage) in [("q8.weight", StorageType.q8), ("q4.weight", StorageType.q4)] {
        let geometry = PanelGeometry(rows: 20, columns: 40, storage: storage)!
        let matrix = randomFloats(count: 800, seed: 2)
        var packed = [UInt8](repeating: 0, count: geometry.byteCount)
        try matrix.withUnsafeBufferPointer { source in
            try packed.withUnsafeMutableBytes { try WeightPacking.pack(source, geometry: geometry, into: $0) }
        }
        try packed.withUnsafeBytes { try writer.add(name: name, shape: [20, 40], storage: storage, layout: .panel16, payload: $0) }
    }
    let text = Array(String(repeating: "merge a b\n", count: 50).utf8)
    try writer.addBlob(name: "tokenizer/merges.txt", bytes: text, compression: .zstd(level: 3))
    try writer.finish(metadata: sampleMetadata(blobs: ["merges.txt": "tokenizer/merges.txt"]))
    return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// The error `validateLayout` throws for `image`, or `nil` if it validates.
func validationError(_ image: [UInt8]) -> DiffuFormatError? {
    do {
        _ = try image.withUnsafeBytes { try DiffuFile.validateLayout(of: $0) }
        return nil
    } catch let error as DiffuFormatError {
        return error
    } catch {
        Issue.record("unexpected error type \(error)")
        return nil
    }
}

/// Reads the header fields of a valid image.
func header(of image: [UInt8]) -> FileLayout.Header {
    func load(_ offset: Int) -> Int {
        Int(image.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) })
    }
    var header = FileLayout.Header()
    header.fileLength = load(FileLayout.fileLengthOffset)
    header.metadataOffset = load(FileLayout.metadataOffsetOffset)
    header.metadataStoredLength = load(FileLayout.metadataStoredLengthOffset)
    header.metadataRawLength = load(FileLayout.metadataRawLengthOffset)
    header.directoryOffset = load(FileLayout.directoryOffsetOffset)
    header.directoryLength = load(FileLayout.directoryLengthOffset)
    header.tensorCount = load(FileLayout.tensorCountOffset)
    header.metadataChecksum = UInt64(bitPattern: Int64(load(FileLayout.metadataChecksumOffset)))
    header.directoryChecksum = UInt64(bitPattern: Int64(load(FileLayout.directoryChecksumOffset)))
    return header
}

/// Rebuilds a consistent image (checksums recomputed, as a malicious writer would) from the payload
/// region of `image`, with a replaced directory and/or metadata JSON and an optional raw directory.
func reassemble(
    _ image: [UInt8], entries: [TensorEntry]? = nil, rawDirectory: [UInt8]? = nil, metadataJSON: [UInt8]? = nil,
    editHeader: (inout FileLayout.Header) -> Void = { _ in }
) throws -> [UInt8] {
    var fields = header(of: image)
    let layout = try image.withUnsafeBytes { try DiffuFile.validateLayout(of: $0) }
    var output = Array(image[0..<fields.metadataOffset])
    var metadataStored = Array(image[fields.metadataOffset..<(fields.metadataOffset + fields.metadataStoredLength)])
    if let json = metadataJSON {
        let frame = try json.withUnsafeBytes { try Zstd.compress($0, level: 3) }
        metadataStored = Array(frame)
        frame.deallocate()
        fields.metadataRawLength = json.count
    }
    var directory: [UInt8] = []
    if let rawDirectory {
        directory = rawDirectory
    } else {
        for entry in entries ?? layout.tensors { FileLayout.appendEntry(entry, to: &directory) }
        fields.tensorCount = (entries ?? layout.tensors).count
    }
    fields.metadataStoredLength = metadataStored.count
    fields.metadataChecksum = XXH64.hash(metadataStored)
    output += metadataStored
    fields.directoryOffset = FileLayout.alignUp(output.count)!
    output += [UInt8](repeating: 0, count: fields.directoryOffset - output.count)
    output += directory
    fields.directoryLength = directory.count
    fields.directoryChecksum = XXH64.hash(directory)
    fields.fileLength = output.count
    editHeader(&fields)
    output.replaceSubrange(0..<FileLayout.headerLength, with: fields.encoded())
    return output
}

extension TensorEntry {
    /// A copy with some fields changed (tests craft lying directories with it).
    func with(
        name: String? = nil, shape: [Int]? = nil, storage: StorageType? = nil, layout: TensorLayout? = nil,
        compression: TensorCompression? = nil, offset: Int? = nil, storedByteCount: Int? = nil,
        rawByteCount: Int? = nil, checksum: UInt64? = nil
    ) -> TensorEntry {
        TensorEntry(
            name: name ?? self.name, shape: shape ?? self.shape, storage: storage ?? self.storage,
            layout: layout ?? self.layout, compression: compression ?? self.compression, offset: offset ?? self.offset,
            storedByteCount: storedByteCount ?? self.storedByteCount, rawByteCount: rawByteCount ?? self.rawByteCount,
            checksum: checksum ?? self.checksum, index: index)
    }
}

import DiffuStorage
import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuFormat

@Test func sampleImageValidates() throws {
    let image = try makeSampleImage()
    #expect(validationError(image) == nil)
    let layout = try image.withUnsafeBytes { try DiffuFile.validateLayout(of: $0) }
    #expect(layout.tensors.map(\.name) == ["norm.weight", "q8.weight", "q4.weight", "tokenizer/merges.txt"])
}

@Test func truncationAtEverySectionBoundaryNamesTheSection() throws {
    let image = try makeSampleImage()
    let fields = header(of: image)
    let firstPayload = 128
    let cases: [(Int, FileSection)] = [
        (0, .header), (1, .header), (64, .header), (127, .header),
        (128, .payloads), (firstPayload + 1, .payloads), (fields.metadataOffset - 1, .payloads),
        (fields.metadataOffset, .metadata), (fields.metadataOffset + 1, .metadata),
        (fields.metadataOffset + fields.metadataStoredLength, .metadata), (fields.directoryOffset - 1, .metadata),
        (fields.directoryOffset, .directory), (fields.directoryOffset + 1, .directory), (image.count - 1, .directory),
    ]
    for (length, section) in cases {
        guard case .truncated(let reported, _, let actual) = validationError(Array(image[0..<length])) else {
            Issue.record("length \(length): expected truncation, got \(String(describing: validationError(Array(image[0..<length]))))")
            continue
        }
        #expect(reported == section && actual == length, "length \(length)")
    }
}

@Test func truncationAtAnyPointIsATruncationError() throws {
    let image = try makeSampleImage()
    var generator = SystemRandomNumberGenerator()
    let lengths = (0..<300).map { _ in Int.random(in: 0..<image.count, using: &generator) }
    for length in lengths {
        guard case .truncated = validationError(Array(image[0..<length])) else {
            Issue.record("length \(length): \(String(describing: validationError(Array(image[0..<length]))))")
            continue
        }
    }
}

@Test func appendedBytesAreRejected() throws {
    let image = try makeSampleImage()
    #expect(validationError(image + [0]) == .trailingBytes(recordedLength: image.count, actualLength: image.count + 1))
}

@Test func everyHeaderByteFlipIsCaught() throws {
    let image = try makeSampleImage()
    for position in 0..<FileLayout.headerLength {
        var copy = image
        copy[position] ^= 0x10
        let error = validationError(copy)
        switch position {
        case 0..<8: #expect(error == .badMagic, "byte \(position)")
        case 8..<12: #expect(error == .unsupportedVersion(1 ^ (0x10 << UInt32(8 * (position - 8)))), "byte \(position)")
        case 12..<16: #expect(error == .corruptHeader("byte-order mark \(hex(UInt64(0x0102_0304 ^ (0x10 << UInt32(8 * (position - 12))))))"), "byte \(position)")
        default: #expect(error == .sectionChecksumMismatch(.header), "byte \(position)")
        }
    }
}

@Test func bigEndianFilesAreNamed() throws {
    var image = try makeSampleImage()
    image.replaceSubrange(12..<16, with: [1, 2, 3, 4])
    #expect(validationError(image) == .unsupportedByteOrder)
}

@Test func metadataAndDirectoryFlipsAreCaughtBySectionChecksums() throws {
    let image = try makeSampleImage()
    let fields = header(of: image)
    for position in fields.metadataOffset..<(fields.metadataOffset + fields.metadataStoredLength) {
        var copy = image
        copy[position] ^= 0x01
        #expect(validationError(copy) == .sectionChecksumMismatch(.metadata), "byte \(position)")
    }
    for position in fields.directoryOffset..<image.count {
        var copy = image
        copy[position] ^= 0x80
        #expect(validationError(copy) == .sectionChecksumMismatch(.directory), "byte \(position)")
    }
}

@Test func payloadFlipsAreReportedByVerifyNamingTheTensor() throws {
    let image = try makeSampleImage()
    let layout = try image.withUnsafeBytes { try DiffuFile.validateLayout(of: $0) }
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    for entry in layout.tensors {
        for position in [entry.offset, entry.offset + entry.storedByteCount / 2, entry.offset + entry.storedByteCount - 1] {
            var copy = image
            copy[position] ^= 0x04
            let path = directory.appendingPathComponent("flip.diffu").path
            try Data(copy).write(to: URL(fileURLWithPath: path))
            let file = try DiffuFile.open(path: path)  // opening reads no payload byte
            let failures = file.verify()
            #expect(failures.map(\.tensor) == [entry.name], "byte \(position)")
            guard case .checksumMismatch(let tensor, _, _)? = failures.first?.error else {
                Issue.record("expected a checksum mismatch, got \(failures)")
                continue
            }
            #expect(tensor == entry.name)
            #expect(throws: DiffuFormatError.self) { try file.verifyOrThrow() }
            if entry.compression == .zstd {
                // The payload accessor checks zstd payloads too, before decompressing.
                #expect(throws: DiffuFormatError.self) { try file.payload(of: entry) }
            }
        }
    }
}

@Test func lyingDirectoryEntriesGetSpecificErrors() throws {
    let image = try makeSampleImage()
    let fields = header(of: image)
    let tensors = try image.withUnsafeBytes { try DiffuFile.validateLayout(of: $0) }.tensors
    let (norm, q8, q4, blob) = (tensors[0], tensors[1], tensors[2], tensors[3])
    func rebuilt(_ index: Int, _ entry: TensorEntry) throws -> DiffuFormatError? {
        var entries = tensors
        entries[index] = entry
        return validationError(try reassemble(image, entries: entries))
    }
    // Offsets and sizes.
    #expect(try rebuilt(1, q8.with(offset: q8.offset + 1)) == .misalignedTensor(tensor: "q8.weight", offset: q8.offset + 1))
    #expect(try rebuilt(1, q8.with(offset: 0)) == .tensorOutOfBounds(tensor: "q8.weight", offset: 0, length: q8.storedByteCount))
    #expect(try rebuilt(1, q8.with(offset: fields.metadataOffset)) == .tensorOutOfBounds(tensor: "q8.weight", offset: fields.metadataOffset, length: q8.storedByteCount))
    #expect(try rebuilt(1, q8.with(offset: 1 << 62)) == .tensorOutOfBounds(tensor: "q8.weight", offset: 1 << 62, length: q8.storedByteCount))
    #expect(try rebuilt(2, q4.with(offset: q8.offset)) == .overlappingPayloads("q8.weight", "q4.weight"))
    #expect(try rebuilt(1, q8.with(offset: norm.offset)) == .overlappingPayloads("norm.weight", "q8.weight"))
    #expect(try rebuilt(0, norm.with(storedByteCount: 400, rawByteCount: 400)) == .byteLengthMismatch(tensor: "norm.weight", expected: 160, recorded: 400))
    #expect(try rebuilt(0, norm.with(storedByteCount: 161)) == .byteLengthMismatch(tensor: "norm.weight", expected: 160, recorded: 161))
    #expect(try rebuilt(3, blob.with(storedByteCount: 0)) == .corruptDirectoryEntry(index: 3, reason: "tensor tokenizer/merges.txt: empty zstd payload"))
    // Shapes and types.
    // (41 columns pad to the same two blocks as 40 — same bytes, a valid entry; 72 need three.)
    #expect(try rebuilt(1, q8.with(shape: [20, 41])) == nil)
    #expect(try rebuilt(1, q8.with(shape: [20, 72])) == .byteLengthMismatch(tensor: "q8.weight", expected: PanelGeometry(rows: 20, columns: 72, storage: .q8)!.byteCount, recorded: q8.rawByteCount))
    #expect(try rebuilt(1, q8.with(layout: .rowMajor)) == .invalidShape(tensor: "q8.weight", shape: [20, 40], storage: "q8", layout: "row-major"))
    #expect(try rebuilt(0, norm.with(shape: [1 << 40, 1 << 40])) == .invalidShape(tensor: "norm.weight", shape: [1 << 40, 1 << 40], storage: "f32", layout: "row-major"))
    #expect(try rebuilt(1, q8.with(shape: [20, 40, 1])) == .invalidShape(tensor: "q8.weight", shape: [20, 40, 1], storage: "q8", layout: "panel16"))
    #expect(try rebuilt(3, blob.with(shape: [10, 50])) == .invalidShape(tensor: "tokenizer/merges.txt", shape: [10, 50], storage: "bytes", layout: "row-major"))
    // Zstd frame lies are caught when the payload is used (and by verify).
    let lyingBlob = try reassemble(image, entries: [norm, q8, q4, blob.with(shape: [blob.rawByteCount - 1], rawByteCount: blob.rawByteCount - 1)])
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("lying.diffu").path
    try Data(lyingBlob).write(to: URL(fileURLWithPath: path))
    let file = try DiffuFile.open(path: path)
    #expect(throws: DiffuFormatError.decompressionFailed(tensor: "tokenizer/merges.txt", reason: "the frame declares \(blob.rawByteCount) bytes, the directory \(blob.rawByteCount - 1)")) {
        try file.blob(named: "tokenizer/merges.txt")
    }
    #expect(file.verify().map(\.tensor) == ["tokenizer/merges.txt"])
    // Duplicates.
    #expect(validationError(try reassemble(image, entries: [norm, q8, q4.with(name: "q8.weight"), blob])) == .duplicateTensorName("q8.weight"))
    // The tokenizer's blob must exist and be bytes.
    #expect(validationError(try reassemble(image, entries: [norm, q8, q4])) == .missingBlob(file: "merges.txt", tensor: "tokenizer/merges.txt"))
}

/// Builds one raw directory entry (fields as in the spec) so that impossible values can be written.
private func rawEntry(
    name: [UInt8], storage: UInt8 = 0, layout: UInt8 = 0, compression: UInt8 = 0, rank: UInt8? = nil, reserved: UInt16 = 0,
    shape: [UInt64], offset: UInt64 = 128, stored: UInt64, raw: UInt64, checksum: UInt64 = 0
) -> [UInt8] {
    var bytes: [UInt8] = []
    func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    append(UInt16(name.count))
    bytes += [storage, layout, compression, rank ?? UInt8(shape.count)]
    append(reserved)
    bytes += name
    for dimension in shape { append(dimension) }
    append(offset); append(stored); append(raw); append(checksum)
    return bytes
}

@Test func impossibleDirectoryValuesGetSpecificErrors() throws {
    let image = try makeSampleImage()
    let metadataJSON = try JSONEncoder().encode(sampleMetadata())
    func check(_ entry: [UInt8], count: Int = 1, _ expected: DiffuFormatError, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let rebuilt = try reassemble(image, rawDirectory: entry, metadataJSON: Array(metadataJSON)) { $0.tensorCount = count }
        #expect(validationError(rebuilt) == expected, sourceLocation: sourceLocation)
    }
    let name = Array("x".utf8)
    try check(rawEntry(name: name, storage: 9, shape: [4], stored: 16, raw: 16), .unknownStorageCode(9, tensor: "x"))
    try check(rawEntry(name: name, layout: 7, shape: [4], stored: 16, raw: 16), .unknownLayoutCode(7, tensor: "x"))
    try check(rawEntry(name: name, compression: 2, shape: [4], stored: 16, raw: 16), .unknownCompressionCode(2, tensor: "x"))
    try check(rawEntry(name: name, shape: [], stored: 16, raw: 16) + [UInt8](repeating: 0, count: 8), .corruptDirectoryEntry(index: 0, reason: "rank 0 (1…8)"))
    try check(rawEntry(name: name, shape: Array(repeating: 1, count: 9), stored: 4, raw: 4), .corruptDirectoryEntry(index: 0, reason: "rank 9 (1…8)"))
    try check(rawEntry(name: name, shape: [0], stored: 0, raw: 0), .invalidShape(tensor: "x", shape: [0], storage: "f32", layout: "row-major"))
    try check(rawEntry(name: name, shape: [UInt64.max], stored: 4, raw: 4), .invalidShape(tensor: "x", shape: [Int.max], storage: "f32", layout: "row-major"))
    try check(rawEntry(name: name, shape: [1 << 62], stored: 4, raw: 4), .invalidShape(tensor: "x", shape: [1 << 62], storage: "f32", layout: "row-major"))
    try check(rawEntry(name: name, shape: [4], offset: UInt64.max - 63, stored: 16, raw: 16), .tensorOutOfBounds(tensor: "x", offset: Int.max, length: 16))
    try check(rawEntry(name: name, reserved: 5, shape: [4], stored: 16, raw: 16), .corruptDirectoryEntry(index: 0, reason: "reserved field is 5"))
    try check(rawEntry(name: [], shape: [4], stored: 16, raw: 16) + [0], .corruptDirectoryEntry(index: 0, reason: "name length 0 (1…4096)"))
    try check(rawEntry(name: [0xFF, 0xFE], shape: [4], stored: 16, raw: 16), .corruptDirectoryEntry(index: 0, reason: "name is not valid UTF-8 (or contains NUL)"))
    try check(rawEntry(name: Array(repeating: 0x61, count: 5000), shape: [4], stored: 16, raw: 16), .corruptDirectoryEntry(index: 0, reason: "name length 5000 (1…4096)"))
    // The entry claims more bytes than the directory has.
    var short = rawEntry(name: name, shape: [1, 1, 1, 4], stored: 16, raw: 16)
    short.removeLast(3)
    try check(short, .corruptDirectoryEntry(index: 0, reason: "runs past the end of the directory"))
    // Bytes left after the last entry, and a count the directory cannot hold.
    try check(rawEntry(name: name, shape: [4], stored: 16, raw: 16) + [0], .corruptDirectoryEntry(index: 1, reason: "1 bytes left after the last entry"))
    try check(rawEntry(name: name, shape: [4], stored: 16, raw: 16), count: 3, .corruptHeader("tensor count 3 cannot fit a 49-byte directory"))
}

@Test func absurdHeaderCountsAndSizesAreRejectedBeforeAllocation() throws {
    let image = try makeSampleImage()
    let fields = header(of: image)
    func check(_ edit: (inout FileLayout.Header) -> Void, _ expected: DiffuFormatError, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(validationError(try reassemble(image, editHeader: edit)) == expected, sourceLocation: sourceLocation)
    }
    try check({ $0.tensorCount = 2_000_000 }, .limitExceeded(what: "tensor count", value: 2_000_000, limit: 1_000_000))
    try check({ $0.metadataRawLength = 1 << 40 }, .limitExceeded(what: "metadata raw length", value: 1 << 40, limit: 256 << 20))
    try check({ $0.metadataStoredLength = 300 << 20 }, .limitExceeded(what: "metadata length", value: 300 << 20, limit: 256 << 20))
    try check({ $0.directoryLength = 1 << 30 }, .limitExceeded(what: "directory length", value: 1 << 30, limit: 256 << 20))
    try check({ $0.tensorCount = 999_999 }, .corruptHeader("tensor count 999999 cannot fit a \(fields.directoryLength)-byte directory"))
    try check({ $0.metadataOffset = 64 }, .sectionOutOfBounds(.metadata, offset: 64, length: fields.metadataStoredLength))
    try check({ $0.metadataOffset += 1 }, .sectionOutOfBounds(.metadata, offset: fields.metadataOffset + 1, length: fields.metadataStoredLength))
    try check({ $0.metadataStoredLength += 10_000 }, .sectionOutOfBounds(.metadata, offset: fields.metadataOffset, length: fields.metadataStoredLength + 10_000))
    try check({ $0.directoryOffset += 64 }, .sectionOutOfBounds(.directory, offset: fields.directoryOffset + 64, length: fields.directoryLength))
    try check({ $0.metadataRawLength += 1 }, .corruptMetadata("the frame declares \(fields.metadataRawLength) bytes, the directory \(fields.metadataRawLength + 1)"))
    try check({ $0.fileLength = -1 }, .corruptHeader("file length \(UInt64.max) is out of range"))
    try check({ $0.fileLength += 100 }, .truncated(section: .directory, expectedLength: fields.fileLength + 100, actualLength: fields.fileLength))
}

@Test func metadataThatIsNotTheSchemaIsNamed() throws {
    let image = try makeSampleImage()
    let missingMask = Array(#"{"model":{},"diffusion":{"shift_logits":true},"tokenizer":{"kind":"gguf","files":{}},"provenance":{"sources":[],"converter_version":"x","quantization":"q4","created_at":"t"}}"#.utf8)
    #expect(validationError(try reassemble(image, metadataJSON: missingMask)) == .corruptMetadata("JSON: missing key diffusion.mask_token_id"))
    let badKind = Array(#"{"model":{},"diffusion":{"mask_token_id":1,"shift_logits":true},"tokenizer":{"kind":"wordpiece","files":{}},"provenance":{"sources":[],"converter_version":"x","quantization":"q4","created_at":"t"}}"#.utf8)
    guard case .corruptMetadata(let reason)? = validationError(try reassemble(image, metadataJSON: badKind)) else {
        Issue.record("expected corrupt metadata")
        return
    }
    #expect(reason.contains("tokenizer.kind"))
    guard case .corruptMetadata? = validationError(try reassemble(image, metadataJSON: Array("not json".utf8))) else {
        Issue.record("expected corrupt metadata")
        return
    }
}

@Test func randomBytesNeverCrashTheValidator() throws {
    let image = try makeSampleImage()
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<500 {
        var copy = image
        for _ in 0..<Int.random(in: 1...8, using: &generator) {
            copy[Int.random(in: 0..<copy.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
        }
        _ = validationError(copy)
    }
    for length in [0, 1, 127, 128, 129, 4096] {
        _ = validationError((0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}

@Test func openRejectsMissingFilesDirectoriesAndShortFiles() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let missing = directory.appendingPathComponent("missing.diffu").path
    #expect(throws: DiffuFormatError.fileNotFound(path: missing)) { try DiffuFile.open(path: missing) }
    #expect(throws: DiffuFormatError.notARegularFile(path: directory.path)) { try DiffuFile.open(path: directory.path) }
    let empty = directory.appendingPathComponent("empty.diffu").path
    #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
    #expect(throws: DiffuFormatError.truncated(section: .header, expectedLength: 128, actualLength: 0)) { try DiffuFile.open(path: empty) }
}

@Test func verifyReportsAFileTruncatedWhileOpen() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("shrinking.diffu").path
    let image = try makeSampleImage()
    try Data(image).write(to: URL(fileURLWithPath: path))
    let file = try DiffuFile.open(path: path)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.truncate(atOffset: 200)
    try handle.close()
    #expect(file.verify() == [VerificationFailure(tensor: nil, error: .fileChanged(path: path, openedLength: image.count, currentLength: 200))])
}

@Test func deeplyNestedMetadataIsAnErrorNotAStackOverflow() throws {
    let image = try makeSampleImage()
    let depth = 100_000
    let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
    let json = #"{"model":"# + nested + #","diffusion":{"mask_token_id":1,"shift_logits":true},"tokenizer":{"kind":"gguf","files":{}},"provenance":{"sources":[],"converter_version":"x","quantization":"q4","created_at":"t"}}"#
    guard case .corruptMetadata? = validationError(try reassemble(image, metadataJSON: Array(json.utf8))) else {
        Issue.record("expected corrupt metadata")
        return
    }
}

import DiffuStorage
import Foundation

/// The result of validating a whole `.diffu` image: everything ``DiffuFile`` needs besides the bytes.
public struct ValidatedLayout: Sendable {
    /// The decoded metadata.
    public let metadata: DiffuMetadata
    /// The directory, in file order.
    public let tensors: [TensorEntry]
    /// Compressed and uncompressed sizes of the metadata block.
    public let metadataLength: (stored: Int, raw: Int)
}

extension DiffuFile {
    /// Validates a complete `.diffu` image in memory, applying every rule of `formats/diffu-v1.md`
    /// ("Validation") in order, without reading any payload byte. ``open(path:)`` calls it on the
    /// mapping; fuzz targets call it on arbitrary bytes.
    /// - Throws: the ``DiffuFormatError`` of the first rule that fails.
    public static func validateLayout(of image: UnsafeRawBufferPointer) throws -> ValidatedLayout {
        let actualLength = image.count
        guard actualLength >= FileLayout.headerLength, let base = image.baseAddress else {
            throw DiffuFormatError.truncated(section: .header, expectedLength: FileLayout.headerLength, actualLength: actualLength)
        }
        func load32(_ offset: Int) -> UInt32 { UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        func load64(_ offset: Int) -> UInt64 { UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }

        // 1. Identity: magic, byte order, version.
        guard FileLayout.magic.elementsEqual(UnsafeRawBufferPointer(start: base, count: 8)) else {
            throw DiffuFormatError.badMagic
        }
        let mark = load32(FileLayout.byteOrderOffset)
        if mark == FileLayout.byteOrderMark.byteSwapped { throw DiffuFormatError.unsupportedByteOrder }
        guard mark == FileLayout.byteOrderMark else { throw DiffuFormatError.corruptHeader("byte-order mark \(hex(UInt64(mark)))") }
        let version = load32(FileLayout.versionOffset)
        guard version == FileLayout.version else { throw DiffuFormatError.unsupportedVersion(version) }

        // 2. Header checksum, then the fixed fields.
        let headerChecksum = XXH64.hash(UnsafeRawBufferPointer(start: base, count: FileLayout.headerChecksummedLength))
        guard headerChecksum == load64(FileLayout.headerChecksumOffset) else {
            throw DiffuFormatError.sectionChecksumMismatch(.header)
        }
        let alignment = load32(FileLayout.alignmentOffset)
        guard alignment == UInt32(FileLayout.alignment) else { throw DiffuFormatError.unsupportedAlignment(alignment) }
        let headerLength = load32(FileLayout.headerLengthOffset)
        guard headerLength == UInt32(FileLayout.headerLength) else { throw DiffuFormatError.corruptHeader("header length \(headerLength)") }
        guard FileLayout.reservedRange.allSatisfy({ base.load(fromByteOffset: $0, as: UInt8.self) == 0 }) else {
            throw DiffuFormatError.corruptHeader("reserved bytes are not zero")
        }
        func field(_ offset: Int, _ name: String) throws -> Int {
            let value = load64(offset)
            guard value <= UInt64(Int.max) else { throw DiffuFormatError.corruptHeader("\(name) \(value) is out of range") }
            return Int(value)
        }
        let fileLength = try field(FileLayout.fileLengthOffset, "file length")
        let metadataOffset = try field(FileLayout.metadataOffsetOffset, "metadata offset")
        let metadataStored = try field(FileLayout.metadataStoredLengthOffset, "metadata length")
        let metadataRaw = try field(FileLayout.metadataRawLengthOffset, "metadata raw length")
        let directoryOffset = try field(FileLayout.directoryOffsetOffset, "directory offset")
        let directoryLength = try field(FileLayout.directoryLengthOffset, "directory length")
        let tensorCount = try field(FileLayout.tensorCountOffset, "tensor count")

        // 3. The file's length.
        if actualLength < fileLength {
            let section: FileSection = actualLength < metadataOffset ? .payloads : actualLength < directoryOffset ? .metadata : .directory
            throw DiffuFormatError.truncated(section: section, expectedLength: fileLength, actualLength: actualLength)
        }
        guard actualLength == fileLength else {
            throw DiffuFormatError.trailingBytes(recordedLength: fileLength, actualLength: actualLength)
        }

        // 4. Limits, before anything is allocated.
        guard metadataStored <= FileLayout.maximumMetadataLength else {
            throw DiffuFormatError.limitExceeded(what: "metadata length", value: metadataStored, limit: FileLayout.maximumMetadataLength)
        }
        guard metadataRaw <= FileLayout.maximumMetadataLength else {
            throw DiffuFormatError.limitExceeded(what: "metadata raw length", value: metadataRaw, limit: FileLayout.maximumMetadataLength)
        }
        guard directoryLength <= FileLayout.maximumDirectoryLength else {
            throw DiffuFormatError.limitExceeded(what: "directory length", value: directoryLength, limit: FileLayout.maximumDirectoryLength)
        }
        guard tensorCount <= FileLayout.maximumTensorCount else {
            throw DiffuFormatError.limitExceeded(what: "tensor count", value: tensorCount, limit: FileLayout.maximumTensorCount)
        }

        // 5. Section placement: header | payloads | metadata | directory, 64-byte aligned, ending at the file's end.
        let metadataEnd = metadataOffset.addingReportingOverflow(metadataStored)
        guard metadataOffset >= FileLayout.headerLength, metadataOffset % FileLayout.alignment == 0,
              metadataStored > 0, metadataRaw > 0, !metadataEnd.overflow, metadataEnd.partialValue <= directoryOffset
        else { throw DiffuFormatError.sectionOutOfBounds(.metadata, offset: metadataOffset, length: metadataStored) }
        let directoryEnd = directoryOffset.addingReportingOverflow(directoryLength)
        guard directoryOffset % FileLayout.alignment == 0, !directoryEnd.overflow, directoryEnd.partialValue == fileLength else {
            throw DiffuFormatError.sectionOutOfBounds(.directory, offset: directoryOffset, length: directoryLength)
        }
        guard tensorCount <= directoryLength / FileLayout.minimumEntryLength else {
            throw DiffuFormatError.corruptHeader("tensor count \(tensorCount) cannot fit a \(directoryLength)-byte directory")
        }

        // 6. Section checksums.
        let metadataBytes = UnsafeRawBufferPointer(start: base + metadataOffset, count: metadataStored)
        guard XXH64.hash(metadataBytes) == load64(FileLayout.metadataChecksumOffset) else {
            throw DiffuFormatError.sectionChecksumMismatch(.metadata)
        }
        let directoryBytes = UnsafeRawBufferPointer(start: base + directoryOffset, count: directoryLength)
        guard XXH64.hash(directoryBytes) == load64(FileLayout.directoryChecksumOffset) else {
            throw DiffuFormatError.sectionChecksumMismatch(.directory)
        }

        // 7. Metadata: one zstd frame of exactly the recorded length, then JSON.
        var json = [UInt8](repeating: 0, count: metadataRaw)
        do {
            try json.withUnsafeMutableBytes { try Zstd.decompress(metadataBytes, into: $0) }
        } catch let failure as Zstd.Failure {
            throw DiffuFormatError.corruptMetadata(failure.reason)
        }
        let metadata: DiffuMetadata
        do {
            metadata = try JSONDecoder().decode(DiffuMetadata.self, from: Data(json))
        } catch {
            throw DiffuFormatError.corruptMetadata("JSON: \(describe(error))")
        }

        // 8. Directory entries.
        let tensors = try parseDirectory(directoryBytes, count: tensorCount, payloadEnd: metadataOffset)

        // 9. Payloads do not overlap.
        let byOffset = tensors.sorted { $0.offset < $1.offset }
        for (previous, next) in zip(byOffset, byOffset.dropFirst()) where previous.offset + previous.storedByteCount > next.offset {
            throw DiffuFormatError.overlappingPayloads(previous.name, next.name)
        }

        // 10. The tokenizer's blobs exist.
        var byName: [String: TensorEntry] = [:]
        for entry in tensors { byName[entry.name] = entry }
        for (file, tensorName) in metadata.tokenizer.files.sorted(by: { $0.key < $1.key }) {
            guard let entry = byName[tensorName], entry.storage == .bytes else {
                throw DiffuFormatError.missingBlob(file: file, tensor: tensorName)
            }
        }

        // 11. Decompressed tensors fit in memory.
        var decompressedTotal = 0
        for entry in tensors where entry.compression == .zstd {
            let (sum, overflow) = decompressedTotal.addingReportingOverflow(entry.rawByteCount)
            decompressedTotal = overflow ? Int.max : sum
        }
        if let available = SystemFile.physicalMemory, decompressedTotal > available {
            throw DiffuFormatError.insufficientMemory(required: decompressedTotal, available: available)
        }
        return ValidatedLayout(metadata: metadata, tensors: tensors, metadataLength: (metadataStored, metadataRaw))
    }

    /// Parses and checks every directory entry (rules in `formats/diffu-v1.md`, "Directory entry").
    private static func parseDirectory(_ bytes: UnsafeRawBufferPointer, count: Int, payloadEnd: Int) throws -> [TensorEntry] {
        var cursor = ByteCursor(base: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 0x40)!, count: bytes.count)
        var tensors: [TensorEntry] = []
        tensors.reserveCapacity(count)
        var seen = Set<String>()
        for index in 0..<count {
            func malformed(_ reason: String) -> DiffuFormatError { .corruptDirectoryEntry(index: index, reason: reason) }
            guard let nameLength = cursor.readUInt16(), let storageCode = cursor.readUInt8(),
                  let layoutCode = cursor.readUInt8(), let compressionCode = cursor.readUInt8(),
                  let rank = cursor.readUInt8(), let reserved = cursor.readUInt16()
            else { throw malformed("runs past the end of the directory") }
            guard reserved == 0 else { throw malformed("reserved field is \(reserved)") }
            guard nameLength >= 1, Int(nameLength) <= FileLayout.maximumNameLength else {
                throw malformed("name length \(nameLength) (1…\(FileLayout.maximumNameLength))")
            }
            guard let nameBytes = cursor.readBytes(Int(nameLength)) else { throw malformed("runs past the end of the directory") }
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard name.utf8.elementsEqual(nameBytes), !nameBytes.contains(0) else {
                throw malformed("name is not valid UTF-8 (or contains NUL)")
            }
            guard rank >= 1, Int(rank) <= FileLayout.maximumRank else { throw malformed("rank \(rank) (1…\(FileLayout.maximumRank))") }
            var rawShape: [UInt64] = []
            for _ in 0..<rank {
                guard let dimension = cursor.readUInt64() else { throw malformed("runs past the end of the directory") }
                rawShape.append(dimension)
            }
            guard let offsetField = cursor.readUInt64(), let storedField = cursor.readUInt64(),
                  let rawField = cursor.readUInt64(), let checksum = cursor.readUInt64()
            else { throw malformed("runs past the end of the directory") }

            guard seen.insert(name).inserted else { throw DiffuFormatError.duplicateTensorName(name) }
            guard let storage = StorageType(rawValue: storageCode) else {
                throw DiffuFormatError.unknownStorageCode(storageCode, tensor: name)
            }
            guard let layout = TensorLayout(rawValue: layoutCode) else {
                throw DiffuFormatError.unknownLayoutCode(layoutCode, tensor: name)
            }
            guard let compression = TensorCompression(rawValue: compressionCode) else {
                throw DiffuFormatError.unknownCompressionCode(compressionCode, tensor: name)
            }
            let shape = rawShape.map { Int(clamping: $0) }
            guard rawShape.allSatisfy({ $0 <= UInt64(Int.max) }),
                  let expected = TensorGeometry.byteCount(shape: shape, storage: storage, layout: layout)
            else { throw DiffuFormatError.invalidShape(tensor: name, shape: shape, storage: storage.name, layout: layout.name) }
            let offset = Int(clamping: offsetField), stored = Int(clamping: storedField), raw = Int(clamping: rawField)
            guard rawField == UInt64(expected) else {
                throw DiffuFormatError.byteLengthMismatch(tensor: name, expected: expected, recorded: raw)
            }
            switch compression {
            case .none:
                guard storedField == rawField else {
                    throw DiffuFormatError.byteLengthMismatch(tensor: name, expected: expected, recorded: stored)
                }
            case .zstd:
                guard storedField > 0 else { throw malformed("tensor \(name): empty zstd payload") }
            }
            guard offsetField % UInt64(FileLayout.alignment) == 0 else {
                throw DiffuFormatError.misalignedTensor(tensor: name, offset: offset)
            }
            let (end, overflow) = offsetField.addingReportingOverflow(storedField)
            guard offsetField >= UInt64(FileLayout.headerLength), !overflow, end <= UInt64(payloadEnd) else {
                throw DiffuFormatError.tensorOutOfBounds(tensor: name, offset: offset, length: stored)
            }
            tensors.append(TensorEntry(
                name: name, shape: shape, storage: storage, layout: layout, compression: compression,
                offset: offset, storedByteCount: stored, rawByteCount: raw, checksum: checksum, index: index))
        }
        guard cursor.remaining == 0 else {
            throw DiffuFormatError.corruptDirectoryEntry(index: count, reason: "\(cursor.remaining) bytes left after the last entry")
        }
        return tensors
    }

    /// A short description of a decoding error (the path of the failing key and the reason).
    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing key \(path(context)).\(key.stringValue)"
        case .typeMismatch(_, let context): return "wrong type at \(path(context)): \(context.debugDescription)"
        case .valueNotFound(_, let context): return "missing value at \(path(context))"
        case .dataCorrupted(let context): return "invalid JSON at \(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

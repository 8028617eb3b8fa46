/// The parts of a `.diffu` file, used to say where a fault is.
public enum FileSection: String, Sendable, Equatable, CustomStringConvertible {
    /// The fixed 128-byte header.
    case header
    /// The tensor payloads.
    case payloads
    /// The zstd-compressed JSON metadata block.
    case metadata
    /// The binary tensor directory.
    case directory

    /// The section's name.
    public var description: String { rawValue }
}

/// Every fault the `.diffu` reader and writer report. Each case names what is wrong and where.
public enum DiffuFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    // MARK: Opening and I/O
    /// No file at the path.
    case fileNotFound(path: String)
    /// The path exists but is not a regular file (a directory, a device…).
    case notARegularFile(path: String)
    /// A system call failed.
    case ioFailure(operation: String, path: String, message: String)
    /// The file system ran out of space (or quota) while writing.
    case diskFull(path: String)

    // MARK: Header
    /// The file ends before the end of `section`.
    case truncated(section: FileSection, expectedLength: Int, actualLength: Int)
    /// The first 8 bytes are not the `.diffu` magic.
    case badMagic
    /// The format version is not one this reader understands.
    case unsupportedVersion(UInt32)
    /// The file was written big-endian (byte-order mark reversed).
    case unsupportedByteOrder
    /// The payload alignment is not 64.
    case unsupportedAlignment(UInt32)
    /// A header field is inconsistent (named).
    case corruptHeader(String)
    /// The file is longer than the header says.
    case trailingBytes(recordedLength: Int, actualLength: Int)
    /// The stored checksum of a section does not match its bytes.
    case sectionChecksumMismatch(FileSection)
    /// A section lies outside the file, overlaps another or is misaligned.
    case sectionOutOfBounds(FileSection, offset: Int, length: Int)
    /// A size field exceeds the reader's limit (named).
    case limitExceeded(what: String, value: Int, limit: Int)

    // MARK: Metadata
    /// The metadata block could not be decompressed or decoded (reason given).
    case corruptMetadata(String)
    /// The tokenizer section names a blob that is missing or is not a `bytes` tensor.
    case missingBlob(file: String, tensor: String)

    // MARK: Directory
    /// Directory entry `index` is malformed (reason given).
    case corruptDirectoryEntry(index: Int, reason: String)
    /// Two directory entries share a name.
    case duplicateTensorName(String)
    /// Unknown storage type code.
    case unknownStorageCode(UInt8, tensor: String)
    /// Unknown layout code.
    case unknownLayoutCode(UInt8, tensor: String)
    /// Unknown compression code.
    case unknownCompressionCode(UInt8, tensor: String)
    /// The shape is invalid for the storage type and layout, or its byte size overflows.
    case invalidShape(tensor: String, shape: [Int], storage: String, layout: String)
    /// The directory's byte length disagrees with shape × type.
    case byteLengthMismatch(tensor: String, expected: Int, recorded: Int)
    /// A payload lies outside the payload section (or its end overflows).
    case tensorOutOfBounds(tensor: String, offset: Int, length: Int)
    /// A payload does not start on a 64-byte boundary.
    case misalignedTensor(tensor: String, offset: Int)
    /// Two payloads share bytes.
    case overlappingPayloads(String, String)
    /// Decompressed tensors would need more memory than the machine has.
    case insufficientMemory(required: Int, available: Int)

    // MARK: Payloads
    /// A payload's checksum does not match the directory.
    case checksumMismatch(tensor: String, expected: UInt64, actual: UInt64)
    /// A zstd payload failed to decompress to its recorded length.
    case decompressionFailed(tensor: String, reason: String)
    /// No tensor has this name.
    case tensorNotFound(String)
    /// The tensor is not a `bytes` blob.
    case notABlob(String)
    /// The file's size changed after it was opened (it was truncated or rewritten in place).
    case fileChanged(path: String, openedLength: Int, currentLength: Int)

    // MARK: Writer
    /// The destination exists and overwriting was not requested.
    case destinationExists(path: String)
    /// The payload's byte count disagrees with shape × type.
    case payloadSizeMismatch(tensor: String, expected: Int, actual: Int)
    /// A tensor name is empty or longer than the limit.
    case invalidTensorName(String)
    /// zstd failed to compress a payload.
    case compressionFailed(tensor: String, reason: String)
    /// The writer was already finished or aborted.
    case writerClosed

    /// A one-line explanation naming the fault.
    public var description: String {
        switch self {
        case .fileNotFound(let path): "no such file: \(path)"
        case .notARegularFile(let path): "not a regular file: \(path)"
        case .ioFailure(let operation, let path, let message): "\(operation) failed for \(path): \(message)"
        case .diskFull(let path): "the disk is full (no space left) while writing \(path)"
        case .truncated(let section, let expected, let actual):
            "file truncated in the \(section) section: needs \(expected) bytes, has \(actual)"
        case .badMagic: "not a .diffu file (bad magic)"
        case .unsupportedVersion(let version): "unsupported .diffu format version \(version) (this reader reads 1)"
        case .unsupportedByteOrder: "the file is big-endian; only little-endian .diffu files are supported"
        case .unsupportedAlignment(let alignment): "unsupported payload alignment \(alignment) (expected 64)"
        case .corruptHeader(let field): "corrupt header: \(field)"
        case .trailingBytes(let recorded, let actual):
            "file is \(actual) bytes but its header says \(recorded) (bytes appended?)"
        case .sectionChecksumMismatch(let section): "checksum mismatch in the \(section) section (file corrupted)"
        case .sectionOutOfBounds(let section, let offset, let length):
            "the \(section) section (offset \(offset), length \(length)) is out of bounds, misaligned or overlapping"
        case .limitExceeded(let what, let value, let limit): "\(what) is \(value), above the limit of \(limit)"
        case .corruptMetadata(let reason): "corrupt metadata: \(reason)"
        case .missingBlob(let file, let tensor):
            "tokenizer file \(file) refers to tensor \(tensor), which is missing or not a bytes blob"
        case .corruptDirectoryEntry(let index, let reason): "corrupt directory entry \(index): \(reason)"
        case .duplicateTensorName(let name): "duplicate tensor name \(name)"
        case .unknownStorageCode(let code, let tensor): "unknown storage code \(code) in tensor \(tensor)"
        case .unknownLayoutCode(let code, let tensor): "unknown layout code \(code) in tensor \(tensor)"
        case .unknownCompressionCode(let code, let tensor): "unknown compression code \(code) in tensor \(tensor)"
        case .invalidShape(let tensor, let shape, let storage, let layout):
            "tensor \(tensor): shape \(shape) is invalid for \(storage) \(layout) (or its size overflows)"
        case .byteLengthMismatch(let tensor, let expected, let recorded):
            "tensor \(tensor): byte length \(recorded) does not match shape × type (\(expected))"
        case .tensorOutOfBounds(let tensor, let offset, let length):
            "tensor \(tensor): payload (offset \(offset), length \(length)) is outside the payload section"
        case .misalignedTensor(let tensor, let offset): "tensor \(tensor): offset \(offset) is not 64-byte aligned"
        case .overlappingPayloads(let first, let second): "payloads of tensors \(first) and \(second) overlap"
        case .insufficientMemory(let required, let available):
            "decompressed tensors need \(required) bytes, more than the machine's \(available)"
        case .checksumMismatch(let tensor, let expected, let actual):
            "checksum mismatch in tensor \(tensor): expected \(hex(expected)), got \(hex(actual))"
        case .decompressionFailed(let tensor, let reason): "tensor \(tensor): zstd decompression failed: \(reason)"
        case .tensorNotFound(let name): "no tensor named \(name)"
        case .notABlob(let name): "tensor \(name) is not a bytes blob"
        case .fileChanged(let path, let opened, let current):
            "\(path) changed size while open (\(opened) → \(current) bytes)"
        case .destinationExists(let path): "\(path) already exists (use --force to overwrite)"
        case .payloadSizeMismatch(let tensor, let expected, let actual):
            "tensor \(tensor): payload has \(actual) bytes, shape × type needs \(expected)"
        case .invalidTensorName(let name): "invalid tensor name \"\(name.prefix(64))\" (1…4096 UTF-8 bytes)"
        case .compressionFailed(let tensor, let reason): "tensor \(tensor): zstd compression failed: \(reason)"
        case .writerClosed: "the .diffu writer is already finished or aborted"
        }
    }
}

/// A checksum as 16 hexadecimal digits.
func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

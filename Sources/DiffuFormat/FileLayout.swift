import DiffuStorage

/// How a tensor's payload is stored on disk (directory code; see `formats/diffu-v1.md`).
public enum TensorCompression: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The payload is the raw bytes, usable straight from the mapping.
    case none = 0
    /// The payload is one zstd frame whose content size is the raw byte length.
    case zstd = 1

    /// The name shown by `diffu inspect`.
    public var description: String { self == .none ? "none" : "zstd" }
}

/// What the writer does with one payload.
public enum CompressionPolicy: Sendable, Equatable {
    /// Store raw.
    case none
    /// Always store as a zstd frame at `level` (1…19; 3 is zstd's default).
    case zstd(level: Int32)
    /// Compress at `level`; keep the compressed frame only if it is at least `threshold` (a fraction,
    /// 0.10 = 10 %) smaller than the raw bytes, else store raw.
    case auto(threshold: Double, level: Int32)

    /// `auto` with the documented defaults: 10 % threshold, level 3.
    public static let automatic = CompressionPolicy.auto(threshold: 0.10, level: 3)
}

/// One tensor of a `.diffu` file, as recorded in its directory (validated by ``DiffuFile/open(path:)``).
public struct TensorEntry: Sendable, Equatable {
    /// Canonical name (for example `layers.0.attention.query.weight`) or blob name (`tokenizer/…`).
    public let name: String
    /// Logical shape; for `panel16`, `[rows N (outputs), columns K (inputs)]`.
    public let shape: [Int]
    /// Element encoding.
    public let storage: StorageType
    /// Element order.
    public let layout: TensorLayout
    /// On-disk compression.
    public let compression: TensorCompression
    /// Byte offset of the stored payload from the start of the file (a multiple of 64).
    public let offset: Int
    /// Bytes stored in the file (the zstd frame when compressed).
    public let storedByteCount: Int
    /// Bytes of the usable payload (= `TensorGeometry.byteCount(shape:storage:layout:)`).
    public let rawByteCount: Int
    /// XXH64 (seed 0) of the stored bytes.
    public let checksum: UInt64
    /// Position in the directory.
    public let index: Int
}

/// Constants and byte-level encoding of the v1 container (the spec is `formats/diffu-v1.md`).
enum FileLayout {
    /// `0x89 'D' 'I' 'F' 'F' 'U' '\r' '\n'`.
    static let magic: [UInt8] = [0x89, 0x44, 0x49, 0x46, 0x46, 0x55, 0x0D, 0x0A]
    static let version: UInt32 = 1
    static let byteOrderMark: UInt32 = 0x0102_0304
    static let alignment = 64
    static let headerLength = 128
    /// Bytes of the header covered by the header checksum (everything before the checksum field).
    static let headerChecksummedLength = 120

    // Field offsets inside the header.
    static let versionOffset = 8
    static let byteOrderOffset = 12
    static let alignmentOffset = 16
    static let headerLengthOffset = 20
    static let fileLengthOffset = 24
    static let metadataOffsetOffset = 32
    static let metadataStoredLengthOffset = 40
    static let metadataRawLengthOffset = 48
    static let directoryOffsetOffset = 56
    static let directoryLengthOffset = 64
    static let tensorCountOffset = 72
    static let metadataChecksumOffset = 80
    static let directoryChecksumOffset = 88
    static let reservedRange = 96..<120
    static let headerChecksumOffset = 120

    // Limits the reader enforces (and the writer respects).
    static let maximumMetadataLength = 256 << 20
    static let maximumDirectoryLength = 256 << 20
    static let maximumTensorCount = 1_000_000
    static let maximumNameLength = 4096
    static let maximumRank = 8
    /// Fixed bytes of a directory entry besides the name and the dimensions.
    static let entryFixedLength = 8 + 32
    /// Smallest possible entry: 1-byte name, rank 1.
    static let minimumEntryLength = entryFixedLength + 1 + 8

    /// Rounds up to the payload alignment; `nil` on overflow.
    static func alignUp(_ value: Int) -> Int? {
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum & ~(alignment - 1)
    }

    /// The header fields.
    struct Header: Equatable {
        var fileLength = 0
        var metadataOffset = 0
        var metadataStoredLength = 0
        var metadataRawLength = 0
        var directoryOffset = 0
        var directoryLength = 0
        var tensorCount = 0
        var metadataChecksum: UInt64 = 0
        var directoryChecksum: UInt64 = 0

        /// The 128 header bytes, header checksum included.
        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: headerLength)
            bytes.replaceSubrange(0..<8, with: magic)
            bytes.withUnsafeMutableBytes { buffer in
                func put32(_ value: UInt32, _ offset: Int) { buffer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self) }
                func put64(_ value: UInt64, _ offset: Int) { buffer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self) }
                put32(version, versionOffset)
                put32(byteOrderMark, byteOrderOffset)
                put32(UInt32(alignment), alignmentOffset)
                put32(UInt32(headerLength), headerLengthOffset)
                put64(UInt64(truncatingIfNeeded: fileLength), fileLengthOffset)
                put64(UInt64(truncatingIfNeeded: metadataOffset), metadataOffsetOffset)
                put64(UInt64(truncatingIfNeeded: metadataStoredLength), metadataStoredLengthOffset)
                put64(UInt64(truncatingIfNeeded: metadataRawLength), metadataRawLengthOffset)
                put64(UInt64(truncatingIfNeeded: directoryOffset), directoryOffsetOffset)
                put64(UInt64(truncatingIfNeeded: directoryLength), directoryLengthOffset)
                put64(UInt64(truncatingIfNeeded: tensorCount), tensorCountOffset)
                put64(metadataChecksum, metadataChecksumOffset)
                put64(directoryChecksum, directoryChecksumOffset)
                let checksum = XXH64.hash(UnsafeRawBufferPointer(rebasing: buffer[0..<headerChecksummedLength]))
                put64(checksum, headerChecksumOffset)
            }
            return bytes
        }
    }

    /// Appends one directory entry's bytes.
    static func appendEntry(_ entry: TensorEntry, to bytes: inout [UInt8]) {
        let name = Array(entry.name.utf8)
        func append16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        func append64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        append16(UInt16(name.count))
        bytes += [entry.storage.rawValue, entry.layout.rawValue, entry.compression.rawValue, UInt8(entry.shape.count)]
        append16(0)
        bytes += name
        for dimension in entry.shape { append64(UInt64(dimension)) }
        append64(UInt64(entry.offset))
        append64(UInt64(entry.storedByteCount))
        append64(UInt64(entry.rawByteCount))
        append64(entry.checksum)
    }
}

/// Bounds-checked little-endian reads from a byte range (never traps; `nil` past the end).
struct ByteCursor {
    let base: UnsafeRawPointer
    let count: Int
    var position = 0

    var remaining: Int { count - position }

    mutating func readUInt8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { position += 1 }
        return base.load(fromByteOffset: position, as: UInt8.self)
    }

    mutating func readUInt16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        defer { position += 2 }
        return UInt16(littleEndian: base.loadUnaligned(fromByteOffset: position, as: UInt16.self))
    }

    mutating func readUInt64() -> UInt64? {
        guard remaining >= 8 else { return nil }
        defer { position += 8 }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    mutating func readBytes(_ length: Int) -> UnsafeRawBufferPointer? {
        guard length >= 0, remaining >= length else { return nil }
        defer { position += length }
        return UnsafeRawBufferPointer(start: base + position, count: length)
    }
}

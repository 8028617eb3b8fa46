/// Errors from reading a GGUF file. Every case names what was wrong and where.
public enum GGUFError: Error, Equatable, CustomStringConvertible {
    /// The first four bytes are not `GGUF`.
    case badMagic
    /// A GGUF version other than 2 or 3.
    case unsupportedVersion(UInt32)
    /// The data ended while reading `what` at byte `offset`.
    case truncated(what: String, offset: Int)
    /// An unknown metadata value type code.
    case unknownValueType(UInt32, key: String)
    /// A count or length that cannot be right (larger than the bytes left, or over a cap).
    case implausibleCount(what: String, count: UInt64)
    /// The same metadata key twice.
    case duplicateKey(String)
    /// The same tensor name twice.
    case duplicateTensor(String)
    /// A tensor with an invalid shape (rank 0 or > 4, a zero dimension, or an element count overflow).
    case invalidShape(tensor: String)
    /// `general.alignment` is not a non-zero power of two.
    case invalidAlignment(UInt64)
    /// A tensor's data is not aligned, or lies outside the file.
    case tensorOutOfBounds(tensor: String)
    /// A tensor's element count does not fit its type's block size.
    case misalignedBlocks(tensor: String)
    /// Arrays nested deeper than the reader accepts.
    case nestingTooDeep(key: String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .badMagic: "not a GGUF file (bad magic)"
        case .unsupportedVersion(let version): "unsupported GGUF version \(version)"
        case .truncated(let what, let offset): "GGUF truncated while reading \(what) at byte \(offset)"
        case .unknownValueType(let code, let key): "unknown GGUF value type \(code) for key '\(key)'"
        case .implausibleCount(let what, let count): "implausible \(what): \(count)"
        case .duplicateKey(let key): "duplicate GGUF metadata key '\(key)'"
        case .duplicateTensor(let name): "duplicate GGUF tensor '\(name)'"
        case .invalidShape(let tensor): "invalid shape for GGUF tensor '\(tensor)'"
        case .invalidAlignment(let value): "invalid general.alignment \(value)"
        case .tensorOutOfBounds(let tensor): "GGUF tensor '\(tensor)' data lies outside the file or is misaligned"
        case .misalignedBlocks(let tensor): "GGUF tensor '\(tensor)' has a row length that is not a multiple of its block size"
        case .nestingTooDeep(let key): "GGUF arrays nested too deep at key '\(key)'"
        }
    }
}

/// One tensor's entry in a GGUF file.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// Dimensions in ggml order: `dimensions[0]` is the contiguous (fastest) one, i.e. the reverse of
    /// the PyTorch shape.
    public let dimensions: [Int]
    /// Raw type code.
    public let typeCode: UInt32
    /// The type, when Diffu knows it.
    public var type: GGMLType? { GGMLType(rawValue: typeCode) }
    /// Byte offset of the data from the start of the file (already validated when `type` is known).
    public let absoluteOffset: Int
    /// Byte size of the data; `nil` for unknown types.
    public let byteCount: Int?
    /// Number of elements.
    public let elementCount: Int
}

/// A parsed GGUF file: metadata and tensor directory. The parser validates every count, length, offset
/// and size against the bytes it was given and never traps on malformed input.
public struct GGUFFile: Sendable {
    /// Format version (2 or 3).
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// Alignment of tensor data (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute byte offset of the tensor data section.
    public let dataOffset: Int

    /// Caps that keep a hostile file from making the parser allocate absurd amounts.
    public enum Limits {
        /// Longest accepted string (bytes).
        public static let maximumStringLength = 64 << 20
        /// Deepest accepted array nesting.
        public static let maximumArrayDepth = 3
    }

    /// Looks up a metadata value.
    public subscript(key: String) -> GGUFValue? {
        metadata.first(where: { $0.key == key })?.value
    }

    /// Looks up a tensor by name.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensors.first(where: { $0.name == name })
    }

    /// Parses a whole GGUF file held in memory (or mapped). Tensor data is validated for bounds but not
    /// read.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws -> GGUFFile {
        var reader = ByteReader(bytes)
        guard bytes.count >= 4, reader.peekMagic() else {
            throw bytes.count < 4 ? GGUFError.truncated(what: "magic", offset: 0) : GGUFError.badMagic
        }
        reader.offset = 4
        let version = try reader.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }
        let tensorCount = try reader.read(UInt64.self, "tensor count")
        let keyCount = try reader.read(UInt64.self, "metadata count")
        // Each key/value takes at least 8 + 4 + 1 bytes, each tensor info at least 8 + 4 + 8 + 4 + 8.
        guard keyCount <= UInt64(reader.remaining / 13) else { throw GGUFError.implausibleCount(what: "metadata count", count: keyCount) }
        guard tensorCount <= UInt64(reader.remaining / 32) else { throw GGUFError.implausibleCount(what: "tensor count", count: tensorCount) }

        var metadata: [(key: String, value: GGUFValue)] = []
        var seenKeys = Set<String>()
        for _ in 0..<Int(keyCount) {
            let key = try reader.readString("metadata key")
            guard seenKeys.insert(key).inserted else { throw GGUFError.duplicateKey(key) }
            let code = try reader.read(UInt32.self, "value type of '\(key)'")
            guard let type = GGUFValueType(rawValue: code) else { throw GGUFError.unknownValueType(code, key: key) }
            metadata.append((key, try reader.readValue(type, key: key, depth: 0)))
        }

        var alignment = 32
        if let value = metadata.first(where: { $0.key == "general.alignment" })?.value {
            guard let raw = value.intValue, raw > 0, raw & (raw - 1) == 0, raw <= 1 << 20 else {
                throw GGUFError.invalidAlignment(UInt64(truncatingIfNeeded: value.intValue ?? 0))
            }
            alignment = raw
        }

        struct RawInfo { let name: String; let dimensions: [Int]; let type: UInt32; let offset: UInt64; let elements: Int }
        var raws: [RawInfo] = []
        var seenTensors = Set<String>()
        for _ in 0..<Int(tensorCount) {
            let name = try reader.readString("tensor name")
            guard seenTensors.insert(name).inserted else { throw GGUFError.duplicateTensor(name) }
            let rank = try reader.read(UInt32.self, "rank of '\(name)'")
            guard rank >= 1, rank <= 4 else { throw GGUFError.invalidShape(tensor: name) }
            var dimensions: [Int] = []
            var elements = 1
            for _ in 0..<rank {
                let dimension = try reader.read(UInt64.self, "dimensions of '\(name)'")
                guard dimension > 0, dimension <= UInt64(Int.max) else { throw GGUFError.invalidShape(tensor: name) }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(dimension))
                guard !overflow else { throw GGUFError.invalidShape(tensor: name) }
                elements = product
                dimensions.append(Int(dimension))
            }
            let type = try reader.read(UInt32.self, "type of '\(name)'")
            let offset = try reader.read(UInt64.self, "offset of '\(name)'")
            raws.append(RawInfo(name: name, dimensions: dimensions, type: type, offset: offset, elements: elements))
        }

        let (padded, overflow) = reader.offset.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw GGUFError.truncated(what: "tensor data", offset: reader.offset) }
        let dataOffset = padded / alignment * alignment
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(raws.count)
        for raw in raws {
            var byteCount: Int? = nil
            if let type = GGMLType(rawValue: raw.type) {
                guard raw.dimensions[0] % type.blockLength == 0 else { throw GGUFError.misalignedBlocks(tensor: raw.name) }
                let (size, sizeOverflow) = (raw.elements / type.blockLength).multipliedReportingOverflow(by: type.blockByteCount)
                guard !sizeOverflow else { throw GGUFError.invalidShape(tensor: raw.name) }
                guard raw.offset % UInt64(alignment) == 0, raw.offset <= UInt64(Int.max) else {
                    throw GGUFError.tensorOutOfBounds(tensor: raw.name)
                }
                let (start, startOverflow) = dataOffset.addingReportingOverflow(Int(raw.offset))
                let (end, endOverflow) = start.addingReportingOverflow(size)
                guard !startOverflow, !endOverflow, end <= bytes.count else { throw GGUFError.tensorOutOfBounds(tensor: raw.name) }
                byteCount = size
            }
            let absolute = raw.offset <= UInt64(Int.max - dataOffset) ? dataOffset + Int(raw.offset) : Int.max
            tensors.append(GGUFTensorInfo(name: raw.name, dimensions: raw.dimensions, typeCode: raw.type,
                                          absoluteOffset: absolute, byteCount: byteCount, elementCount: raw.elements))
        }
        return GGUFFile(version: version, metadata: metadata, tensors: tensors, alignment: alignment, dataOffset: dataOffset)
    }

    /// Parses GGUF bytes from an array.
    public static func parse(_ bytes: [UInt8]) throws -> GGUFFile {
        try bytes.withUnsafeBytes { try parse($0) }
    }
}

/// Bounds-checked little-endian reader over a raw buffer.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    func peekMagic() -> Bool {
        bytes[0] == 0x47 && bytes[1] == 0x47 && bytes[2] == 0x55 && bytes[3] == 0x46  // "GGUF"
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw GGUFError.truncated(what: what(), offset: offset) }
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try read(UInt64.self, what())
        guard length <= UInt64(GGUFFile.Limits.maximumStringLength) else {
            throw GGUFError.implausibleCount(what: "string length of \(what())", count: length)
        }
        guard UInt64(remaining) >= length else { throw GGUFError.truncated(what: what(), offset: offset) }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Int(length))])
        offset += Int(length)
        return String(decoding: slice, as: UTF8.self)
    }

    mutating func readValue(_ type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .unsigned(UInt64(try read(UInt8.self, key)), type)
        case .uint16: return .unsigned(UInt64(try read(UInt16.self, key)), type)
        case .uint32: return .unsigned(UInt64(try read(UInt32.self, key)), type)
        case .uint64: return .unsigned(try read(UInt64.self, key), type)
        case .int8: return .signed(Int64(try read(Int8.self, key)), type)
        case .int16: return .signed(Int64(try read(Int16.self, key)), type)
        case .int32: return .signed(Int64(try read(Int32.self, key)), type)
        case .int64: return .signed(try read(Int64.self, key), type)
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, key)))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, key)))
        case .bool: return .bool(try read(UInt8.self, key) != 0)
        case .string: return .string(try readString(key))
        case .array:
            guard depth < GGUFFile.Limits.maximumArrayDepth else { throw GGUFError.nestingTooDeep(key: key) }
            let code = try read(UInt32.self, key)
            guard let elementType = GGUFValueType(rawValue: code) else { throw GGUFError.unknownValueType(code, key: key) }
            let count = try read(UInt64.self, key)
            // Every element takes at least one byte (strings and arrays at least 8): cap by what is left.
            let minimum = UInt64(elementType.scalarByteCount ?? 8)
            guard count <= UInt64(remaining) / minimum else { throw GGUFError.implausibleCount(what: "array length of '\(key)'", count: count) }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { values.append(try readValue(elementType, key: key, depth: depth + 1)) }
            return .array(elementType: elementType, values: values)
        }
    }
}

import DiffuJSON
import Foundation

/// A parsed `.safetensors` file: its tensor directory, validated against the file's size. No tensor
/// data is read until a ``SourceTensor`` is asked for it.
///
/// Layout: an 8-byte little-endian header length `N`, `N` bytes of UTF-8 JSON mapping each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to byte `8 + N`), an optional
/// `"__metadata__"` string map, then the data.
public struct SafetensorsFile: Sendable {
    /// The file.
    public let file: SourceFile
    /// Tensors in data order.
    public let tensors: [SourceTensor]
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]

    /// Largest accepted header (the safetensors reference implementation's own cap).
    public static let maximumHeaderByteCount: UInt64 = 100 << 20

    /// Bytes per element of every dtype safetensors defines (so that sizes can be validated even for
    /// tensors Diffu does not import).
    static let elementByteCounts: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
        "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    ]

    /// Opens and validates `path`.
    /// - Throws: ``ConvertError`` naming the file and the fault (truncation, header too large, malformed
    ///   JSON, unknown dtype, size mismatch, out-of-bounds or overlapping data).
    public static func open(path: String) throws -> SafetensorsFile {
        let file = try SourceFile(path: path)
        let name = (path as NSString).lastPathComponent
        guard file.size >= 8 else { throw ConvertError.truncatedFile(path: path, expectedBytes: 8, actualBytes: file.size) }
        let lengthBytes = try file.read(count: 8, at: 0)
        let headerLength = lengthBytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= maximumHeaderByteCount else {
            throw ConvertError.safetensorsHeaderTooLarge(file: name, byteCount: headerLength)
        }
        guard 8 + Int(headerLength) <= file.size else {
            throw ConvertError.truncatedFile(path: path, expectedBytes: 8 + Int(headerLength), actualBytes: file.size)
        }
        let header = try file.read(count: Int(headerLength), at: 8)
        return try parse(header: header, file: file, displayName: name)
    }

    /// Parses a header already read from `file`.
    static func parse(header: [UInt8], file: SourceFile, displayName name: String) throws -> SafetensorsFile {
        func bad(_ reason: String) -> ConvertError { .invalidSafetensorsHeader(file: name, reason: reason) }
        guard let json = JSONValue.parsed(header) else { throw bad("the header is not valid JSON") }
        guard let object = json.objectValue else { throw bad("the header is not a JSON object") }
        let dataStart = 8 + header.count
        let dataSize = file.size - dataStart

        var metadata: [String: String] = [:]
        struct Entry { let name: String; let dtype: String; let shape: [Int]; let begin: Int; let end: Int }
        var entries: [Entry] = []
        for (key, value) in object {
            if key == "__metadata__" {
                guard let map = value.objectValue else { throw bad("__metadata__ is not an object") }
                for (metaKey, metaValue) in map {
                    guard let text = metaValue.stringValue else { throw bad("__metadata__ value '\(metaKey)' is not a string") }
                    metadata[metaKey] = text
                }
                continue
            }
            guard let info = value.objectValue else { throw bad("entry '\(key)' is not an object") }
            guard let dtype = info["dtype"]?.stringValue else { throw bad("entry '\(key)' has no dtype") }
            guard let shape = integers(info["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw bad("entry '\(key)' has no valid shape")
            }
            guard let offsets = integers(info["data_offsets"]), offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw bad("entry '\(key)' has no valid data_offsets")
            }
            guard let elementBytes = elementByteCounts[dtype] else {
                throw ConvertError.unsupportedDataType(tensor: key, dataType: dtype)
            }
            // Zero dimensions are skipped in the overflow check: `[0, 2^62, 2^62]` holds no bytes but its
            // row length (the product of the inner dimensions) would still overflow later.
            var expected = elementBytes
            var nonZeroProduct = elementBytes
            for dimension in shape {
                let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
                let (nonZero, nonZeroOverflow) = nonZeroProduct.multipliedReportingOverflow(by: max(dimension, 1))
                guard !overflow, !nonZeroOverflow else { throw bad("entry '\(key)' has a shape whose size overflows") }
                expected = product
                nonZeroProduct = nonZero
            }
            guard expected == offsets[1] - offsets[0] else {
                throw ConvertError.tensorSizeMismatch(file: name, tensor: key, expectedBytes: expected, actualBytes: offsets[1] - offsets[0])
            }
            entries.append(Entry(name: key, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1]))
        }

        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        if let last = entries.max(by: { $0.end < $1.end }), last.end > dataSize {
            throw ConvertError.truncatedFile(path: file.path, expectedBytes: dataStart + last.end, actualBytes: file.size)
        }
        var previous: Entry? = nil
        for entry in entries where entry.end > entry.begin {
            if let previous, entry.begin < previous.end {
                throw ConvertError.overlappingTensors(file: name, first: previous.name, second: entry.name)
            }
            previous = entry
        }

        let tensors = entries.map { entry -> SourceTensor in
            let type: SourceElementType? = switch entry.dtype {
            case "F32": .f32
            case "F16": .f16
            case "BF16": .bf16
            default: nil
            }
            return SourceTensor(
                name: entry.name, shape: entry.shape, elementType: type,
                unsupported: type == nil ? .unsupportedDataType(tensor: entry.name, dataType: entry.dtype) : nil,
                file: file, offset: dataStart + entry.begin, byteCount: entry.end - entry.begin)
        }
        return SafetensorsFile(file: file, tensors: tensors, metadata: metadata)
    }

    /// The integers of a JSON array; `nil` if it is not an array of whole numbers.
    static func integers(_ value: JSONValue?) -> [Int]? {
        guard let values = value?.arrayValue else { return nil }
        var result: [Int] = []
        for element in values {
            guard case .integer(let integer) = element else { return nil }
            result.append(integer)
        }
        return result
    }
}

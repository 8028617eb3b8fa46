/// Writes GGUF files that hold metadata only (no tensors), such as a model's tokenizer keys
/// (`tokenizer.ggml.*`) — the form of llama.cpp's vocabulary files, which Diffu embeds in `.diffu` files.
public enum GGUFWriter {
    /// Encodes a GGUF version 3 file with these key/values in this order and no tensors.
    public static func metadataOnly(_ metadata: [(key: String, value: GGUFValue)]) -> [UInt8] {
        var output: [UInt8] = Array("GGUF".utf8)
        append(UInt32(3), to: &output)
        append(UInt64(0), to: &output)  // tensor count
        append(UInt64(metadata.count), to: &output)
        for (key, value) in metadata {
            appendString(key, to: &output)
            append(value.type.rawValue, to: &output)
            appendValue(value, to: &output)
        }
        return output
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to output: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { output.append(contentsOf: $0) }
    }

    private static func appendString(_ string: String, to output: inout [UInt8]) {
        let bytes = Array(string.utf8)
        append(UInt64(bytes.count), to: &output)
        output.append(contentsOf: bytes)
    }

    private static func appendValue(_ value: GGUFValue, to output: inout [UInt8]) {
        switch value {
        case .unsigned(let raw, let type):
            switch type {
            case .uint8: append(UInt8(truncatingIfNeeded: raw), to: &output)
            case .uint16: append(UInt16(truncatingIfNeeded: raw), to: &output)
            case .uint32: append(UInt32(truncatingIfNeeded: raw), to: &output)
            default: append(raw, to: &output)
            }
        case .signed(let raw, let type):
            switch type {
            case .int8: append(Int8(truncatingIfNeeded: raw), to: &output)
            case .int16: append(Int16(truncatingIfNeeded: raw), to: &output)
            case .int32: append(Int32(truncatingIfNeeded: raw), to: &output)
            default: append(raw, to: &output)
            }
        case .float32(let raw): append(raw.bitPattern, to: &output)
        case .float64(let raw): append(raw.bitPattern, to: &output)
        case .bool(let raw): output.append(raw ? 1 : 0)
        case .string(let raw): appendString(raw, to: &output)
        case .array(let elementType, let values):
            append(elementType.rawValue, to: &output)
            append(UInt64(values.count), to: &output)
            for element in values { appendValue(element, to: &output) }
        }
    }
}

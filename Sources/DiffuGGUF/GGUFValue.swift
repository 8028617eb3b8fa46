/// The value types of GGUF metadata (codes as written in the file).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    /// u8
    case uint8 = 0
    /// i8
    case int8 = 1
    /// u16
    case uint16 = 2
    /// i16
    case int16 = 3
    /// u32
    case uint32 = 4
    /// i32
    case int32 = 5
    /// f32
    case float32 = 6
    /// bool (one byte, 0 or 1)
    case bool = 7
    /// string (u64 byte length + UTF-8 bytes)
    case string = 8
    /// array (u32 element type + u64 count + elements)
    case array = 9
    /// u64
    case uint64 = 10
    /// i64
    case int64 = 11
    /// f64
    case float64 = 12

    /// Encoded size of one scalar element; `nil` for string and array.
    var scalarByteCount: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }
}

/// One GGUF metadata value.
public enum GGUFValue: Sendable, Equatable {
    /// An unsigned integer of any width (u8, u16, u32, u64), with its original type.
    case unsigned(UInt64, GGUFValueType)
    /// A signed integer of any width (i8, i16, i32, i64), with its original type.
    case signed(Int64, GGUFValueType)
    /// An f32 value.
    case float32(Float)
    /// An f64 value.
    case float64(Double)
    /// A bool.
    case bool(Bool)
    /// A string. Invalid UTF-8 is repaired with U+FFFD (GGUF requires UTF-8).
    case string(String)
    /// An array whose elements all have `elementType`.
    case array(elementType: GGUFValueType, values: [GGUFValue])

    /// The value as an `Int` when it is an integer that fits.
    public var intValue: Int? {
        switch self {
        case .unsigned(let value, _): value <= UInt64(Int.max) ? Int(value) : nil
        case .signed(let value, _): Int(exactly: value)
        default: nil
        }
    }

    /// The value as a `Double` for any numeric type.
    public var doubleValue: Double? {
        switch self {
        case .float32(let value): Double(value)
        case .float64(let value): value
        case .unsigned(let value, _): Double(value)
        case .signed(let value, _): Double(value)
        default: nil
        }
    }

    /// The string, for string values.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The bool, for bool values.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The elements, for array values.
    public var arrayValue: [GGUFValue]? {
        if case .array(_, let values) = self { return values }
        return nil
    }

    /// The type code this value is written with.
    public var type: GGUFValueType {
        switch self {
        case .unsigned(_, let type), .signed(_, let type): type
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }
}

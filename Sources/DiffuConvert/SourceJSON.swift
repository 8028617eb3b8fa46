import Foundation

/// A parsed JSON value, for reading `config.json`, safetensors headers and shard indexes where keys
/// are dynamic and values of several types share one object.
public enum SourceJSON: Decodable, Sendable, Equatable {
    /// `null`
    case null
    /// `true` / `false`
    case bool(Bool)
    /// A number written without fraction or exponent that fits `Int`.
    case integer(Int)
    /// Any other number.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([SourceJSON])
    /// An object.
    case object([String: SourceJSON])

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([SourceJSON].self) { self = .array(value) }
        else { self = .object(try container.decode([String: SourceJSON].self)) }
    }

    /// Parses JSON bytes; `nil` when they are not valid JSON.
    public static func parse(_ bytes: [UInt8]) -> SourceJSON? {
        try? JSONDecoder().decode(SourceJSON.self, from: Data(bytes))
    }

    /// The integer, for integer values (and numbers that are whole and fit).
    public var intValue: Int? {
        switch self {
        case .integer(let value): value
        case .number(let value): value.rounded() == value && abs(value) < 9e15 ? Int(value) : nil
        default: nil
        }
    }

    /// The number, for any numeric value.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }

    /// The string, for string values.
    public var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    /// The bool, for bool values.
    public var boolValue: Bool? { if case .bool(let value) = self { value } else { nil } }
    /// The elements, for arrays.
    public var arrayValue: [SourceJSON]? { if case .array(let value) = self { value } else { nil } }
    /// The members, for objects.
    public var objectValue: [String: SourceJSON]? { if case .object(let value) = self { value } else { nil } }
    /// Whether this is `null`.
    public var isNull: Bool { self == .null }

    /// The member `key` of an object (`nil` for other values or a missing key).
    public subscript(key: String) -> SourceJSON? { objectValue?[key] }
}

import Foundation

/// A JSON value: the one representation the package reads JSON into (`config.json`, safetensors
/// headers and shard indexes, `tokenizer.json` and its companions, the `.diffu` metadata) and writes
/// the `.diffu` metadata and the server's responses from.
///
/// Integers are kept apart from other numbers so that 64-bit ids survive a round trip exactly: a number
/// written without fraction or exponent that fits `Int` is ``integer(_:)``, any other number
/// ``number(_:)``. Objects keep their members in the order they were read (``JSONObject``).
public enum JSONValue: Codable, Sendable, Equatable, Hashable {
    /// `null`.
    case null
    /// `true` / `false`.
    case bool(Bool)
    /// A number without fraction or exponent that fits `Int`.
    case integer(Int)
    /// Any other number.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object, its members in file order (equality and encoding ignore the order; encoding sorts
    /// keys when the encoder is asked to).
    case object(JSONObject)

    /// An object with the members of `dictionary` (in sorted key order).
    public static func object(_ dictionary: [String: JSONValue]) -> JSONValue {
        .object(JSONObject(dictionary))
    }

    /// Parses one JSON document (RFC 8259, strictly; a leading UTF-8 byte order mark is skipped).
    /// Nesting is capped at ``JSONSyntaxError/maximumDepth`` so hostile input cannot exhaust the stack.
    /// - Throws: ``JSONSyntaxError`` with the byte offset and the reason.
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        try JSONParser.parse(bytes)
    }

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(JSONObject(value))
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    /// Encodes the value as JSON.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value.dictionary)
        }
    }

    /// Converts any `Encodable` value (for example the model configuration) into a JSON value.
    public init<Value: Encodable>(encoding value: Value) throws {
        let data = try JSONEncoder().encode(value)
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Decodes this JSON value as `type` (for example `ModelConfiguration.self`).
    /// - Throws: the `DecodingError` that names the missing or mistyped field.
    public func decode<Value: Decodable>(_ type: Value.Type) throws -> Value {
        let data = try JSONEncoder().encode(self)
        return try JSONDecoder().decode(type, from: data)
    }

    /// The member `key` of an object (the last one if repeated); `nil` for other values or a missing key.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The integer, for integer values (and numbers that are whole and below 9·10^15 in magnitude).
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
    public var arrayValue: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    /// The members in file order, for objects.
    public var members: JSONObject? { if case .object(let value) = self { value } else { nil } }
    /// The members as a dictionary (a repeated key keeps its last value), for objects.
    public var objectValue: [String: JSONValue]? { if case .object(let value) = self { value.dictionary } else { nil } }
    /// Whether this is `null`.
    public var isNull: Bool { self == .null }
}

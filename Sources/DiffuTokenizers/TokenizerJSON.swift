import DiffuJSON

extension JSONValue {
    /// Parses a tokenizer file's JSON with the strict parser; a syntax error becomes
    /// ``TokenizerError/malformedJSON(file:offset:reason:)`` naming `file`.
    static func parse(_ bytes: [UInt8], file: String) throws(TokenizerError) -> JSONValue {
        do {
            return try JSONValue.parse(bytes)
        } catch {
            throw .malformedJSON(file: file, offset: error.offset, reason: error.reason)
        }
    }

    /// The number as an exact integer below 9·10^15 in magnitude (ids, counts), else `nil`: larger
    /// values are refused as the tokenizer formats' integers, whatever their spelling.
    var wholeNumber: Int? {
        switch self {
        case .integer(let value): value.magnitude < 9_000_000_000_000_000 ? value : nil
        case .number(let value): value.rounded() == value && abs(value) < 9.0e15 ? Int(value) : nil
        default: nil
        }
    }
}

import DiffuJSON

extension JSONValue {
    /// Parses a source file's JSON (`config.json`, a safetensors header, a shard index) with the strict
    /// parser; `nil` when the bytes are not valid JSON (the caller names the file in its error).
    static func parsed(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONValue.parse(bytes)
    }
}

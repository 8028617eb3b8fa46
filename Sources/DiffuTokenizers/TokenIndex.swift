/// Token spelling → id, compared byte for byte.
///
/// Swift `String` equality and hashing follow canonical equivalence (`"é"` == `"e\u{301}"`), but two
/// vocabulary entries that differ only in normalization are different tokens, so spellings are keyed by
/// their exact UTF-8 bytes (which is also much faster to hash than a String).
struct TokenIndex: Sendable {
    /// Exact UTF-8 bytes as a dictionary key.
    struct Key: Hashable, Sendable {
        let bytes: [UInt8]
        func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
        static func == (lhs: Key, rhs: Key) -> Bool { lhs.bytes == rhs.bytes }
    }

    private var ids: [Key: Int32] = [:]

    init() {}

    /// Indexes a token table; a repeated spelling keeps its first (lowest) id.
    init(_ tokens: [String?]) {
        ids.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() {
            guard let token else { continue }
            insertIfAbsent(token, Int32(id))
        }
    }

    mutating func insertIfAbsent(_ spelling: String, _ id: Int32) {
        let key = Key(bytes: Array(spelling.utf8))
        if ids[key] == nil { ids[key] = id }
    }

    subscript(_ spelling: String) -> Int32? { ids[Key(bytes: Array(spelling.utf8))] }

    subscript(bytes bytes: [UInt8]) -> Int32? { ids[Key(bytes: bytes)] }

    /// The id of the concatenation of two spellings (the result of a merge).
    func concatenation(_ left: String, _ right: String) -> Int32? {
        var bytes = Array(left.utf8)
        bytes.append(contentsOf: right.utf8)
        return ids[Key(bytes: bytes)]
    }
}

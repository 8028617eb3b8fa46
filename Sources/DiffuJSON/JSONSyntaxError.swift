/// Why bytes are not one JSON document: the byte offset where reading stopped and the reason.
public struct JSONSyntaxError: Error, Sendable, Equatable {
    /// The deepest nesting of arrays and objects ``JSONValue/parse(_:)`` reads.
    public static let maximumDepth = 256

    /// Byte offset in the input where the error was found.
    public var offset: Int
    /// What was wrong (`"expected ':'"`, `"nesting deeper than 256"`, …).
    public var reason: String

    /// Creates the error for `reason` at `offset`.
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
}

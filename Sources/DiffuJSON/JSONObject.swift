/// The members of a JSON object in the order they were read (vocabularies are large objects read in
/// order; small objects are searched linearly). Two objects are equal when they have the same keys with
/// equal values, in any order; a repeated key counts with its last value, as most JSON readers do.
public struct JSONObject: Sendable, Hashable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    /// One member: its key and value.
    public typealias Element = (key: String, value: JSONValue)

    /// The members in order.
    public private(set) var elements: [Element]

    /// An object with `elements`, in that order (repeated keys kept).
    public init(_ elements: [Element] = []) {
        self.elements = elements
    }

    /// An object with the members of `dictionary`, in sorted key order.
    public init(_ dictionary: [String: JSONValue]) {
        elements = dictionary.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
    }

    /// An object with the literal's members, in the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.elements = elements.map { (key: $0.0, value: $0.1) }
    }

    /// The position of the first member.
    public var startIndex: Int { elements.startIndex }
    /// The position after the last member.
    public var endIndex: Int { elements.endIndex }
    /// The member at `position`.
    public subscript(position: Int) -> Element { elements[position] }

    /// The value of `key` (the last member of that name); setting replaces that member's value in place,
    /// appends a new member, or (with `nil`) removes every member of that name.
    public subscript(key: String) -> JSONValue? {
        get { elements.last(where: { $0.key == key })?.value }
        set {
            if let newValue {
                if let index = elements.lastIndex(where: { $0.key == key }) {
                    elements[index].value = newValue
                } else {
                    elements.append((key: key, value: newValue))
                }
            } else {
                elements.removeAll { $0.key == key }
            }
        }
    }

    /// The keys in order.
    public var keys: [String] { elements.map(\.key) }
    /// The values in order.
    public var values: [JSONValue] { elements.map(\.value) }

    /// The members as a dictionary (a repeated key keeps its last value).
    public var dictionary: [String: JSONValue] {
        Dictionary(elements.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// Whether both objects have the same keys with equal values (order aside).
    public static func == (left: JSONObject, right: JSONObject) -> Bool {
        left.dictionary == right.dictionary
    }

    /// Hashes the members, order aside.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(dictionary)
    }
}

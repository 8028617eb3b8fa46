/// Character classes the split patterns need (`\p{L}`, `\p{N}`, `\s`, `[\r\n]`).
struct CharacterClass: OptionSet {
    let rawValue: UInt8
    static let letter = CharacterClass(rawValue: 1)
    static let number = CharacterClass(rawValue: 2)
    /// Unicode White_Space (Oniguruma's and PCRE's `\s` in Unicode mode).
    static let whitespace = CharacterClass(rawValue: 4)
    /// `\r` or `\n`.
    static let newline = CharacterClass(rawValue: 8)

    /// Classifies one scalar. ASCII goes through a table; everything else through the standard library's
    /// Unicode properties (general category, White_Space).
    @inline(__always)
    static func of(_ scalar: UInt32) -> CharacterClass {
        if scalar < 128 { return CharacterClass(rawValue: asciiTable[Int(scalar)]) }
        return classifyNonASCII(scalar)
    }

    static let asciiTable: [UInt8] = (0..<128).map { value in
        var result: CharacterClass = []
        switch value {
        case 0x41...0x5A, 0x61...0x7A: result.insert(.letter)
        case 0x30...0x39: result.insert(.number)
        case 0x0A, 0x0D: result.formUnion([.whitespace, .newline])
        case 0x09, 0x0B, 0x0C, 0x20: result.insert(.whitespace)
        default: break
        }
        return result.rawValue
    }

    static func classifyNonASCII(_ value: UInt32) -> CharacterClass {
        guard let scalar = Unicode.Scalar(value) else { return [] }
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return properties.isWhitespace ? .whitespace : []
        }
    }
}

/// A text decoded into units for the split patterns: one unit per Unicode scalar, or per byte that is
/// not part of well-formed UTF-8 (such a byte is classed like a symbol: not a letter, digit or space).
struct TextUnits {
    /// Scalar value per unit; `invalidScalar` for a stray byte.
    var scalars: [UInt32] = []
    /// Character class per unit.
    var classes: [UInt8] = []
    /// Byte offset where each unit starts, plus one final entry: the total byte count.
    var offsets: [Int] = []

    static let invalidScalar: UInt32 = 0xFFFF_FFFF

    var count: Int { scalars.count }

    /// Fills the units for `bytes` (reusing storage).
    mutating func decode(_ bytes: UnsafeBufferPointer<UInt8>) {
        scalars.removeAll(keepingCapacity: true)
        classes.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        var index = 0
        let count = bytes.count
        while index < count {
            let (scalar, length) = UTF8Decoding.scalar(in: bytes, at: index)
            scalars.append(scalar)
            classes.append(scalar == Self.invalidScalar ? 0 : CharacterClass.of(scalar).rawValue)
            offsets.append(index)
            index += length
        }
        offsets.append(count)
    }
}

/// Strict UTF-8 decoding of one scalar (rejects overlong forms, surrogates and values above U+10FFFF).
enum UTF8Decoding {
    /// The scalar at `index` and its byte length; `(TextUnits.invalidScalar, 1)` for a byte that does not
    /// start a well-formed sequence.
    @inline(__always)
    static func scalar(in bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (UInt32, Int) {
        let lead = bytes[index]
        if lead < 0x80 { return (UInt32(lead), 1) }
        let remaining = bytes.count - index
        @inline(__always) func continuation(_ offset: Int) -> UInt32? {
            guard offset < remaining else { return nil }
            let byte = bytes[index + offset]
            return byte & 0xC0 == 0x80 ? UInt32(byte & 0x3F) : nil
        }
        switch lead {
        case 0xC2...0xDF:
            if let b1 = continuation(1) { return (UInt32(lead & 0x1F) << 6 | b1, 2) }
        case 0xE0...0xEF:
            if let b1 = continuation(1), let b2 = continuation(2) {
                let value = UInt32(lead & 0x0F) << 12 | b1 << 6 | b2
                if value >= 0x800, !(0xD800...0xDFFF).contains(value) { return (value, 3) }
            }
        case 0xF0...0xF4:
            if let b1 = continuation(1), let b2 = continuation(2), let b3 = continuation(3) {
                let value = UInt32(lead & 0x07) << 18 | b1 << 12 | b2 << 6 | b3
                if value >= 0x10000, value <= 0x10FFFF { return (value, 4) }
            }
        default:
            break
        }
        return (TextUnits.invalidScalar, 1)
    }

    /// The expected length of a sequence starting with `lead`, or 0 for a byte that cannot start one.
    static func sequenceLength(lead: UInt8) -> Int {
        switch lead {
        case 0x00...0x7F: 1
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: 0
        }
    }
}

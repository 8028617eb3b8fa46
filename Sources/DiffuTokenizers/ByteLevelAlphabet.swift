/// GPT-2's reversible byte ↔ character alphabet: printable Latin-1 bytes stand for themselves, the other
/// 68 bytes map to U+0100 + n in byte order. Byte-level vocabularies spell tokens in these characters
/// (`"Ġthe"` is `" the"`).
enum ByteLevelAlphabet {
    /// `scalarForByte[b]` is the character that spells byte `b`.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The inverse, indexed by scalar value (the alphabet lies below U+0144): the byte + 1, or 0 for a
    /// character outside the alphabet.
    static let byteForScalar: [UInt16] = {
        var table = [UInt16](repeating: 0, count: 0x144)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar)] = UInt16(byte) + 1 }
        return table
    }()

    /// The raw bytes a byte-level token string stands for, or nil when a character is outside the
    /// alphabet (added tokens such as `<|endoftext|>` are spelled in it too, so nil is rare).
    static func decode(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard scalar.value < 0x144 else { return nil }
            let entry = byteForScalar[Int(scalar.value)]
            guard entry != 0 else { return nil }
            bytes.append(UInt8(entry - 1))
        }
        return bytes
    }

    /// The byte-level spelling of raw bytes.
    static func encode(_ bytes: [UInt8]) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(Unicode.Scalar(scalarForByte[Int(byte)])!) }
        return String(text)
    }
}

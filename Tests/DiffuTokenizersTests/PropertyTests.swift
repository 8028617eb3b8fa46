import DiffuTestSupport
import DiffuTokenizers
import Foundation
import Testing

/// Random text drawn from pools that stress the pre-tokenizers: mixed scripts, emoji (with ZWJ and
/// variation selectors), combining marks, whitespace runs of every kind, digits, apostrophes.
func randomText(_ generator: inout SplitMix64, length: Int) -> String {
    let pools: [[UInt32]] = [
        Array(0x20...0x7E),                                   // ASCII
        [0x20, 0x20, 0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C, 0xA0, 0x85, 0x2003, 0x3000, 0x2028],  // whitespace
        [0x27, 0x27, 0x73, 0x74, 0x6C, 0x6C, 0x72, 0x65, 0x53, 0x17F],   // contractions
        Array(0x300...0x36F),                                 // combining marks
        Array(0xC0...0x17F),                                  // Latin-1 / Extended-A
        Array(0x391...0x3C9) + Array(0x410...0x44F),          // Greek, Cyrillic
        Array(0x4E00...0x4E80) + Array(0x3041...0x3096) + Array(0xAC00...0xAC40),  // CJK, kana, Hangul
        Array(0x1F600...0x1F64F) + [0x200D, 0xFE0F, 0x1F3FD, 0x1F1EB, 0x1F1F7],      // emoji
        Array(0x660...0x669) + Array(0x966...0x96F) + [0xBD, 0xB2, 0x2167],          // other digits
        Array(0x5D0...0x5EA) + Array(0x627...0x64A) + Array(0x915...0x939) + Array(0x1780...0x17B3),
        [0x10000, 0x1D518, 0x20000, 0x2A6A5, 0xE000, 0xFFFD, 0xFEFF, 0x200B],        // astral, private, odd
    ]
    var scalars = String.UnicodeScalarView()
    for _ in 0..<length {
        let pool = pools[Int(generator.next() % UInt64(pools.count))]
        let value = pool[Int(generator.next() % UInt64(pool.count))]
        if let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
    }
    return String(scalars)
}

@Suite struct RoundTripPropertyTests {
    /// Byte-level (GPT-2, Qwen2) and byte-fallback (LLaMA) vocabularies lose nothing: decoding the ids
    /// gives back the text (for Qwen2, its NFC form, since NFC is part of its encoding).
    @Test(arguments: [Fixtures.Source.gpt2TokenizerJSON, .gpt2GGUF, .llamaTokenizerJSON, .llamaTokenizerModel, .llamaGGUF,
                      .qwen2TokenizerJSON, .qwen2GGUF, .qwen2VocabMerges])
    func decodeInvertsEncode(source: Fixtures.Source) throws {
        let tokenizer = try Fixtures.tokenizer(source)
        var generator = SplitMix64(state: 0xD1FF_0000 + UInt64(source.rawValue.utf8.count))
        for round in 0..<150 {
            let text = randomText(&generator, length: Int(generator.next() % 40))
            let expected = source.vocabulary == "qwen2" ? text.precomposedStringWithCanonicalMapping : text
            let ids = tokenizer.encode(text)
            #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
            #expect(Array(tokenizer.decode(ids).utf8) == Array(expected.utf8), "\(source) round \(round): \(text.debugDescription)")
        }
    }

    /// Any byte string encodes without trapping; byte-level and byte-fallback vocabularies give the bytes
    /// back exactly (`decodeBytes`), stray bytes included.
    @Test(arguments: [Fixtures.Source.gpt2GGUF, .llamaTokenizerModel, .llamaTokenizerJSON, .qwen2TokenizerJSON])
    func arbitraryBytesRoundTrip(source: Fixtures.Source) throws {
        let tokenizer = try Fixtures.tokenizer(source)
        var generator = SplitMix64(state: 0xBADB_17E5)
        for round in 0..<150 {
            let count = Int(generator.next() % 48)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if round % 3 == 0 { bytes = Array("héllo wörld ".utf8) + bytes + Array(" 😀".utf8) }
            let ids = tokenizer.encode(bytes: bytes)
            #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
            // Qwen2 normalizes each well-formed stretch to NFC and keeps stray bytes.
            let expected = source.vocabulary == "qwen2" ? nfcOfValidStretches(bytes) : bytes
            #expect(tokenizer.decodeBytes(ids) == expected, "\(source) round \(round): \(bytes)")
        }
    }

    /// Reference for Qwen2: the standard library's UTF-8 parser finds the well-formed stretches,
    /// Foundation composes them; ill-formed bytes stay as they are.
    func nfcOfValidStretches(_ bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        var stretch = String.UnicodeScalarView()
        func flush() {
            result += Array(String(stretch).precomposedStringWithCanonicalMapping.utf8)
            stretch = String.UnicodeScalarView()
        }
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var consumed = 0
        loop: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                stretch.append(Unicode.UTF8.decode(encoded))
                consumed += encoded.count
            case .error(let length):
                flush()
                result += bytes[consumed..<(consumed + length)]
                consumed += length
            case .emptyInput:
                break loop
            }
        }
        flush()
        return result
    }

    /// A stray byte is its own unit: valid text around it tokenizes as it would without it.
    @Test func strayByteIsIsolated() throws {
        let tokenizer = try Fixtures.tokenizer(.gpt2GGUF)
        let ids = tokenizer.encode(bytes: Array("Hello".utf8) + [0xFF] + Array(" world".utf8))
        let hello = tokenizer.encode("Hello")
        let world = tokenizer.encode(" world")
        #expect(ids == hello + [tokenizer.id(forToken: "ÿ")!] + world)
        // Invalid UTF-8 decodes to U+FFFD, never a trap.
        #expect(tokenizer.decode(ids) == "Hello\u{FFFD} world")
    }

    /// Many megabytes: whole-text encoding stays linear-ish. LLaMA has no pre-split, so one long "word"
    /// runs through the heap merge (a quadratic merge would take minutes here in a debug build).
    @Test func largeInputs() throws {
        var generator = SplitMix64(state: 42)
        var paragraph = ""
        for _ in 0..<40 { paragraph += randomText(&generator, length: 30) + " the quick brown fox, 12345. " }
        let paragraphBytes = paragraph.utf8.count
        let text = String(repeating: paragraph, count: max(1, 2_000_000 / paragraphBytes))
        #expect(text.utf8.count > 1_900_000)
        let gpt2 = try Fixtures.tokenizer(.gpt2GGUF)
        let gpt2Ids = gpt2.encode(text)
        #expect(Array(gpt2.decode(gpt2Ids).utf8) == Array(text.utf8))

        let llama = try Fixtures.tokenizer(.llamaTokenizerModel)
        let longWord = String(repeating: paragraph, count: max(1, 600_000 / paragraphBytes))
        let llamaIds = llama.encode(longWord)
        #expect(Array(llama.decode(llamaIds).utf8) == Array(longWord.utf8))
        // A single huge run of one character (worst case for the heap: every pair is a candidate).
        let run = String(repeating: "a", count: 300_000)
        #expect(llama.decode(llama.encode(run)) == run)
        #expect(gpt2.decode(gpt2.encode(run)) == run)
    }
}

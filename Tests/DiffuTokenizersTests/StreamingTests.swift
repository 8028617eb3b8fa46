import DiffuFormat
import Foundation
import Testing

@testable import DiffuTokenizers

/// Encoding streams text longer than the tokenizer's window through cuts where it is exact
/// (`StreamingPlan`). These tests shrink the window so that every text is cut at every place the plan
/// allows, and check the ids against the independent references: llama.cpp's vectors, HF `tokenizers`'
/// ids, and HF's ids for a 256 KiB text (tools/fixtures/make_long_text_fixture.py).
@Suite struct StreamingTests {
    static let windows = [1, 2, 7, 64]

    @Test(arguments: Fixtures.Source.allCases)
    func tinyWindowsKeepLlamaCppVectors(source: Fixtures.Source) throws {
        let base = try Fixtures.tokenizer(source)
        let vectors = try Fixtures.llamaCppVectors(source.ggufVectors)
        for window in Self.windows {
            let tokenizer = base.withWindow(byteCount: window)
            for (text, expected) in vectors {
                #expect(tokenizer.encode(text) == expected, "\(source) window \(window): \(text.debugDescription)")
            }
        }
    }

    @Test(arguments: Fixtures.Source.allCases)
    func tinyWindowsKeepHuggingFaceIds(source: Fixtures.Source) throws {
        let base = try Fixtures.tokenizer(source)
        for window in Self.windows {
            let tokenizer = base.withWindow(byteCount: window)
            for reference in try Fixtures.hfExpected(source.vocabulary) {
                let ids = tokenizer.encode(reference.text, addSpecialTokens: true, parseSpecial: reference.parse_special)
                #expect(ids == reference.ids_with_special, "\(source) window \(window): \(reference.text.debugDescription)")
            }
        }
    }

    @Test(arguments: ["gpt2-prefix-space", "gpt2-llama3-split", "synthetic"])
    func tinyWindowsKeepVariantIds(variant: String) throws {
        let base = try Fixtures.variantTokenizer(variant)
        for window in Self.windows {
            let tokenizer = base.withWindow(byteCount: window)
            for reference in try Fixtures.hfExpected(variant) {
                let ids = tokenizer.encode(reference.text, parseSpecial: reference.parse_special)
                #expect(ids == reference.ids, "\(variant) window \(window): \(reference.text.debugDescription)")
            }
        }
    }

    struct LongExpected: Decodable {
        struct Summary: Decodable {
            let count: Int
            let sha256: String
            let first: [Int32]
            let last: [Int32]
        }
        let bytes: Int
        let tokenizers: [String: Summary]
    }

    /// The 256 KiB text is four default windows long; it is also cut with 1 KiB and 100-byte windows.
    @Test(arguments: [Fixtures.Source.gpt2TokenizerJSON, .llamaTokenizerJSON, .qwen2TokenizerJSON, .gpt2GGUF, .qwen2VocabMerges,
                      .llamaTokenizerModel])
    func longTextMatchesHuggingFace(source: Fixtures.Source) throws {
        let text = try Fixtures.bytes("long/text.txt")
        let expected = try JSONDecoder().decode(LongExpected.self, from: Data(try Fixtures.bytes("long/expected.json")))
        #expect(text.count == expected.bytes)
        #expect(text.count > 4 * Tokenizer.defaultWindowByteCount)
        let summary = try #require(expected.tokenizers[source.vocabulary])
        let base = try Fixtures.tokenizer(source)
        for window in [Tokenizer.defaultWindowByteCount, 1024, 100] {
            let ids = base.withWindow(byteCount: window).encode(bytes: text)
            #expect(ids.count == summary.count, "\(source) window \(window)")
            #expect(Array(ids.prefix(32)) == summary.first, "\(source) window \(window)")
            #expect(Array(ids.suffix(32)) == summary.last, "\(source) window \(window)")
            let digest = SHA256.hexString(ids.withUnsafeBytes { SHA256.hash($0) })
            #expect(digest == summary.sha256, "\(source) window \(window)")
        }
    }

    /// A single word far longer than the window (nothing to cut at) still encodes exactly: the piece
    /// grows until the word ends.
    @Test(arguments: [Fixtures.Source.gpt2TokenizerJSON, .llamaTokenizerJSON, .qwen2TokenizerJSON])
    func wordLongerThanTheWindow(source: Fixtures.Source) throws {
        let base = try Fixtures.tokenizer(source)
        let word = String(repeating: "abcdefghij", count: 300) + " " + String(repeating: "\u{4E2D}", count: 500)
            + String(repeating: " ", count: 2000) + "x" + String(repeating: "\n", count: 700) + "end"
        let whole = base.withWindow(byteCount: Int.max).encode(word)
        for window in [1, 16, 1000] {
            #expect(base.withWindow(byteCount: window).encode(word) == whole, "\(source) window \(window)")
        }
    }

    /// Random short texts over an alphabet chosen to provoke the split patterns' look-ahead (whitespace
    /// runs before a word, contractions, digits, combining marks, CJK, `▁`): streamed with windows of 1 to
    /// 3 bytes they must give the ids of the whole text (whose ids the reference tests above check).
    @Test(arguments: [Fixtures.Source.gpt2GGUF, .llamaTokenizerJSON, .llamaGGUF, .qwen2TokenizerJSON])
    func randomTextsStreamExactly(source: Fixtures.Source) throws {
        let base = try Fixtures.tokenizer(source)
        let whole = base.withWindow(byteCount: Int.max)
        let alphabet = [" ", "  ", "\n", "\r\n", "\t", "a", "Zy", "1", "23", ".", "'", "s", "'re", "e\u{301}", "\u{4E2D}", "\u{4E2D}\u{6587}", "\u{1F600}", "\u{2581}", "!\n"]
        let streamed = (1...3).map { base.withWindow(byteCount: $0) }
        var seed: UInt64 = 0x5EED_2026_1127
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        for _ in 0..<400 {
            var text = ""
            for _ in 0..<(1 + next(24)) { text += alphabet[next(alphabet.count)] }
            let expected = whole.encode(text)
            for (index, tokenizer) in streamed.enumerated() {
                #expect(tokenizer.encode(text) == expected, "\(source) window \(index + 1): \(text.debugDescription)")
            }
        }
    }

    /// Every real vocabulary streams (no fallback to encoding a stretch whole): its normalizers are local
    /// at isolating starters, and SentencePiece vocabularies have no token with `▁` after another
    /// character.
    @Test(arguments: Fixtures.Source.allCases)
    func everyFixtureVocabularyStreams(source: Fixtures.Source) throws {
        let tokenizer = try Fixtures.tokenizer(source)
        let plan = StreamingPlan(definition: tokenizer.definition)
        #expect(plan.normalizationStreams, "\(source)")
        if tokenizer.definition.preTokenizer.splitters.isEmpty {
            #expect(plan.markerCutsAreExact, "\(source)")
        }
    }

    @Test func normalizationCutsOnlyBeforeIsolatingStarters() {
        // e + COMBINING ACUTE must stay together; a cut before "x" or a CJK ideograph is allowed.
        #expect(StreamingPlan.isIsolatingStarter(0x65))
        #expect(!StreamingPlan.isIsolatingStarter(0x301))
        #expect(StreamingPlan.isIsolatingStarter(0x4E2D))
        #expect(!StreamingPlan.isIsolatingStarter(0x3099))
        #expect(!StreamingPlan.isIsolatingStarter(0x1161))  // Hangul vowel jamo: composes with a leading jamo
    }
}

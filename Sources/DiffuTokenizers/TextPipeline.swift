import Foundation

/// One normalizer step, applied to each stretch of text between added tokens.
enum NormalizerStep: Sendable, Equatable {
    /// Unicode canonical composition (NFC). Bytes that are not UTF-8 are kept as they are.
    case nfc
    /// Prepends the bytes to a non-empty text (HF `Prepend`).
    case prepend([UInt8])
    /// Replaces every occurrence of `pattern` with `content`, left to right (HF `Replace` with a string).
    case replace(pattern: [UInt8], content: [UInt8])
    /// SentencePiece `remove_extra_whitespaces`: drops leading and trailing spaces and squeezes runs of
    /// spaces to one.
    case collapseSpaces

    func apply(_ text: [UInt8]) -> [UInt8] {
        switch self {
        case .nfc: return Self.composeCanonically(text)
        case .prepend(let prefix): return text.isEmpty ? text : prefix + text
        case .replace(let pattern, let content): return Self.replaceAll(text, pattern, content)
        case .collapseSpaces:
            var result: [UInt8] = []
            result.reserveCapacity(text.count)
            for byte in text {
                if byte == 0x20, result.isEmpty || result.last == 0x20 { continue }
                result.append(byte)
            }
            if result.last == 0x20 { result.removeLast() }
            return result
        }
    }

    static func replaceAll(_ text: [UInt8], _ pattern: [UInt8], _ content: [UInt8]) -> [UInt8] {
        guard !pattern.isEmpty, text.count >= pattern.count else { return text }
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        var index = 0
        let first = pattern[0]
        while index < text.count {
            if text[index] == first, index + pattern.count <= text.count,
               pattern.count == 1 || text[index..<(index + pattern.count)].elementsEqual(pattern) {
                result.append(contentsOf: content)
                index += pattern.count
            } else {
                result.append(text[index])
                index += 1
            }
        }
        return result
    }

    /// NFC over each well-formed UTF-8 stretch. Text whose scalars are all below U+0300 is already NFC
    /// (no scalar there decomposes or combines), which keeps the common case a single scan.
    static func composeCanonically(_ text: [UInt8]) -> [UInt8] {
        var needsWork = false
        for byte in text where byte >= 0xCC { needsWork = true; break }  // 0xCC 0x80 = U+0300
        guard needsWork else { return text }
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        text.withUnsafeBufferPointer { bytes in
            var runStart = 0
            var index = 0
            func flush(upTo end: Int) {
                guard end > runStart else { return }
                let run = String(decoding: UnsafeBufferPointer(rebasing: bytes[runStart..<end]), as: UTF8.self)
                result.append(contentsOf: run.precomposedStringWithCanonicalMapping.utf8)
            }
            while index < bytes.count {
                let (scalar, length) = UTF8Decoding.scalar(in: bytes, at: index)
                if scalar == TextUnits.invalidScalar {
                    flush(upTo: index)
                    result.append(bytes[index])
                    runStart = index + 1
                }
                index += length
            }
            flush(upTo: bytes.count)
        }
        return result
    }
}

/// What the pre-tokenizer does to one stretch of normalized text: an optional rewrite, then splits into
/// words.
struct PreTokenizerPlan: Sendable, Equatable {
    /// How a prefix is added before splitting.
    enum Prefix: Sendable, Equatable {
        /// ByteLevel `add_prefix_space`: a space unless the text starts with one.
        case space
        /// Metaspace `prepend_scheme: always`: the replacement unless the text starts with it.
        case replacementAlways([UInt8])
        /// Metaspace `prepend_scheme: first`: as `always`, only for text at the start of the input.
        case replacementFirst([UInt8])
    }

    /// One splitting stage.
    enum Splitter: Sendable, Equatable {
        /// A hand-implemented regex, pieces `Isolated`.
        case pattern(SplitPattern)
        /// Metaspace `split: true`: a new word starts at each replacement character.
        case beforeEach([UInt8])
        /// HF `Digits(individual_digits: true)`, llama.cpp's `\p{N}` first stage (SmolLM, StarCoder):
        /// every numeric scalar (general category Nd, Nl, No) becomes a word of its own.
        case isolatedNumbers
    }

    /// Metaspace: spaces become this replacement (`▁`).
    var spaceReplacement: [UInt8]? = nil
    var prefix: Prefix? = nil
    var splitters: [Splitter] = []
}

/// A token matched in raw text before normalization (HF added tokens, SentencePiece user-defined pieces,
/// GGUF control and user-defined tokens).
struct AddedToken: Sendable, Equatable {
    var id: Int32
    var content: [UInt8]
    /// Control tokens: matched only when special-token parsing is requested.
    var special: Bool
    /// Whitespace to the left is absorbed into the match.
    var leftStrip = false
    /// Whitespace to the right is absorbed into the match.
    var rightStrip = false
    /// Matched only when not adjacent to a word character (letter, digit or `_`).
    var singleWord = false
}

/// Finds added tokens in text: leftmost match first, the longest at a position.
struct AddedTokenMatcher: Sendable {
    let tokens: [AddedToken]
    /// Token indices by first byte, longest content first.
    private let candidatesByFirstByte: [[Int]]

    init(tokens: [AddedToken]) {
        let kept = tokens.filter { !$0.content.isEmpty }
        self.tokens = kept
        var table = [[Int]](repeating: [], count: 256)
        for (index, token) in kept.enumerated() { table[Int(token.content[0])].append(index) }
        for byte in 0..<256 {
            table[byte].sort { kept[$0].content.count > kept[$1].content.count }
        }
        candidatesByFirstByte = table
    }

    /// A stretch of input: plain text (`token == nil`) or one added token.
    struct Segment: Equatable {
        var range: Range<Int>
        var token: Int32?
    }

    /// Cuts `text` into plain stretches and matched tokens and hands each to `body` in order (no list is
    /// built, so the memory does not grow with the number of matches). Special tokens are matched only
    /// when `includeSpecial`. Text without added tokens is one plain segment (also when empty).
    func forEachSegment(_ text: UnsafeBufferPointer<UInt8>, includeSpecial: Bool, _ body: (Segment) -> Void) {
        guard !tokens.isEmpty else { return body(Segment(range: 0..<text.count, token: nil)) }
        var emitted = false
        var plainStart = 0
        var index = 0
        while index < text.count {
            guard let match = matchAt(text, index, includeSpecial: includeSpecial) else { index += 1; continue }
            let token = tokens[match]
            var start = index
            var end = index + token.content.count
            if token.leftStrip {
                while start > plainStart, let previous = Self.scalarBefore(text, start), previous.scalar.properties.isWhitespace {
                    start -= previous.length
                }
            }
            if token.rightStrip {
                while end < text.count {
                    let (value, length) = UTF8Decoding.scalar(in: text, at: end)
                    guard let scalar = Unicode.Scalar(value), scalar.properties.isWhitespace else { break }
                    end += length
                }
            }
            if start > plainStart { body(Segment(range: plainStart..<start, token: nil)) }
            body(Segment(range: start..<end, token: token.id))
            emitted = true
            plainStart = end
            index = end
        }
        if plainStart < text.count || !emitted { body(Segment(range: plainStart..<text.count, token: nil)) }
    }

    private func matchAt(_ text: UnsafeBufferPointer<UInt8>, _ index: Int, includeSpecial: Bool) -> Int? {
        for candidate in candidatesByFirstByte[Int(text[index])] {
            let token = tokens[candidate]
            if token.special, !includeSpecial { continue }
            let end = index + token.content.count
            guard end <= text.count else { continue }
            var equal = true
            for offset in 1..<max(token.content.count, 1) where text[index + offset] != token.content[offset] {
                equal = false
                break
            }
            guard equal else { continue }
            if token.singleWord {
                if let previous = Self.scalarBefore(text, index), Self.isWordCharacter(previous.scalar) { continue }
                if end < text.count {
                    let (value, _) = UTF8Decoding.scalar(in: text, at: end)
                    if let scalar = Unicode.Scalar(value), Self.isWordCharacter(scalar) { continue }
                }
            }
            return candidate
        }
        return nil
    }

    private static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || CharacterClass.of(scalar.value).isDisjoint(with: [.letter, .number]) == false
    }

    /// The scalar that ends just before `index` (nil at the start or after a stray byte).
    private static func scalarBefore(_ text: UnsafeBufferPointer<UInt8>, _ index: Int) -> (scalar: Unicode.Scalar, length: Int)? {
        guard index > 0 else { return nil }
        var start = index - 1
        while start > 0, index - start < 4, text[start] & 0xC0 == 0x80 { start -= 1 }
        let (value, length) = UTF8Decoding.scalar(in: text, at: start)
        guard start + length == index, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}

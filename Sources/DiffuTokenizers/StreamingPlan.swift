/// Where a long stretch of text may be cut so that encoding it piece by piece gives exactly the ids of
/// encoding it whole. `Tokenizer` streams stretches longer than its window through these cuts, which
/// keeps encoding memory bounded by the window (and the longest word) instead of growing with the input.
///
/// Two stages are cut independently:
/// - Normalization (`normalizationCut`) runs over raw text pieces cut just before a scalar that no
///   normalizer can join to what precedes it (see `isIsolatingStarter`).
/// - Splitting and merging run over the normalized text as it arrives. With a pre-tokenizer split, all
///   words but the last `heldBackWords` are final (no split pattern looks further ahead than the end of
///   the second word after the current one; see `SplitPattern`). Without one (SentencePiece), the text is
///   cut before a word-start marker `▁` when no token of the vocabulary has `▁` after another character,
///   so no merge can cross the cut.
struct StreamingPlan: Sendable {
    /// Whether raw text can be normalized in pieces (every normalizer is local at an isolating starter).
    let normalizationStreams: Bool
    /// Scalars a `replace` normalizer rewrites: never cut before one.
    private let replacedScalars: Set<UInt32>
    /// Whether a stretch without a pre-tokenizer split may be cut before `▁` (see the type's comment).
    let markerCutsAreExact: Bool
    /// Whether a stretch without a pre-tokenizer split may be cut after an isolated character (a
    /// `.characters` model without whole-word lookups).
    let isolatedCharacterCuts: Bool

    /// Words the split stage holds back until more text (or the end) arrives.
    static let heldBackWords = 3

    init(definition: TokenizerDefinition) {
        var streams = true
        var replaced = Set<UInt32>()
        var replacementsMakeSpaces = false
        for step in definition.normalizers {
            switch step {
            case .nfc, .prepend:
                break
            case .replace(let pattern, let content):
                // A pattern of one well-formed scalar cannot straddle a cut made before a scalar.
                let (scalar, length) = pattern.isEmpty ? (TextUnits.invalidScalar, 0)
                    : pattern.withUnsafeBufferPointer { UTF8Decoding.scalar(in: $0, at: 0) }
                if scalar != TextUnits.invalidScalar, length == pattern.count {
                    replaced.insert(scalar)
                } else {
                    streams = false
                }
                if content.contains(0x20) { replacementsMakeSpaces = true }
            case .collapseSpaces:
                break
            }
        }
        // Collapsing spaces is local at a cut with no space on either side, unless a replacement makes
        // new spaces there.
        if definition.normalizers.contains(.collapseSpaces), replacementsMakeSpaces { streams = false }
        normalizationStreams = streams
        replacedScalars = replaced

        let characterModel = definition.preTokenizer.splitters.isEmpty && definition.model.alphabet == .characters
            && definition.model.wholeWords == nil
        isolatedCharacterCuts = characterModel
        var markerCuts = false
        if characterModel, definition.model.scalarSymbols[0x2581] != nil {
            markerCuts = !definition.tokenStrings.contains { token in
                guard let token else { return false }
                var previous: Unicode.Scalar?
                for scalar in token.unicodeScalars {
                    if scalar.value == 0x2581, let previous, previous.value != 0x2581 { return true }
                    previous = scalar
                }
                return false
            }
        }
        markerCutsAreExact = markerCuts
    }

    /// The first position at or after `start` where raw text may be cut for normalization, or
    /// `raw.count` when there is none.
    func normalizationCut(_ raw: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var position = max(start, 1)
        while position < raw.count {
            if raw[position - 1] != 0x20, raw[position] & 0xC0 != 0x80 {
                let (scalar, _) = UTF8Decoding.scalar(in: raw, at: position)
                if scalar != 0x20, Self.isIsolatingStarter(scalar), !replacedScalars.contains(scalar) { return position }
            }
            position += 1
        }
        return raw.count
    }

    /// A scalar that canonical composition never joins to the character before it and that NFC leaves
    /// unchanged: it has combining class 0, no decomposition, and is never the second scalar of a
    /// primary composite (those are all combining marks, Hangul jamo and a few Indic vowel signs, all in
    /// blocks excluded here). Covers ASCII, Latin-1 and Latin Extended (below U+0300), CJK unified
    /// ideographs, kana (without the combining voicing marks U+3099/U+309A) and Hangul syllables.
    static func isIsolatingStarter(_ scalar: UInt32) -> Bool {
        switch scalar {
        case 0..<0x300, 0x3041...0x3098, 0x309B...0x30FF, 0x4E00...0x9FFF, 0xAC00...0xD7A3: true
        default: false
        }
    }

    /// The last position in `text` (after its first byte, before its end) where a stretch without a
    /// pre-tokenizer split may be cut exactly: before a `▁` that does not follow another `▁` (when
    /// `markerCutsAreExact`), or right after a unit `model` isolates. Nil when there is none.
    func lastCut(_ text: UnsafeBufferPointer<UInt8>, model: BPEModel) -> Int? {
        let marker = SentencePieceVocabulary.spaceMarker
        var position = text.count - 1
        while position > 0 {
            defer { position -= 1 }
            if text[position] & 0xC0 == 0x80 { continue }  // inside a scalar
            // The unit that ends at `position`: a well-formed scalar, or the stray byte before it.
            var start = position - 1
            while start > 0, position - start < 4, text[start] & 0xC0 == 0x80 { start -= 1 }
            var (scalar, length) = UTF8Decoding.scalar(in: text, at: start)
            if start + length != position { (scalar, length, start) = (TextUnits.invalidScalar, 1, position - 1) }
            if markerCutsAreExact, scalar != 0x2581, position + marker.count <= text.count,
               text[position] == marker[0], text[position + 1] == marker[1], text[position + 2] == marker[2] {
                return position
            }
            if isolatedCharacterCuts, model.unitIsIsolated(scalar, UnsafeBufferPointer(rebasing: text[start..<position])) {
                return position
            }
        }
        return nil
    }
}

import Foundation

/// Ids of the tokens with a role, where the source names them: the tokenizer's (bos, eos, unk, pad) and
/// the converter's reading of a checkpoint (bos, eos, pad, and the mask a diffusion model declares).
public struct SpecialTokenIds: Sendable, Equatable {
    /// Beginning of sequence.
    public var bos: Int32?
    /// End of sequence.
    public var eos: Int32?
    /// Unknown.
    public var unk: Int32?
    /// Padding.
    public var pad: Int32?
    /// Mask, when the source declares one (Dream's `mask_token_id`, GGUF `tokenizer.ggml.mask_token_id`).
    public var mask: Int32?

    /// Creates a set of special-token ids.
    public init(bos: Int32? = nil, eos: Int32? = nil, unk: Int32? = nil, pad: Int32? = nil, mask: Int32? = nil) {
        self.bos = bos
        self.eos = eos
        self.unk = unk
        self.pad = pad
        self.mask = mask
    }
}

/// Everything a loader produces; the `Tokenizer` runs it.
struct TokenizerDefinition: Sendable {
    /// Token spelling per id, as written in the source (`nil` for ids the source leaves out).
    var tokenStrings: [String?]
    var model: BPEModel
    var normalizers: [NormalizerStep] = []
    var preTokenizer = PreTokenizerPlan()
    var addedTokens: [AddedToken] = []
    /// Bytes each id contributes to decoded text (after the decoder chain's per-token steps).
    var decodedBytes: [[UInt8]]
    /// Spaces removed from the start / end of decoded text (HF `Strip`, Metaspace's prefix).
    var decodeStripLeadingSpaces = 0
    var decodeStripTrailingSpaces = 0
    /// Tokens put around the text when special tokens are added.
    var prefixIds: [Int32] = []
    var suffixIds: [Int32] = []
    var specialTokens = SpecialTokenIds()
    var chatTemplate: String? = nil
    /// Spelling → id for `tokenStrings`, when the loader already built it (else built by `Tokenizer`).
    var tokenIndex: TokenIndex? = nil
    /// Where the definition came from, for diagnostics ("tokenizer.json", "vocab.gguf", ...).
    var source: String
}

/// A token-exact BPE tokenizer: GPT-2 and Qwen2 byte-level BPE, SentencePiece (LLaMA) BPE with byte
/// fallback. Immutable and safe to share between threads.
///
/// Encoding runs: added tokens are cut out of the raw text; each stretch between them is normalized
/// (NFC, Prepend, Replace), pre-tokenized (the GPT-2/Qwen2/LLaMA-3 split regexes, Metaspace) and every
/// word is merged by BPE in O(n log n).
///
/// Text that merely spells a special (control) token such as `<|endoftext|>` or `<s>` is ordinary text
/// unless `parseSpecial` is true (llama.cpp's default; HF `tokenizers` always matches them). Non-special
/// added tokens (HF `special: false`, SentencePiece user-defined pieces) are always matched. Added tokens
/// are matched in the raw text (HF matches `normalized: true` ones after normalization; the two differ
/// only when a normalizer rewrites a token's own spelling).
///
/// Qwen2 vocabularies apply NFC also when loaded from GGUF (as HF does and the models were trained;
/// llama.cpp skips it, so llama.cpp's ids differ on non-NFC input).
public final class Tokenizer: Sendable {
    let definition: TokenizerDefinition
    private let matcher: AddedTokenMatcher
    private let index: TokenIndex
    private let isSpecialId: [Bool]
    private let usesWordCache: Bool
    private let streaming: StreamingPlan
    /// Stretches of text longer than this many bytes are encoded in pieces of about this size (see
    /// `encodeText`); `defaultWindowByteCount` unless a test asks for another.
    let windowByteCount: Int

    /// Default encoding window: 64 KiB, a few megabytes of working memory.
    static let defaultWindowByteCount = 1 << 16

    init(definition: TokenizerDefinition, windowByteCount: Int = Tokenizer.defaultWindowByteCount) {
        self.definition = definition
        self.windowByteCount = max(windowByteCount, 1)
        streaming = StreamingPlan(definition: definition)
        matcher = AddedTokenMatcher(tokens: definition.addedTokens)
        index = definition.tokenIndex ?? TokenIndex(definition.tokenStrings)
        var special = [Bool](repeating: false, count: definition.tokenStrings.count)
        for token in definition.addedTokens where token.special && Int(token.id) < special.count { special[Int(token.id)] = true }
        isSpecialId = special
        // Byte-level vocabularies with a pre-tokenizer split text into short, repeating words.
        usesWordCache = !definition.preTokenizer.splitters.isEmpty
    }

    /// The same tokenizer with another encoding window (tests use tiny windows to cut text everywhere).
    func withWindow(byteCount: Int) -> Tokenizer { Tokenizer(definition: definition, windowByteCount: byteCount) }

    /// Number of token ids (the largest id plus one).
    public var vocabularySize: Int { definition.tokenStrings.count }

    /// Ids of the bos/eos/unk/pad tokens, where known.
    public var specialTokens: SpecialTokenIds { definition.specialTokens }

    /// The chat template (Jinja source) from `tokenizer_config.json` or GGUF `tokenizer.chat_template`.
    public var chatTemplate: String? { definition.chatTemplate }

    /// The file the tokenizer was built from (`tokenizer.json`, `tokenizer.model`, `vocab.json`,
    /// `vocab.gguf`).
    public var sourceName: String { definition.source }

    /// Tokens added by `encode(..., addSpecialTokens: true)` before and after the text.
    public var addedSpecialTokens: (prefix: [Int32], suffix: [Int32]) { (definition.prefixIds, definition.suffixIds) }

    /// The token's spelling in the vocabulary (byte-level vocabularies spell a space `Ġ`, SentencePiece
    /// `▁`), or nil for an unknown id.
    public func token(forId id: Int32) -> String? {
        guard id >= 0, Int(id) < definition.tokenStrings.count else { return nil }
        return definition.tokenStrings[Int(id)]
    }

    /// The id of a token spelled as in the vocabulary (compared scalar for scalar, not up to Unicode
    /// canonical equivalence), or nil.
    public func id(forToken token: String) -> Int32? { index[token] }

    /// Whether the id is a special (control) token.
    public func isSpecial(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < isSpecialId.count && isSpecialId[Int(id)]
    }

    /// Encodes text. `addSpecialTokens` adds the source's bos/eos (for LLaMA `<s>` in front; nothing for
    /// GPT-2 and Qwen2). `parseSpecial` matches special-token spellings in the text as those tokens.
    public func encode(_ text: String, addSpecialTokens: Bool = false, parseSpecial: Bool = false) -> [Int32] {
        var text = text
        return text.withUTF8 { encode(buffer: $0, addSpecialTokens: addSpecialTokens, parseSpecial: parseSpecial) }
    }

    /// Encodes any byte string. Well-formed UTF-8 gives the same ids as `encode(String)`. A byte that is
    /// not part of well-formed UTF-8 is kept as that single byte: it is its own pre-tokenizer unit
    /// (classed as punctuation, not letter/digit/space), NFC leaves it alone, and BPE gives it its
    /// byte token (byte-level vocabularies), its `<0xXX>` token (byte fallback) or the unknown token.
    /// Byte-level and byte-fallback vocabularies therefore reproduce the input bytes exactly in
    /// `decodeBytes`.
    public func encode(bytes: [UInt8], addSpecialTokens: Bool = false, parseSpecial: Bool = false) -> [Int32] {
        bytes.withUnsafeBufferPointer { encode(buffer: $0, addSpecialTokens: addSpecialTokens, parseSpecial: parseSpecial) }
    }

    /// Encodes any byte string (as `encode(bytes:)`) in bounded memory: the ids are handed to `body` in
    /// order, in batches of up to about `batchSize` ids, as soon as text still to come can no longer
    /// change them. The batches together equal `encode(bytes:)`'s result. Working memory stays near the
    /// encoding window (64 KiB of text) plus the longest word, whatever the input's length.
    public func encode(bytes: [UInt8], addSpecialTokens: Bool = false, parseSpecial: Bool = false, batchSize: Int = 1 << 16,
                       _ body: ([Int32]) -> Void) {
        let limit = max(batchSize, 1)
        let rest = bytes.withUnsafeBufferPointer {
            encode(buffer: $0, addSpecialTokens: addSpecialTokens, parseSpecial: parseSpecial) { output in
                guard output.count >= limit else { return }
                body(output)
                output.removeAll(keepingCapacity: true)
            }
        }
        if !rest.isEmpty { body(rest) }
    }

    /// Encodes `buffer`; `flush` may take ids out of the output whenever it is called (between stretches
    /// and between streamed windows); what it leaves is returned.
    private func encode(buffer: UnsafeBufferPointer<UInt8>, addSpecialTokens: Bool, parseSpecial: Bool,
                        flush: (inout [Int32]) -> Void = { _ in }) -> [Int32] {
        var output: [Int32] = []
        output.reserveCapacity(min(buffer.count, windowByteCount) / 3 + 4)
        if addSpecialTokens { output.append(contentsOf: definition.prefixIds) }
        var workspace = EncodeWorkspace(cacheSlots: usesWordCache ? Self.cacheSlots(forByteCount: buffer.count) : 0)
        matcher.forEachSegment(buffer, includeSpecial: parseSpecial) { segment in
            if let token = segment.token {
                output.append(token)
            } else if !segment.range.isEmpty {
                encodeText(UnsafeBufferPointer(rebasing: buffer[segment.range]), atStart: segment.range.lowerBound == 0,
                           workspace: &workspace, output: &output, flush: flush)
            }
            flush(&output)
        }
        if addSpecialTokens { output.append(contentsOf: definition.suffixIds) }
        return output
    }

    /// Reusable buffers for one `encode` call.
    private struct EncodeWorkspace {
        var units = TextUnits()
        var ends: [Int] = []
        var merge = MergeWorkspace()
        var cache: WordCache?

        init(cacheSlots: Int) { cache = cacheSlots > 0 ? WordCache(slotCount: cacheSlots) : nil }
    }

    /// Word-cache size for an input: about one slot per two bytes, a power of two in 0 (short texts,
    /// where a cache cannot pay off) or 256...16384.
    private static func cacheSlots(forByteCount count: Int) -> Int {
        guard count >= 128 else { return 0 }
        var slots = 256
        while slots < 16384, slots * 2 < count { slots <<= 1 }
        return slots
    }

    /// Normalizes, pre-tokenizes and merges one stretch of text that holds no added token.
    ///
    /// A stretch longer than `windowByteCount` is streamed (see `StreamingPlan`): raw pieces of about a
    /// window are normalized and appended to `pending`, and the split stage consumes the words of
    /// `pending` that text still to come cannot change. The ids equal those of the whole stretch; memory
    /// stays bounded by the window and the longest word (a stage that finds no cut grows its piece).
    private func encodeText(_ raw: UnsafeBufferPointer<UInt8>, atStart: Bool, workspace: inout EncodeWorkspace, output: inout [Int32],
                            flush: (inout [Int32]) -> Void) {
        let plan = definition.preTokenizer
        let normalizes = !definition.normalizers.isEmpty || plan.spaceReplacement != nil || plan.prefix != nil
        if raw.count <= windowByteCount || !streaming.normalizationStreams {
            if normalizes {
                let text = normalize(raw, isFirstPiece: true, atStart: atStart)
                _ = text.withUnsafeBufferPointer { splitAndMerge($0, isFinal: true, workspace: &workspace, output: &output) }
            } else {
                _ = splitAndMerge(raw, isFinal: true, workspace: &workspace, output: &output)
            }
            return
        }
        var pending: [UInt8] = []
        var rawStart = 0
        var pieceByteCount = windowByteCount
        while rawStart < raw.count {
            let rawEnd = raw.count - rawStart > pieceByteCount
                ? streaming.normalizationCut(raw, from: rawStart + pieceByteCount) : raw.count
            let piece = UnsafeBufferPointer(rebasing: raw[rawStart..<rawEnd])
            if normalizes {
                pending.append(contentsOf: normalize(piece, isFirstPiece: rawStart == 0, atStart: atStart))
            } else {
                pending.append(contentsOf: piece)
            }
            let isFinal = rawEnd == raw.count
            let consumed = pending.withUnsafeBufferPointer { splitAndMerge($0, isFinal: isFinal, workspace: &workspace, output: &output) }
            // No word was final yet (one long word): take a bigger piece next, so the work stays linear.
            pieceByteCount = consumed == 0 ? pieceByteCount * 2 : windowByteCount
            pending.removeFirst(consumed)
            rawStart = rawEnd
            flush(&output)
        }
    }

    /// The normalizers, the Metaspace space replacement and the prefix, applied to one raw piece. Prefixes
    /// (`Prepend`, `add_prefix_space`, Metaspace's prepend scheme) apply only to the first piece of a
    /// stretch.
    private func normalize(_ raw: UnsafeBufferPointer<UInt8>, isFirstPiece: Bool, atStart: Bool) -> [UInt8] {
        let plan = definition.preTokenizer
        var text = Array(raw)
        for step in definition.normalizers {
            if case .prepend = step, !isFirstPiece { continue }
            text = step.apply(text)
        }
        if let replacement = plan.spaceReplacement { text = NormalizerStep.replaceAll(text, [0x20], replacement) }
        guard isFirstPiece else { return text }
        switch plan.prefix {
        case .space:
            if !text.isEmpty, text[0] != 0x20 { text.insert(0x20, at: 0) }
        case .replacementAlways(let replacement):
            if !text.isEmpty, !text.starts(with: replacement) { text.insert(contentsOf: replacement, at: 0) }
        case .replacementFirst(let replacement):
            if atStart, !text.isEmpty, !text.starts(with: replacement) { text.insert(contentsOf: replacement, at: 0) }
        case nil:
            break
        }
        return text
    }

    /// Splits normalized text into words and merges them, and returns how many bytes of `text` it
    /// consumed: all of them when `isFinal`, otherwise the final words only (see `StreamingPlan`), which
    /// may be none.
    private func splitAndMerge(_ text: UnsafeBufferPointer<UInt8>, isFinal: Bool, workspace: inout EncodeWorkspace, output: inout [Int32]) -> Int {
        let splitters = definition.preTokenizer.splitters
        guard let firstSplitter = splitters.first else {
            var end = text.count
            if !isFinal {
                guard let cut = streaming.lastCut(text, model: definition.model) else { return 0 }
                end = cut
            }
            encodeLongWord(UnsafeBufferPointer(rebasing: text[0..<end]), workspace: &workspace, output: &output)
            return end
        }
        // Word boundaries as byte offsets, refined by each splitter in turn.
        var boundaries = refine([0, text.count], text, by: firstSplitter, workspace: &workspace)
        if !isFinal {
            // Hold back the last words: text still to come may change them.
            var held = 0
            while held < StreamingPlan.heldBackWords, boundaries.count > 1 {
                let end = boundaries.removeLast()
                while boundaries.count > 1, boundaries.last == end { boundaries.removeLast() }
                held += 1
            }
            guard held == StreamingPlan.heldBackWords, boundaries.count > 1 else { return 0 }
        }
        let consumed = boundaries.last!
        for splitter in splitters.dropFirst() { boundaries = refine(boundaries, text, by: splitter, workspace: &workspace) }
        for wordIndex in 0..<(boundaries.count - 1) {
            let word = UnsafeBufferPointer(rebasing: text[boundaries[wordIndex]..<boundaries[wordIndex + 1]])
            if word.isEmpty { continue }
            if workspace.cache != nil, word.count <= WordCache.maximumWordLength {
                let hash = WordCache.hash(word)
                if workspace.cache!.lookup(word, hash: hash, output: &output) { continue }
                let before = output.count
                definition.model.encodeWord(word, workspace: &workspace.merge, output: &output)
                workspace.cache!.insert(word, hash: hash, tokens: output[before...])
            } else {
                encodeLongWord(word, workspace: &workspace, output: &output)
            }
        }
        return consumed
    }

    /// Cuts each word (between consecutive `boundaries`) further with one splitter; returns the new
    /// boundaries (starting with 0, ending with the text's end).
    private func refine(_ boundaries: [Int], _ text: UnsafeBufferPointer<UInt8>, by splitter: PreTokenizerPlan.Splitter,
                        workspace: inout EncodeWorkspace) -> [Int] {
        var refined: [Int] = [0]
        for wordIndex in 0..<(boundaries.count - 1) {
            let start = boundaries[wordIndex]
            let end = boundaries[wordIndex + 1]
            guard end > start else { continue }
            let word = UnsafeBufferPointer(rebasing: text[start..<end])
            switch splitter {
            case .pattern(let pattern):
                workspace.units.decode(word)
                workspace.ends.removeAll(keepingCapacity: true)
                pattern.split(workspace.units, into: &workspace.ends)
                for unitEnd in workspace.ends { refined.append(start + workspace.units.offsets[unitEnd]) }
            case .beforeEach(let delimiter):
                var index = 0
                while index + delimiter.count <= word.count {
                    if index > 0, word[index..<(index + delimiter.count)].elementsEqual(delimiter) {
                        refined.append(start + index)
                    }
                    index += 1
                }
                refined.append(end)
            case .isolatedNumbers:
                var index = 0
                while index < word.count {
                    let (value, length) = UTF8Decoding.scalar(in: word, at: index)
                    if let scalar = Unicode.Scalar(value), Self.isNumeric(scalar) {
                        if index > 0 { refined.append(start + index) }
                        if index + length < word.count { refined.append(start + index + length) }
                    }
                    index += length
                }
                refined.append(end)
            }
        }
        if refined.last != boundaries.last { refined.append(boundaries.last!) }
        return refined
    }

    /// `\p{N}`: decimal digits, letter numbers and other numbers.
    static func isNumeric(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    /// Longest word merged in one piece: symbol positions are 32-bit in the merge heap.
    static let maximumWordByteCount = 1 << 30

    /// Merges a word; one longer than `maximumWordByteCount` bytes (only possible for vocabularies
    /// without a pre-tokenizer split, given gigabytes of text) is merged in pieces of that size cut at
    /// character boundaries.
    private func encodeLongWord(_ word: UnsafeBufferPointer<UInt8>, workspace: inout EncodeWorkspace, output: inout [Int32]) {
        var start = 0
        while word.count - start > Self.maximumWordByteCount {
            var end = start + Self.maximumWordByteCount
            while end > start + 1, word[end] & 0xC0 == 0x80 { end -= 1 }
            definition.model.encodeWord(UnsafeBufferPointer(rebasing: word[start..<end]), workspace: &workspace.merge, output: &output)
            start = end
        }
        definition.model.encodeWord(UnsafeBufferPointer(rebasing: word[start...]), workspace: &workspace.merge, output: &output)
    }

    /// Decodes ids to text. Ids outside the vocabulary are skipped (no trap, no placeholder). Special
    /// tokens appear as their spelling unless `skipSpecialTokens`. Bytes that do not form UTF-8 (an
    /// incomplete byte-fallback sequence, say) become U+FFFD, one per maximal ill-formed subsequence.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        String(decoding: decodeBytes(ids, skipSpecialTokens: skipSpecialTokens), as: UTF8.self)
    }

    /// Decodes ids to raw bytes (the inverse of `encode(bytes:)` for byte-level and byte-fallback
    /// vocabularies). Out-of-range ids are skipped.
    public func decodeBytes(_ ids: [Int32], skipSpecialTokens: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            guard let piece = decodedPiece(id, skipSpecialTokens: skipSpecialTokens) else { continue }
            bytes.append(contentsOf: piece)
        }
        var start = 0
        while start < min(definition.decodeStripLeadingSpaces, bytes.count), bytes[start] == 0x20 { start += 1 }
        var end = bytes.count
        while end > start, bytes.count - end < definition.decodeStripTrailingSpaces, bytes[end - 1] == 0x20 { end -= 1 }
        return start == 0 && end == bytes.count ? bytes : Array(bytes[start..<end])
    }

    /// The bytes one id contributes to decoded text, or nil when it contributes nothing.
    func decodedPiece(_ id: Int32, skipSpecialTokens: Bool) -> [UInt8]? {
        guard id >= 0, Int(id) < definition.decodedBytes.count else { return nil }
        if skipSpecialTokens, isSpecialId[Int(id)] { return nil }
        return definition.decodedBytes[Int(id)]
    }
}

/// Decodes a stream of ids into text as it arrives, holding back bytes of an incomplete UTF-8 sequence
/// (a character split across byte-fallback or byte-level tokens) until it completes. The concatenated
/// output equals `Tokenizer.decode` of all ids, except that `Strip`'s trailing spaces are not removed.
public struct StreamingDecoder: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    private var pending: [UInt8] = []
    private var leadingToStrip: Int

    /// Creates a decoder for one generated sequence.
    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
        leadingToStrip = tokenizer.definition.decodeStripLeadingSpaces
    }

    /// Adds one id and returns the text that is now complete (possibly empty). Out-of-range ids are
    /// skipped.
    public mutating func append(_ id: Int32) -> String {
        guard var piece = tokenizer.decodedPiece(id, skipSpecialTokens: skipSpecialTokens), !piece.isEmpty else { return "" }
        if leadingToStrip > 0 {
            var dropped = 0
            while dropped < min(leadingToStrip, piece.count), piece[dropped] == 0x20 { dropped += 1 }
            piece.removeFirst(dropped)
            // Stripping applies only to the start of the text: once a byte is out, it stops.
            leadingToStrip = piece.isEmpty ? leadingToStrip - dropped : 0
        }
        pending.append(contentsOf: piece)
        let complete = Self.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[0..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Returns whatever is held back (an incomplete sequence becomes U+FFFD).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the prefix that can be emitted: everything except a trailing, so far well-formed start
    /// of a multi-byte sequence.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        var start = bytes.count - 1
        while start >= 0, bytes.count - start <= 4 {
            let byte = bytes[start]
            if byte & 0xC0 != 0x80 {
                let expected = UTF8Decoding.sequenceLength(lead: byte)
                return expected > bytes.count - start ? start : bytes.count
            }
            start -= 1
        }
        return bytes.count
    }
}

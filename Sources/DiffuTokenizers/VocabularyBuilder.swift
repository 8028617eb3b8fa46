/// Shared construction of `TokenizerDefinition`s from token lists (all loaders end here).
enum VocabularyBuilder {
    /// Token spellings indexed by id, from (spelling, id) pairs. Ids must be non-negative and below
    /// 2^31 - 1; duplicates keep the first spelling.
    static func tokenTable(_ entries: [(String, Int)], file: String) throws(TokenizerError) -> [String?] {
        var maximum = -1
        for (token, id) in entries {
            guard id >= 0, id < Int(Int32.max) else {
                throw .invalidValue(file: file, key: "vocab", reason: "id \(id) of '\(token)' is out of range")
            }
            maximum = max(maximum, id)
        }
        guard maximum < 16_000_000 else { throw .invalidValue(file: file, key: "vocab", reason: "implausible id \(maximum)") }
        var table = [String?](repeating: nil, count: maximum + 1)
        for (token, id) in entries where table[id] == nil { table[id] = token }
        return table
    }

    /// A byte-level BPE model (GPT-2, Qwen2): tokens are spelled in `ByteLevelAlphabet`; merges are
    /// (left, right) spellings in rank order.
    static func byteLevelModel(tokens: [String?], index ids: TokenIndex, merges: [(String, String)], file: String, ignoreMerges: Bool = false) throws(TokenizerError) -> BPEModel {
        var byteSymbols = [Int32](repeating: -1, count: 256)
        for byte in 0..<256 {
            let spelling = String(Character(Unicode.Scalar(ByteLevelAlphabet.scalarForByte[byte])!))
            if let id = ids[spelling] { byteSymbols[byte] = id }
        }
        let pairs = try mergeTable(merges, ids: ids, file: file)
        var wholeWords: [[UInt8]: Int32]? = nil
        if ignoreMerges {
            var words: [[UInt8]: Int32] = [:]
            for (id, token) in tokens.enumerated() {
                guard let token, let bytes = ByteLevelAlphabet.decode(token), words[bytes] == nil else { continue }
                words[bytes] = Int32(id)
            }
            wholeWords = words
        }
        return BPEModel(alphabet: .bytes, byteSymbols: byteSymbols, asciiSymbols: [], scalarSymbols: [:],
                        unknownId: nil, fuseUnknown: false, pairs: pairs, wholeWords: wholeWords, vocabularySize: tokens.count)
    }

    /// A character-level BPE model (HF `BPE` without a ByteLevel pre-tokenizer, e.g. LLaMA's
    /// tokenizer.json): initial symbols are scalars, `<0xXX>` tokens serve as byte fallback.
    static func characterModel(tokens: [String?], index ids: TokenIndex, merges: [(String, String)], unknown: String?, byteFallback: Bool,
                               fuseUnknown: Bool, ignoreMerges: Bool, file: String) throws(TokenizerError) -> BPEModel {
        let pairs = try mergeTable(merges, ids: ids, file: file)
        var wholeWords: [[UInt8]: Int32]? = nil
        if ignoreMerges {
            var words: [[UInt8]: Int32] = [:]
            for (id, token) in tokens.enumerated() {
                guard let token, words[Array(token.utf8)] == nil else { continue }
                words[Array(token.utf8)] = Int32(id)
            }
            wholeWords = words
        }
        let (ascii, scalars) = scalarSymbols(tokens, include: { _ in true })
        return BPEModel(alphabet: .characters, byteSymbols: byteFallback ? byteFallbackSymbols(ids) : [Int32](repeating: -1, count: 256),
                        asciiSymbols: ascii, scalarSymbols: scalars, unknownId: unknown.flatMap { ids[$0] },
                        fuseUnknown: fuseUnknown, pairs: pairs, wholeWords: wholeWords, vocabularySize: tokens.count)
    }

    static func idLookup(_ tokens: [String?]) -> TokenIndex { TokenIndex(tokens) }

    static func mergeTable(_ merges: [(String, String)], ids: TokenIndex, file: String) throws(TokenizerError) -> PairTable {
        var table = PairTable(capacity: merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard let leftId = ids[left], let rightId = ids[right], let result = ids.concatenation(left, right) else {
                throw .mergeTokenNotFound(file: file, merge: "\(left) \(right)")
            }
            table.insert(left: leftId, right: rightId, rank: Int32(rank), result: result)
        }
        return table
    }

    /// Ids of single-scalar tokens, split into an ASCII table and a dictionary.
    static func scalarSymbols(_ tokens: [String?], include: (Int) -> Bool) -> ([Int32], [UInt32: Int32]) {
        var ascii = [Int32](repeating: -1, count: 128)
        var others: [UInt32: Int32] = [:]
        for (id, token) in tokens.enumerated() where include(id) {
            guard let token else { continue }
            var iterator = token.unicodeScalars.makeIterator()
            guard let scalar = iterator.next(), iterator.next() == nil else { continue }
            if scalar.value < 128 {
                if ascii[Int(scalar.value)] < 0 { ascii[Int(scalar.value)] = Int32(id) }
            } else if others[scalar.value] == nil {
                others[scalar.value] = Int32(id)
            }
        }
        return (ascii, others)
    }

    /// The `<0xXX>` token of each byte (-1 where missing).
    static func byteFallbackSymbols(_ ids: TokenIndex) -> [Int32] {
        (0..<256).map { ids[byteTokenSpelling(UInt8($0))] ?? -1 }
    }

    static func byteTokenSpelling(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "<0x\(digits[Int(byte >> 4)])\(digits[Int(byte & 15)])>"
    }

    /// The byte a `<0xXX>` spelling stands for.
    static func byteOfByteToken(_ bytes: [UInt8]) -> UInt8? {
        guard bytes.count == 6, bytes[0] == 0x3C, bytes[1] == 0x30, bytes[2] == 0x78, bytes[5] == 0x3E else { return nil }
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x41...0x46: byte - 0x41 + 10
            case 0x61...0x66: byte - 0x61 + 10
            default: nil
            }
        }
        guard let high = hex(bytes[3]), let low = hex(bytes[4]) else { return nil }
        return high << 4 | low
    }

    /// Byte-level decoding of every token: vocabulary tokens through `ByteLevelAlphabet`, added tokens
    /// (`raw`) as their own UTF-8.
    static func byteLevelDecodedBytes(_ tokens: [String?], raw: Set<Int32>) -> [[UInt8]] {
        tokens.enumerated().map { id, token in
            guard let token else { return [] }
            if raw.contains(Int32(id)) { return Array(token.utf8) }
            return ByteLevelAlphabet.decode(token) ?? Array(token.utf8)
        }
    }

    /// Prefix/suffix ids for `add_bos_token` / `add_eos_token` settings.
    static func applyBosEos(_ definition: inout TokenizerDefinition, addBos: Bool?, addEos: Bool?) {
        if let addBos {
            definition.prefixIds.removeAll { $0 == definition.specialTokens.bos }
            if addBos, let bos = definition.specialTokens.bos { definition.prefixIds.insert(bos, at: 0) }
        }
        if let addEos {
            definition.suffixIds.removeAll { $0 == definition.specialTokens.eos }
            if addEos, let eos = definition.specialTokens.eos { definition.suffixIds.append(eos) }
        }
    }
}

/// A SentencePiece-style vocabulary (from `tokenizer.model` or GGUF `tokenizer.ggml.model = llama`):
/// pieces with scores and types; BPE merges are implied by the scores.
struct SentencePieceVocabulary {
    /// SentencePiece piece types (same codes as GGUF `tokenizer.ggml.token_type`).
    enum PieceType: Int32 {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    var pieces: [String]
    var scores: [Float]
    var types: [Int32]
    var unknownId: Int32?
    var bosId: Int32?
    var eosId: Int32?
    var padId: Int32?
    var byteFallback: Bool
    var addDummyPrefix: Bool
    var removeExtraWhitespaces: Bool
    var source: String

    func type(_ id: Int) -> PieceType { PieceType(rawValue: types[id]) ?? .normal }

    /// Builds the definition: merges rank pairs by the score of the piece they form (higher first; equal
    /// scores tie, and the heap then takes the leftmost pair, as SentencePiece does).
    func makeDefinition() throws(TokenizerError) -> TokenizerDefinition {
        guard pieces.count == scores.count, pieces.count == types.count else {
            throw .invalidValue(file: source, key: "pieces", reason: "pieces, scores and types differ in length")
        }
        guard !pieces.isEmpty, pieces.count < Int(Int32.max) else { throw .invalidValue(file: source, key: "pieces", reason: "empty vocabulary") }
        var normalIds = TokenIndex()
        for (id, piece) in pieces.enumerated() where type(id) == .normal { normalIds.insertIfAbsent(piece, Int32(id)) }
        let distinctScores = Array(Set(scores)).sorted(by: >)
        var rankOfScore: [Float: Int32] = [:]
        for (rank, score) in distinctScores.enumerated() { rankOfScore[score] = Int32(rank) }
        var pairs = PairTable(capacity: pieces.count * 4)
        for (id, piece) in pieces.enumerated() where type(id) == .normal {
            let bytes = Array(piece.utf8)
            let rank = rankOfScore[scores[id]] ?? 0
            // Every cut between two scalars (never inside a UTF-8 sequence).
            for cut in 1..<max(bytes.count, 1) where bytes[cut] & 0xC0 != 0x80 {
                guard let leftId = normalIds[bytes: Array(bytes[..<cut])], let rightId = normalIds[bytes: Array(bytes[cut...])] else { continue }
                pairs.insert(left: leftId, right: rightId, rank: rank, result: Int32(id))
            }
        }
        var byteSymbols = [Int32](repeating: -1, count: 256)
        var decoded: [[UInt8]] = []
        decoded.reserveCapacity(pieces.count)
        var added: [AddedToken] = []
        for (id, piece) in pieces.enumerated() {
            let bytes = Array(piece.utf8)
            switch type(id) {
            case .byte:
                if let byte = VocabularyBuilder.byteOfByteToken(bytes) {
                    if byteSymbols[Int(byte)] < 0 { byteSymbols[Int(byte)] = Int32(id) }
                    decoded.append([byte])
                } else {
                    decoded.append(bytes)
                }
            case .control, .unknown:
                added.append(AddedToken(id: Int32(id), content: bytes, special: true))
                decoded.append(bytes)
            case .userDefined:
                added.append(AddedToken(id: Int32(id), content: bytes, special: false))
                decoded.append(NormalizerStep.replaceAll(bytes, Self.spaceMarker, [0x20]))
            case .normal, .unused:
                decoded.append(NormalizerStep.replaceAll(bytes, Self.spaceMarker, [0x20]))
            }
        }
        if !byteFallback { byteSymbols = [Int32](repeating: -1, count: 256) }
        let (ascii, scalars) = VocabularyBuilder.scalarSymbols(pieces.map { $0 }, include: { type($0) == .normal })
        let model = BPEModel(alphabet: .characters, byteSymbols: byteSymbols, asciiSymbols: ascii, scalarSymbols: scalars,
                             unknownId: unknownId, fuseUnknown: true, pairs: pairs, wholeWords: nil, vocabularySize: pieces.count)
        var definition = TokenizerDefinition(tokenStrings: pieces, model: model, decodedBytes: decoded, source: source)
        if removeExtraWhitespaces { definition.normalizers.append(.collapseSpaces) }
        if addDummyPrefix { definition.normalizers.append(.prepend(Self.spaceMarker)) }
        definition.normalizers.append(.replace(pattern: [0x20], content: Self.spaceMarker))
        definition.addedTokens = added
        definition.decodeStripLeadingSpaces = addDummyPrefix ? 1 : 0
        definition.specialTokens = SpecialTokenIds(bos: bosId, eos: eosId, unk: unknownId, pad: padId)
        return definition
    }

    /// `▁` (U+2581), SentencePiece's visible space.
    static let spaceMarker: [UInt8] = [0xE2, 0x96, 0x81]
}

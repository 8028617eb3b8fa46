/// A BPE model over integer token ids: how a word's initial symbols are formed and which pairs merge.
struct BPEModel: Sendable {
    /// How a word is cut into initial symbols.
    enum Alphabet: Sendable {
        /// One symbol per byte (GPT-2, Qwen2): every byte has a single-byte token.
        case bytes
        /// One symbol per Unicode scalar (SentencePiece, LLaMA); a scalar without a token becomes its
        /// UTF-8 bytes as `<0xXX>` tokens (byte fallback) or the unknown token.
        case characters
    }

    let alphabet: Alphabet
    /// `.bytes`: the token of each byte. `.characters`: the `<0xXX>` byte-fallback token of each byte
    /// (-1 where the vocabulary lacks it or byte fallback is off).
    let byteSymbols: [Int32]
    /// `.characters`: the token of each ASCII scalar (-1 if none).
    let asciiSymbols: [Int32]
    /// `.characters`: the token of each other scalar that has one.
    let scalarSymbols: [UInt32: Int32]
    /// The unknown token, used when a symbol has no token and no byte fallback.
    let unknownId: Int32?
    /// Consecutive unknown symbols become one unknown token (HF `fuse_unk`).
    let fuseUnknown: Bool
    let pairs: PairTable
    /// `barriers[id]`: the token is in no merge rule (see `MergeEngine.merge`). Ids past the end are not
    /// barriers.
    let barriers: [Bool]
    /// HF `ignore_merges`: a word that is itself a token is emitted as that token without merging.
    let wholeWords: [[UInt8]: Int32]?

    /// Appends the tokens of one word (a stretch of normalized, pre-tokenized bytes).
    func encodeWord(_ word: UnsafeBufferPointer<UInt8>, workspace: inout MergeWorkspace, output: inout [Int32]) {
        guard !word.isEmpty else { return }
        if let wholeWords, let id = wholeWords[Array(word)] {
            output.append(id)
            return
        }
        workspace.ids.removeAll(keepingCapacity: true)
        switch alphabet {
        case .bytes:
            byteSymbols.withUnsafeBufferPointer { table in
                for byte in word {
                    let id = table[Int(byte)]
                    if id >= 0 { workspace.ids.append(id) } else { appendUnknown(&workspace.ids) }
                }
            }
        case .characters:
            var index = 0
            while index < word.count {
                let byte = word[index]
                if byte < 0x80, asciiSymbols[Int(byte)] >= 0 {
                    workspace.ids.append(asciiSymbols[Int(byte)])
                    index += 1
                    continue
                }
                let (scalar, length) = UTF8Decoding.scalar(in: word, at: index)
                appendCharacterSymbols(scalar, UnsafeBufferPointer(rebasing: word[index..<(index + length)]), to: &workspace.ids)
                index += length
            }
        }
        MergeEngine.merge(&workspace, count: workspace.ids.count, pairs: pairs, barriers: barriers, output: &output)
    }

    /// `.characters`: the initial symbols of one unit (a scalar, or a stray byte as `invalidScalar`) that
    /// has no ASCII symbol: its own token, else its bytes' `<0xXX>` tokens, else the unknown token.
    @inline(__always)
    private func appendCharacterSymbols(_ scalar: UInt32, _ bytes: UnsafeBufferPointer<UInt8>, to ids: inout [Int32]) {
        if scalar != TextUnits.invalidScalar, let id = scalarSymbols[scalar] {
            ids.append(id)
            return
        }
        for byte in bytes {
            let fallback = byteSymbols[Int(byte)]
            if fallback >= 0 {
                ids.append(fallback)
            } else {
                appendUnknown(&ids)
                return
            }
        }
    }

    /// `.characters`: whether the unit's initial symbols are all in no merge rule (and none is the unknown
    /// token, which fuses with a neighbour): then no merge can join the unit to what surrounds it, and
    /// text cut right after it encodes exactly as the whole (see `StreamingPlan`).
    func unitIsIsolated(_ scalar: UInt32, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var ids: [Int32] = []
        if bytes.count == 1, bytes[0] < 0x80, asciiSymbols[Int(bytes[0])] >= 0 {
            ids.append(asciiSymbols[Int(bytes[0])])
        } else {
            appendCharacterSymbols(scalar, bytes, to: &ids)
        }
        return !ids.isEmpty && ids.allSatisfy { id in
            id != unknownId && Int(id) < barriers.count && barriers[Int(id)]
        }
    }

    @inline(__always)
    private func appendUnknown(_ ids: inout [Int32]) {
        guard let unknownId else { return }  // no unknown token: the symbol is dropped, as in HF
        if fuseUnknown, ids.last == unknownId { return }
        ids.append(unknownId)
    }
}

extension BPEModel {
    init(alphabet: Alphabet, byteSymbols: [Int32], asciiSymbols: [Int32], scalarSymbols: [UInt32: Int32], unknownId: Int32?,
         fuseUnknown: Bool, pairs: PairTable, wholeWords: [[UInt8]: Int32]?, vocabularySize: Int) {
        var barriers = [Bool](repeating: true, count: vocabularySize)
        for (id, member) in pairs.members.enumerated() where member && id < vocabularySize { barriers[id] = false }
        self.init(alphabet: alphabet, byteSymbols: byteSymbols, asciiSymbols: asciiSymbols, scalarSymbols: scalarSymbols,
                  unknownId: unknownId, fuseUnknown: fuseUnknown, pairs: pairs, barriers: barriers, wholeWords: wholeWords)
    }
}

/// A per-call memo of word → tokens for byte-level vocabularies, where natural text repeats words.
/// Open addressing over FNV-1a hashes; keys and values live in two arenas; cleared when half full.
struct WordCache {
    private var hashes: [UInt64]
    private var keyStarts: [Int32]
    private var keyLengths: [Int32]
    private var valueStarts: [Int32]
    private var valueCounts: [Int32]
    private var keyArena: [UInt8] = []
    private var valueArena: [Int32] = []
    private var used = 0
    private let mask: Int

    /// Words longer than this are not cached.
    static let maximumWordLength = 64

    init(slotCount: Int = 1 << 14) {
        hashes = [UInt64](repeating: 0, count: slotCount)
        keyStarts = [Int32](repeating: -1, count: slotCount)
        keyLengths = [Int32](repeating: 0, count: slotCount)
        valueStarts = [Int32](repeating: 0, count: slotCount)
        valueCounts = [Int32](repeating: 0, count: slotCount)
        mask = slotCount - 1
    }

    @inline(__always)
    static func hash(_ word: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in word { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash | 1  // never 0, so 0 can mean "free"
    }

    /// Appends the cached tokens of `word` to `output` and returns true, or returns false.
    func lookup(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, output: inout [Int32]) -> Bool {
        var slot = Int(truncatingIfNeeded: hash) & mask
        while hashes[slot] != 0 {
            if hashes[slot] == hash, Int(keyLengths[slot]) == word.count {
                let start = Int(keyStarts[slot])
                let equal = keyArena.withUnsafeBufferPointer { arena in
                    memcmpEqual(arena.baseAddress! + start, word.baseAddress!, word.count)
                }
                if equal {
                    let valueStart = Int(valueStarts[slot])
                    output.append(contentsOf: valueArena[valueStart..<(valueStart + Int(valueCounts[slot]))])
                    return true
                }
            }
            slot = (slot + 1) & mask
        }
        return false
    }

    /// Remembers `tokens` for `word`.
    mutating func insert(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, tokens: ArraySlice<Int32>) {
        if (used + 1) * 2 > hashes.count {
            for index in hashes.indices { hashes[index] = 0 }
            keyArena.removeAll(keepingCapacity: true)
            valueArena.removeAll(keepingCapacity: true)
            used = 0
        }
        var slot = Int(truncatingIfNeeded: hash) & mask
        while hashes[slot] != 0 { slot = (slot + 1) & mask }
        hashes[slot] = hash
        keyStarts[slot] = Int32(keyArena.count)
        keyLengths[slot] = Int32(word.count)
        valueStarts[slot] = Int32(valueArena.count)
        valueCounts[slot] = Int32(tokens.count)
        keyArena.append(contentsOf: word)
        valueArena.append(contentsOf: tokens)
        used += 1
    }
}

@inline(__always)
private func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    var index = 0
    while index < count {
        if a[index] != b[index] { return false }
        index += 1
    }
    return true
}

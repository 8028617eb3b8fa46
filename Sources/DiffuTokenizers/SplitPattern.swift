/// The pre-tokenizer regexes of the supported vocabularies, implemented by hand over `TextUnits`
/// (no regex engine). Each function reproduces leftmost-first alternation with the backtracking of the
/// original pattern; every unit of the text ends up in exactly one piece.
enum SplitPattern: Equatable, Sendable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Qwen2: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case qwen2
    /// LLaMA-3: as Qwen2 but with `\p{N}{1,3}`.
    case llama3

    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Recognises a `Split` regex from a tokenizer.json.
    init?(regex: String) {
        switch regex {
        case Self.gpt2Regex: self = .gpt2
        case Self.qwen2Regex: self = .qwen2
        case Self.llama3Regex: self = .llama3
        default: return nil
        }
    }

    /// Appends the unit index where each piece ends (pieces are contiguous and cover `units`).
    func split(_ units: TextUnits, into ends: inout [Int]) {
        units.scalars.withUnsafeBufferPointer { scalars in
            units.classes.withUnsafeBufferPointer { classes in
                switch self {
                case .gpt2: Self.splitGPT2(scalars, classes, &ends)
                case .qwen2: Self.splitQwen2(scalars, classes, digitRun: 1, &ends)
                case .llama3: Self.splitQwen2(scalars, classes, digitRun: 3, &ends)
                }
            }
        }
    }

    private static let letter = CharacterClass.letter.rawValue
    private static let number = CharacterClass.number.rawValue
    private static let space = CharacterClass.whitespace.rawValue
    private static let newline = CharacterClass.newline.rawValue
    private static let apostrophe = UInt32(UInt8(ascii: "'"))

    /// Length of a contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) at `index`, or 0.
    /// `ignoringCase` follows Oniguruma's simple case folding, where `ſ` (U+017F) folds to `s`.
    @inline(__always)
    private static func contraction(_ scalars: UnsafeBufferPointer<UInt32>, _ index: Int, ignoringCase: Bool) -> Int {
        let count = scalars.count
        guard scalars[index] == apostrophe, index + 1 < count else { return 0 }
        func fold(_ value: UInt32) -> UInt32 {
            guard ignoringCase else { return value }
            if value >= 0x41, value <= 0x5A { return value + 0x20 }
            if value == 0x17F { return 0x73 }
            return value
        }
        let first = fold(scalars[index + 1])
        switch first {
        case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
        default: break
        }
        guard index + 2 < count else { return 0 }
        let second = fold(scalars[index + 2])
        switch (first, second) {
        case (0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C): return 3  // re ve ll
        default: return 0
        }
    }

    /// End of the run of units starting at `index` whose class has any of `bits`.
    @inline(__always)
    private static func runEnd(_ classes: UnsafeBufferPointer<UInt8>, from index: Int, bits: UInt8) -> Int {
        var end = index
        while end < classes.count, classes[end] & bits != 0 { end += 1 }
        return end
    }

    /// End of the run of "other" units (not letter, digit or whitespace) starting at `index`.
    @inline(__always)
    private static func otherRunEnd(_ classes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int {
        var end = index
        while end < classes.count, classes[end] & (letter | number | space) == 0 { end += 1 }
        return end
    }

    /// `\s+(?!\S)|\s+` at a whitespace unit: the whole run when it ends the text or is one unit long,
    /// otherwise all but its last unit (which then leads the next piece).
    @inline(__always)
    private static func whitespaceEnd(_ classes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int {
        let end = runEnd(classes, from: index, bits: space)
        if end < classes.count, end - index >= 2 { return end - 1 }
        return end
    }

    private static func splitGPT2(_ scalars: UnsafeBufferPointer<UInt32>, _ classes: UnsafeBufferPointer<UInt8>, _ ends: inout [Int]) {
        let count = scalars.count
        var index = 0
        while index < count {
            var end: Int
            let contractionLength = contraction(scalars, index, ignoringCase: false)
            if contractionLength > 0 {
                end = index + contractionLength
            } else {
                // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+` share the optional leading space.
                let body = scalars[index] == 0x20 && index + 1 < count ? index + 1 : index
                let bodyClass = classes[body]
                if body < count, bodyClass & letter != 0 {
                    end = runEnd(classes, from: body, bits: letter)
                } else if body < count, bodyClass & number != 0 {
                    end = runEnd(classes, from: body, bits: number)
                } else if body < count, bodyClass & (letter | number | space) == 0 {
                    end = otherRunEnd(classes, from: body)
                } else {
                    end = whitespaceEnd(classes, from: index)
                }
            }
            ends.append(end)
            index = end
        }
    }

    private static func splitQwen2(_ scalars: UnsafeBufferPointer<UInt32>, _ classes: UnsafeBufferPointer<UInt8>, digitRun: Int, _ ends: inout [Int]) {
        let count = scalars.count
        var index = 0
        while index < count {
            var end: Int
            let unitClass = classes[index]
            let contractionLength = contraction(scalars, index, ignoringCase: true)
            if contractionLength > 0 {
                end = index + contractionLength
            } else if unitClass & letter != 0 {
                // `[^\r\n\p{L}\p{N}]?\p{L}+` with the optional part empty.
                end = runEnd(classes, from: index, bits: letter)
            } else if unitClass & (newline | letter | number) == 0, index + 1 < count, classes[index + 1] & letter != 0 {
                // `[^\r\n\p{L}\p{N}]?\p{L}+` with one leading non-letter (space, tab, punctuation...).
                end = runEnd(classes, from: index + 1, bits: letter)
            } else if unitClass & number != 0 {
                // `\p{N}` (Qwen2) or `\p{N}{1,3}` (LLaMA-3).
                end = index + 1
                while end < count, end - index < digitRun, classes[end] & number != 0 { end += 1 }
            } else if let body = Optional(scalars[index] == 0x20 && index + 1 < count ? index + 1 : index),
                      classes[body] & (letter | number | space) == 0 {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                end = otherRunEnd(classes, from: body)
                while end < count, classes[end] & newline != 0 { end += 1 }
            } else {
                // Whitespace: `\s*[\r\n]+` (up to the run's last line break), else `\s+(?!\S)|\s+`.
                let runEnd = runEnd(classes, from: index, bits: space)
                var lastNewline = -1
                var probe = runEnd - 1
                while probe >= index {
                    if classes[probe] & newline != 0 { lastNewline = probe; break }
                    probe -= 1
                }
                end = lastNewline >= 0 ? lastNewline + 1 : whitespaceEnd(classes, from: index)
            }
            ends.append(end)
            index = end
        }
    }
}

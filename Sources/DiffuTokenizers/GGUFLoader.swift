import DiffuGGUF

/// Builds a tokenizer from GGUF `tokenizer.ggml.*` metadata, as llama.cpp reads it.
enum GGUFTokenizerLoader {
    static func load(_ file: GGUFFile) throws(TokenizerError) -> TokenizerDefinition {
        guard let model = file["tokenizer.ggml.model"]?.stringValue else { throw .gguf(reason: "missing tokenizer.ggml.model") }
        guard let tokenValues = file["tokenizer.ggml.tokens"]?.arrayValue else { throw .gguf(reason: "missing tokenizer.ggml.tokens") }
        var tokens: [String] = []
        tokens.reserveCapacity(tokenValues.count)
        for value in tokenValues {
            guard let token = value.stringValue else { throw .gguf(reason: "tokenizer.ggml.tokens holds a non-string") }
            tokens.append(token)
        }
        guard !tokens.isEmpty, tokens.count < Int(Int32.max) else { throw .gguf(reason: "empty tokenizer.ggml.tokens") }
        var types = [Int32](repeating: 1, count: tokens.count)
        if let typeValues = file["tokenizer.ggml.token_type"]?.arrayValue {
            guard typeValues.count == tokens.count else { throw .gguf(reason: "token_type has \(typeValues.count) entries for \(tokens.count) tokens") }
            for (index, value) in typeValues.enumerated() {
                guard let type = value.intValue else { throw .gguf(reason: "token_type holds a non-integer") }
                types[index] = Int32(clamping: type)
            }
        }
        func tokenId(_ key: String) -> Int32? {
            guard let value = file[key]?.intValue, value >= 0, value < tokens.count else { return nil }
            return Int32(value)
        }
        let special = SpecialTokenIds(bos: tokenId("tokenizer.ggml.bos_token_id"), eos: tokenId("tokenizer.ggml.eos_token_id"),
                                      unk: tokenId("tokenizer.ggml.unknown_token_id"), pad: tokenId("tokenizer.ggml.padding_token_id"))
        let addBos = file["tokenizer.ggml.add_bos_token"]?.boolValue
        let addEos = file["tokenizer.ggml.add_eos_token"]?.boolValue

        var definition: TokenizerDefinition
        switch model {
        case "llama":
            var scores = [Float](repeating: 0, count: tokens.count)
            if let scoreValues = file["tokenizer.ggml.scores"]?.arrayValue {
                guard scoreValues.count == tokens.count else { throw .gguf(reason: "scores has \(scoreValues.count) entries for \(tokens.count) tokens") }
                for (index, value) in scoreValues.enumerated() {
                    guard let score = value.doubleValue else { throw .gguf(reason: "scores holds a non-number") }
                    scores[index] = Float(score)
                }
            }
            let vocabulary = SentencePieceVocabulary(
                pieces: tokens, scores: scores, types: types, unknownId: special.unk, bosId: special.bos, eosId: special.eos,
                padId: special.pad, byteFallback: types.contains(SentencePieceVocabulary.PieceType.byte.rawValue),
                addDummyPrefix: file["tokenizer.ggml.add_space_prefix"]?.boolValue ?? true,
                removeExtraWhitespaces: file["tokenizer.ggml.remove_extra_whitespaces"]?.boolValue ?? false, source: "vocab.gguf")
            definition = try vocabulary.makeDefinition()
            VocabularyBuilder.applyBosEos(&definition, addBos: addBos ?? true, addEos: addEos ?? false)
        case "gpt2":
            guard let mergeValues = file["tokenizer.ggml.merges"]?.arrayValue else { throw .gguf(reason: "missing tokenizer.ggml.merges") }
            var merges: [(String, String)] = []
            merges.reserveCapacity(mergeValues.count)
            for value in mergeValues {
                guard let line = value.stringValue else { throw .gguf(reason: "tokenizer.ggml.merges holds a non-string") }
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw .gguf(reason: "merge '\(line)' is not two tokens") }
                merges.append((String(parts[0]), String(parts[1])))
            }
            let table: [String?] = tokens
            let tokenIds = VocabularyBuilder.idLookup(table)
            let bpe: BPEModel
            do {
                bpe = try VocabularyBuilder.byteLevelModel(tokens: table, index: tokenIds, merges: merges, file: "vocab.gguf")
            } catch {
                throw .gguf(reason: error.description)
            }
            var added: [AddedToken] = []
            for (id, type) in types.enumerated() {
                switch SentencePieceVocabulary.PieceType(rawValue: type) {
                case .control, .unknown: added.append(AddedToken(id: Int32(id), content: Array(tokens[id].utf8), special: true))
                case .userDefined: added.append(AddedToken(id: Int32(id), content: Array(tokens[id].utf8), special: false))
                default: break
                }
            }
            definition = TokenizerDefinition(
                tokenStrings: table, model: bpe,
                decodedBytes: VocabularyBuilder.byteLevelDecodedBytes(table, raw: Set(added.map(\.id))), source: "vocab.gguf")
            definition.tokenIndex = tokenIds
            definition.addedTokens = added
            definition.specialTokens = special
            let pre = file["tokenizer.ggml.pre"]?.stringValue ?? "default"
            switch pre {
            case "gpt-2", "gpt2":
                definition.preTokenizer.splitters = [.pattern(.gpt2)]
            case "qwen2":
                // HF's Qwen2 tokenizer applies NFC first (llama.cpp does not); the model was trained with it.
                definition.normalizers = [.nfc]
                definition.preTokenizer.splitters = [.pattern(.qwen2)]
            case "llama3", "llama-v3", "llama-bpe":
                definition.preTokenizer.splitters = [.pattern(.llama3)]
            case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva":
                // llama.cpp: numbers split one scalar each (`\p{N}`), then the GPT-2 pattern.
                definition.preTokenizer.splitters = [.isolatedNumbers, .pattern(.gpt2)]
            default:
                throw .gguf(reason: "unsupported tokenizer.ggml.pre '\(pre)' (supported: gpt-2, qwen2, llama-bpe, smollm, starcoder)")
            }
            VocabularyBuilder.applyBosEos(&definition, addBos: addBos ?? false, addEos: addEos ?? false)
        default:
            throw .gguf(reason: "unsupported tokenizer.ggml.model '\(model)' (supported: gpt2, llama)")
        }
        definition.chatTemplate = file["tokenizer.chat_template"]?.stringValue
        return definition
    }
}

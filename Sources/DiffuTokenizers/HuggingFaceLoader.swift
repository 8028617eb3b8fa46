import DiffuJSON

/// Settings from `tokenizer_config.json` and `special_tokens_map.json`.
struct HuggingFaceConfiguration {
    var tokenizerClass: String?
    var addBosToken: Bool?
    var addEosToken: Bool?
    var addPrefixSpace: Bool?
    var bosToken: String?
    var eosToken: String?
    var unknownToken: String?
    var padToken: String?
    var additionalSpecialTokens: [String] = []
    var chatTemplate: String?
    /// `added_tokens_decoder` entries.
    var addedTokens: [AddedToken] = []
    var addedTokenSpellings: [(String, Int)] = []

    init(tokenizerConfig: [UInt8]?, specialTokensMap: [UInt8]?) throws(TokenizerError) {
        // special_tokens_map.json first, tokenizer_config.json overrides (transformers' precedence).
        for (bytes, file) in [(specialTokensMap, "special_tokens_map.json"), (tokenizerConfig, "tokenizer_config.json")] {
            guard let bytes else { continue }
            let json = try JSONValue.parse(bytes, file: file)
            guard json.members != nil else { throw .invalidValue(file: file, key: "(root)", reason: "not an object") }
            func tokenString(_ key: String) -> String?? {
                guard let value = json[key] else { return nil }  // absent: keep earlier
                if let text = value.stringValue { return .some(text) }
                if let text = value["content"]?.stringValue { return .some(text) }
                return .some(nil)
            }
            if let value = tokenString("bos_token") { bosToken = value }
            if let value = tokenString("eos_token") { eosToken = value }
            if let value = tokenString("unk_token") { unknownToken = value }
            if let value = tokenString("pad_token") { padToken = value }
            if let list = json["additional_special_tokens"]?.arrayValue {
                additionalSpecialTokens = list.compactMap { $0.stringValue ?? $0["content"]?.stringValue }
            }
            if let value = json["tokenizer_class"]?.stringValue { tokenizerClass = value }
            if let value = json["add_bos_token"]?.boolValue { addBosToken = value }
            if let value = json["add_eos_token"]?.boolValue { addEosToken = value }
            if let value = json["add_prefix_space"]?.boolValue { addPrefixSpace = value }
            if let template = json["chat_template"] {
                if let text = template.stringValue {
                    chatTemplate = text
                } else if let list = template.arrayValue {
                    // A list of named templates: take "default", else the first.
                    let named = list.compactMap { entry -> (String, String)? in
                        guard let name = entry["name"]?.stringValue, let text = entry["template"]?.stringValue else { return nil }
                        return (name, text)
                    }
                    chatTemplate = named.first(where: { $0.0 == "default" })?.1 ?? named.first?.1
                }
            }
            if let decoder = json["added_tokens_decoder"]?.members {
                for (key, entry) in decoder {
                    guard let id = Int(key), let content = entry["content"]?.stringValue else {
                        throw .invalidValue(file: file, key: "added_tokens_decoder", reason: "entry '\(key)' lacks an id or content")
                    }
                    addedTokenSpellings.append((content, id))
                    addedTokens.append(AddedToken(id: Int32(clamping: id), content: Array(content.utf8),
                                                  special: entry["special"]?.boolValue ?? false,
                                                  leftStrip: entry["lstrip"]?.boolValue ?? false,
                                                  rightStrip: entry["rstrip"]?.boolValue ?? false,
                                                  singleWord: entry["single_word"]?.boolValue ?? false))
                }
            }
        }
    }

    /// Fills bos/eos/unk/pad ids from the token spellings, and the chat template.
    func apply(to definition: inout TokenizerDefinition) {
        let ids = definition.tokenIndex ?? VocabularyBuilder.idLookup(definition.tokenStrings)
        func lookup(_ spelling: String?) -> Int32? { spelling.flatMap { ids[$0] } }
        if let id = lookup(bosToken) { definition.specialTokens.bos = id }
        if let id = lookup(eosToken) { definition.specialTokens.eos = id }
        if let id = lookup(unknownToken) { definition.specialTokens.unk = id }
        if let id = lookup(padToken) { definition.specialTokens.pad = id }
        if let chatTemplate { definition.chatTemplate = chatTemplate }
        // Spellings named as special tokens are control tokens even if the source forgot to say so.
        var known = Set(definition.addedTokens.map(\.id))
        for spelling in [bosToken, eosToken, unknownToken, padToken].compactMap({ $0 }) + additionalSpecialTokens {
            guard let id = lookup(spelling), !known.contains(id) else { continue }
            definition.addedTokens.append(AddedToken(id: id, content: Array(spelling.utf8), special: true))
            known.insert(id)
        }
    }
}

/// Loaders for Hugging Face formats: `tokenizer.json`, and `vocab.json` + `merges.txt`.
enum HuggingFaceLoader {
    // MARK: tokenizer.json

    static func loadTokenizerJSON(_ bytes: [UInt8], configuration: HuggingFaceConfiguration, file: String = "tokenizer.json") throws(TokenizerError) -> TokenizerDefinition {
        let json = try JSONValue.parse(bytes, file: file)
        guard let model = json["model"], model.members != nil else { throw .missingKey(file: file, key: "model") }
        // GPT-2's hub file has no "type" in its model: BPE is inferred from the merges, as HF does.
        let modelType = model["type"]?.stringValue ?? (model["merges"] != nil ? "BPE" : "unknown")
        guard modelType == "BPE" else { throw .unsupported(file: file, feature: "model type '\(modelType)' (only BPE)") }
        if let dropout = model["dropout"], !dropout.isNull, dropout.doubleValue != 0 {
            throw .unsupported(file: file, feature: "BPE dropout")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = model[key], !value.isNull, value.stringValue != "" { throw .unsupported(file: file, feature: "BPE \(key)") }
        }
        guard let vocabMembers = model["vocab"]?.members else { throw .missingKey(file: file, key: "model.vocab") }
        var entries: [(String, Int)] = []
        entries.reserveCapacity(vocabMembers.count)
        for (token, value) in vocabMembers {
            guard let id = value.wholeNumber else { throw .invalidValue(file: file, key: "model.vocab", reason: "id of '\(token)' is not an integer") }
            entries.append((token, id))
        }
        var addedTokens: [AddedToken] = []
        for entry in json["added_tokens"]?.arrayValue ?? [] {
            guard let id = entry["id"]?.wholeNumber, let content = entry["content"]?.stringValue else {
                throw .invalidValue(file: file, key: "added_tokens", reason: "entry lacks id or content")
            }
            entries.append((content, id))
            addedTokens.append(AddedToken(id: Int32(clamping: id), content: Array(content.utf8),
                                          special: entry["special"]?.boolValue ?? false,
                                          leftStrip: entry["lstrip"]?.boolValue ?? false,
                                          rightStrip: entry["rstrip"]?.boolValue ?? false,
                                          singleWord: entry["single_word"]?.boolValue ?? false))
        }
        let tokens = try VocabularyBuilder.tokenTable(entries, file: file)

        guard let mergeValues = model["merges"]?.arrayValue else { throw .missingKey(file: file, key: "model.merges") }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeValues.count)
        for value in mergeValues {
            if let line = value.stringValue {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw .invalidValue(file: file, key: "model.merges", reason: "'\(line)' is not two tokens") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = value.arrayValue, pair.count == 2, let left = pair[0].stringValue, let right = pair[1].stringValue {
                merges.append((left, right))
            } else {
                throw .invalidValue(file: file, key: "model.merges", reason: "a merge is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }

        let normalizers = try parseNormalizer(json["normalizer"], file: file)
        var plan = PreTokenizerPlan()
        var byteLevel = false
        try parsePreTokenizer(json["pre_tokenizer"], into: &plan, byteLevel: &byteLevel, first: true, file: file)

        let ignoreMerges = model["ignore_merges"]?.boolValue ?? false
        let tokenIds = VocabularyBuilder.idLookup(tokens)
        let bpe: BPEModel
        if byteLevel {
            bpe = try VocabularyBuilder.byteLevelModel(tokens: tokens, index: tokenIds, merges: merges, file: file, ignoreMerges: ignoreMerges)
        } else {
            bpe = try VocabularyBuilder.characterModel(
                tokens: tokens, index: tokenIds, merges: merges, unknown: model["unk_token"]?.stringValue,
                byteFallback: model["byte_fallback"]?.boolValue ?? false, fuseUnknown: model["fuse_unk"]?.boolValue ?? false,
                ignoreMerges: ignoreMerges, file: file)
        }

        let addedIds = Set(addedTokens.map(\.id))
        var decoder = DecoderPlan()
        try decoder.parse(json["decoder"], file: file)
        let decoded = tokens.enumerated().map { id, token -> [UInt8] in
            guard let token else { return [] }
            return addedIds.contains(Int32(id)) ? Array(token.utf8) : decoder.decode(token)
        }
        var definition = TokenizerDefinition(tokenStrings: tokens, model: bpe, decodedBytes: decoded, source: file)
        definition.normalizers = normalizers
        definition.preTokenizer = plan
        definition.addedTokens = addedTokens
        definition.decodeStripLeadingSpaces = decoder.stripLeading
        definition.decodeStripTrailingSpaces = decoder.stripTrailing
        definition.tokenIndex = tokenIds
        try parsePostProcessor(json["post_processor"], tokenIds: tokenIds, into: &definition, file: file)
        if let unknown = model["unk_token"]?.stringValue { definition.specialTokens.unk = tokenIds[unknown] }
        // Added tokens from tokenizer_config.json that tokenizer.json lacks.
        for token in configuration.addedTokens where !addedIds.contains(token.id) && token.id >= 0 && Int(token.id) < tokens.count {
            definition.addedTokens.append(token)
        }
        configuration.apply(to: &definition)
        VocabularyBuilder.applyBosEos(&definition, addBos: configuration.addBosToken, addEos: configuration.addEosToken)
        return definition
    }

    static func parseNormalizer(_ value: JSONValue?, file: String) throws(TokenizerError) -> [NormalizerStep] {
        guard let value, !value.isNull else { return [] }
        let type = value["type"]?.stringValue ?? ""
        switch type {
        case "Sequence":
            var steps: [NormalizerStep] = []
            for item in value["normalizers"]?.arrayValue ?? [] { steps += try parseNormalizer(item, file: file) }
            return steps
        case "NFC":
            return [.nfc]
        case "Prepend":
            guard let prefix = value["prepend"]?.stringValue else { throw .missingKey(file: file, key: "normalizer.prepend") }
            return [.prepend(Array(prefix.utf8))]
        case "Replace":
            guard let pattern = value["pattern"]?["String"]?.stringValue else {
                throw .unsupported(file: file, feature: "Replace normalizer with a regex pattern")
            }
            guard let content = value["content"]?.stringValue else { throw .missingKey(file: file, key: "normalizer.content") }
            return [.replace(pattern: Array(pattern.utf8), content: Array(content.utf8))]
        default:
            throw .unsupported(file: file, feature: "normalizer '\(type)'")
        }
    }

    static func parsePreTokenizer(_ value: JSONValue?, into plan: inout PreTokenizerPlan, byteLevel: inout Bool, first: Bool, file: String) throws(TokenizerError) {
        guard let value, !value.isNull else { return }
        let type = value["type"]?.stringValue ?? ""
        switch type {
        case "Sequence":
            for (index, item) in (value["pretokenizers"]?.arrayValue ?? []).enumerated() {
                try parsePreTokenizer(item, into: &plan, byteLevel: &byteLevel, first: first && index == 0, file: file)
            }
        case "ByteLevel":
            byteLevel = true
            if value["add_prefix_space"]?.boolValue ?? false {
                guard first else { throw .unsupported(file: file, feature: "ByteLevel add_prefix_space after another pre-tokenizer") }
                plan.prefix = .space
            }
            if value["use_regex"]?.boolValue ?? true { plan.splitters.append(.pattern(.gpt2)) }
        case "Metaspace":
            guard first else { throw .unsupported(file: file, feature: "Metaspace after another pre-tokenizer") }
            let replacement = Array((value["replacement"]?.stringValue ?? "\u{2581}").utf8)
            plan.spaceReplacement = replacement
            let scheme = value["prepend_scheme"]?.stringValue ?? ((value["add_prefix_space"]?.boolValue ?? true) ? "always" : "never")
            switch scheme {
            case "always": plan.prefix = .replacementAlways(replacement)
            case "first": plan.prefix = .replacementFirst(replacement)
            case "never": break
            default: throw .invalidValue(file: file, key: "pre_tokenizer.prepend_scheme", reason: scheme)
            }
            if value["split"]?.boolValue ?? true { plan.splitters.append(.beforeEach(replacement)) }
        case "Digits":
            guard value["individual_digits"]?.boolValue ?? false else {
                throw .unsupported(file: file, feature: "Digits pre-tokenizer without individual_digits")
            }
            plan.splitters.append(.isolatedNumbers)
        case "Split":
            guard let regex = value["pattern"]?["Regex"]?.stringValue else {
                throw .unsupported(file: file, feature: "Split pre-tokenizer with a string pattern")
            }
            guard let pattern = SplitPattern(regex: regex) else {
                throw .unsupported(file: file, feature: "Split regex \(regex) (known: GPT-2, Qwen2, LLaMA-3)")
            }
            let behavior = value["behavior"]?.stringValue ?? "Isolated"
            guard behavior == "Isolated", !(value["invert"]?.boolValue ?? false) else {
                throw .unsupported(file: file, feature: "Split behavior '\(behavior)' or invert")
            }
            plan.splitters.append(.pattern(pattern))
        default:
            throw .unsupported(file: file, feature: "pre-tokenizer '\(type)'")
        }
    }

    static func parsePostProcessor(_ value: JSONValue?, tokenIds: TokenIndex, into definition: inout TokenizerDefinition, file: String) throws(TokenizerError) {
        guard let value, !value.isNull else { return }
        let type = value["type"]?.stringValue ?? ""
        switch type {
        case "Sequence":
            for item in value["processors"]?.arrayValue ?? [] {
                try parsePostProcessor(item, tokenIds: tokenIds, into: &definition, file: file)
            }
        case "ByteLevel":
            break
        case "TemplateProcessing":
            guard let single = value["single"]?.arrayValue else { throw .missingKey(file: file, key: "post_processor.single") }
            var seenSequence = false
            for item in single {
                if item["Sequence"] != nil { seenSequence = true; continue }
                guard let name = item["SpecialToken"]?["id"]?.stringValue else {
                    throw .invalidValue(file: file, key: "post_processor.single", reason: "unknown item")
                }
                let ids = value["special_tokens"]?[name]?["ids"]?.arrayValue?.compactMap { $0.wholeNumber.map { Int32(clamping: $0) } }
                    ?? tokenIds[name].map { [$0] } ?? []
                if seenSequence { definition.suffixIds += ids } else { definition.prefixIds += ids }
                if !seenSequence, ids.count == 1, definition.specialTokens.bos == nil { definition.specialTokens.bos = ids[0] }
                if seenSequence, ids.count == 1, definition.specialTokens.eos == nil { definition.specialTokens.eos = ids[0] }
            }
        case "RobertaProcessing", "BertProcessing":
            if let cls = value["cls"]?.arrayValue, cls.count == 2, let id = cls[1].wholeNumber { definition.prefixIds.append(Int32(clamping: id)) }
            if let sep = value["sep"]?.arrayValue, sep.count == 2, let id = sep[1].wholeNumber { definition.suffixIds.append(Int32(clamping: id)) }
        default:
            throw .unsupported(file: file, feature: "post-processor '\(type)'")
        }
    }

    // MARK: vocab.json + merges.txt

    static func loadVocabAndMerges(vocab: [UInt8], merges: [UInt8], configuration: HuggingFaceConfiguration) throws(TokenizerError) -> TokenizerDefinition {
        let json = try JSONValue.parse(vocab, file: "vocab.json")
        guard let members = json.members else { throw .invalidValue(file: "vocab.json", key: "(root)", reason: "not an object") }
        var entries: [(String, Int)] = []
        entries.reserveCapacity(members.count + configuration.addedTokenSpellings.count)
        for (token, value) in members {
            guard let id = value.wholeNumber else { throw .invalidValue(file: "vocab.json", key: token, reason: "id is not an integer") }
            entries.append((token, id))
        }
        entries += configuration.addedTokenSpellings
        let tokens = try VocabularyBuilder.tokenTable(entries, file: "vocab.json")
        let mergeList = try parseMergesText(merges)
        let tokenIds = VocabularyBuilder.idLookup(tokens)
        let model = try VocabularyBuilder.byteLevelModel(tokens: tokens, index: tokenIds, merges: mergeList, file: "merges.txt")
        let addedIds = Set(configuration.addedTokens.map(\.id))
        var definition = TokenizerDefinition(tokenStrings: tokens, model: model,
                                             decodedBytes: VocabularyBuilder.byteLevelDecodedBytes(tokens, raw: addedIds),
                                             source: "vocab.json")
        definition.tokenIndex = tokenIds
        // The class decides the pre-tokenizer, as in transformers' slow tokenizers.
        if configuration.tokenizerClass?.hasPrefix("Qwen2") == true {
            definition.normalizers = [.nfc]
            definition.preTokenizer.splitters = [.pattern(.qwen2)]
        } else {
            definition.preTokenizer.splitters = [.pattern(.gpt2)]
            if configuration.addPrefixSpace == true { definition.preTokenizer.prefix = .space }
        }
        definition.addedTokens = configuration.addedTokens.filter { $0.id >= 0 && Int($0.id) < tokens.count }
        configuration.apply(to: &definition)
        VocabularyBuilder.applyBosEos(&definition, addBos: configuration.addBosToken ?? false, addEos: configuration.addEosToken ?? false)
        return definition
    }

    /// `merges.txt`: an optional `#version` line, then one "left right" pair per line.
    static func parseMergesText(_ bytes: [UInt8]) throws(TokenizerError) -> [(String, String)] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .invalidValue(file: "merges.txt", key: "(file)", reason: "not UTF-8")
        }
        var merges: [(String, String)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = line
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.isEmpty || (number == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw .invalidValue(file: "merges.txt", key: "line \(number + 1)", reason: "'\(line)' is not two tokens")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        return merges
    }
}

/// The decoder chain of a tokenizer.json, reduced to per-token bytes plus stripping of the whole text.
struct DecoderPlan {
    enum Step {
        case byteLevel
        case replace(pattern: [UInt8], content: [UInt8])
        case byteFallback
        case metaspace(replacement: [UInt8])
    }

    var steps: [Step] = []
    var stripLeading = 0
    var stripTrailing = 0

    mutating func parse(_ value: JSONValue?, file: String) throws(TokenizerError) {
        guard let value, !value.isNull else { return }
        let type = value["type"]?.stringValue ?? ""
        switch type {
        case "Sequence":
            for item in value["decoders"]?.arrayValue ?? [] { try parse(item, file: file) }
        case "ByteLevel":
            steps.append(.byteLevel)
        case "Replace":
            guard let pattern = value["pattern"]?["String"]?.stringValue, let content = value["content"]?.stringValue else {
                throw .unsupported(file: file, feature: "Replace decoder without a string pattern")
            }
            steps.append(.replace(pattern: Array(pattern.utf8), content: Array(content.utf8)))
        case "ByteFallback":
            steps.append(.byteFallback)
        case "Fuse":
            break  // joining is what decoding does anyway
        case "Strip":
            guard value["content"]?.stringValue == " " else { throw .unsupported(file: file, feature: "Strip decoder of a character other than space") }
            stripLeading += value["start"]?.wholeNumber ?? 0
            stripTrailing += value["stop"]?.wholeNumber ?? 0
        case "Metaspace":
            let replacement = Array((value["replacement"]?.stringValue ?? "\u{2581}").utf8)
            steps.append(.metaspace(replacement: replacement))
            let scheme = value["prepend_scheme"]?.stringValue ?? ((value["add_prefix_space"]?.boolValue ?? true) ? "always" : "never")
            if scheme != "never" { stripLeading += 1 }
        default:
            throw .unsupported(file: file, feature: "decoder '\(type)'")
        }
    }

    /// The bytes one vocabulary token decodes to.
    func decode(_ token: String) -> [UInt8] {
        var bytes = Array(token.utf8)
        for step in steps {
            switch step {
            case .byteLevel:
                if let decoded = ByteLevelAlphabet.decode(String(decoding: bytes, as: UTF8.self)) { bytes = decoded }
            case .replace(let pattern, let content):
                bytes = NormalizerStep.replaceAll(bytes, pattern, content)
            case .byteFallback:
                if let byte = VocabularyBuilder.byteOfByteToken(bytes) { bytes = [byte] }
            case .metaspace(let replacement):
                bytes = NormalizerStep.replaceAll(bytes, replacement, [0x20])
            }
        }
        return bytes
    }
}

import DiffuGGUF
import DiffuTestSupport
import DiffuTokenizers
import Testing

@Suite struct SpecialTokenTests {
    /// Special-token spellings are plain text unless parseSpecial (llama.cpp's default).
    @Test func specialSpellingsAreTextByDefault() throws {
        let gpt2 = try Fixtures.tokenizer(.gpt2TokenizerJSON)
        let plain = gpt2.encode("a<|endoftext|>b")
        #expect(!plain.contains(50256))
        #expect(gpt2.decode(plain) == "a<|endoftext|>b")
        #expect(gpt2.encode("a<|endoftext|>b", parseSpecial: true) == gpt2.encode("a") + [50256] + gpt2.encode("b"))

        let qwen = try Fixtures.tokenizer(.qwen2GGUF)
        #expect(!qwen.encode("<|im_start|>user").contains(151644))
        #expect(qwen.encode("<|im_start|>user", parseSpecial: true).first == 151644)

        let llama = try Fixtures.tokenizer(.llamaTokenizerModel)
        #expect(!llama.encode("<s>x</s>").contains(1))
        // After an added token the next stretch gets its own "▁" (HF Prepend, llama.cpp add_space_prefix).
        #expect(llama.encode("<s>Hello", parseSpecial: true) == [1] + llama.encode("Hello"))
    }

    @Test func specialTokenIdsAndTemplates() throws {
        let gpt2 = try Fixtures.tokenizer(.gpt2TokenizerJSON)
        #expect(gpt2.specialTokens == SpecialTokenIds(bos: 50256, eos: 50256, unk: 50256, pad: nil))
        #expect(gpt2.vocabularySize == 50257)
        #expect(gpt2.token(forId: 50256) == "<|endoftext|>")
        #expect(gpt2.id(forToken: "Ġthe") == 262)
        #expect(gpt2.isSpecial(50256))

        let llama = try Fixtures.tokenizer(.llamaTokenizerModel)
        #expect(llama.specialTokens == SpecialTokenIds(bos: 1, eos: 2, unk: 0, pad: nil))
        #expect(llama.vocabularySize == 32000)
        #expect(llama.addedSpecialTokens.prefix == [1])
        let llamaGGUF = try Fixtures.tokenizer(.llamaGGUF)
        #expect(llamaGGUF.specialTokens == SpecialTokenIds(bos: 1, eos: 2, unk: 0, pad: nil))

        let qwen = try Fixtures.tokenizer(.qwen2TokenizerJSON)
        #expect(qwen.specialTokens.eos == 151643)
        #expect(qwen.specialTokens.pad == 151643)
        #expect(qwen.vocabularySize == 151646)
        #expect(qwen.chatTemplate?.contains("<|im_start|>") == true)
        let qwenGGUF = try Fixtures.tokenizer(.qwen2GGUF)
        #expect(qwenGGUF.vocabularySize == 151936)
        #expect(qwenGGUF.chatTemplate == qwen.chatTemplate)
        #expect(qwenGGUF.specialTokens.eos == 151643)
    }

    /// Spellings are compared scalar for scalar: "e" + U+0301 is not the piece "é" (Swift String
    /// equality would say it is).
    @Test func tokenLookupIsExact() throws {
        let llama = try Fixtures.tokenizer(.llamaTokenizerModel)
        #expect(llama.id(forToken: "\u{E9}") != nil)
        #expect(llama.id(forToken: "e\u{301}") == nil)
        #expect(llama.id(forToken: "\u{2581}the") == 278)
    }

    @Test func skipSpecialTokensInDecode() throws {
        let qwen = try Fixtures.tokenizer(.qwen2TokenizerJSON)
        let ids = qwen.encode("<|im_start|>hi<|im_end|>", parseSpecial: true)
        #expect(qwen.decode(ids) == "<|im_start|>hi<|im_end|>")
        #expect(qwen.decode(ids, skipSpecialTokens: true) == "hi")
    }

    /// Out-of-range ids are skipped, never a trap.
    @Test func outOfRangeIdsAreSkipped() throws {
        for source in [Fixtures.Source.gpt2GGUF, .llamaTokenizerJSON] {
            let tokenizer = try Fixtures.tokenizer(source)
            let hello = tokenizer.encode("Hello")
            #expect(tokenizer.decode([-1] + hello + [Int32.max, Int32(tokenizer.vocabularySize)]) == "Hello")
            #expect(tokenizer.token(forId: -5) == nil)
            #expect(tokenizer.token(forId: Int32(tokenizer.vocabularySize)) == nil)
        }
    }
}

@Suite struct StreamingDecoderTests {
    /// The stream's output, concatenated, equals decode(ids); incomplete UTF-8 is held back.
    @Test(arguments: [Fixtures.Source.gpt2GGUF, .llamaTokenizerModel, .qwen2TokenizerJSON])
    func streamEqualsDecode(source: Fixtures.Source) throws {
        let tokenizer = try Fixtures.tokenizer(source)
        var generator = SplitMix64(state: 7)
        for _ in 0..<60 {
            let text = randomText(&generator, length: 25)
            let ids = tokenizer.encode(text)
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            var streamed = ""
            for id in ids {
                let chunk = decoder.append(id)
                #expect(!chunk.unicodeScalars.contains("\u{FFFD}") || text.unicodeScalars.contains("\u{FFFD}"))
                streamed += chunk
            }
            streamed += decoder.finish()
            #expect(Array(streamed.utf8) == Array(tokenizer.decode(ids).utf8))
        }
    }

    @Test func holdsBackSplitCharacters() throws {
        // LLaMA spells this emoji with four byte-fallback tokens <0xF0><0x9F><0xA6><0x80>.
        let llama = try Fixtures.tokenizer(.llamaTokenizerModel)
        let ids = llama.encode("🦀")
        #expect(ids.count == 5)  // "▁" + four bytes
        var decoder = StreamingDecoder(tokenizer: llama)
        var chunks = ids.map { decoder.append($0) }
        chunks.append(decoder.finish())
        #expect(chunks == ["", "", "", "", "🦀", ""])
        // An unfinished sequence comes out as U+FFFD at the end.
        var partial = StreamingDecoder(tokenizer: llama)
        #expect(partial.append(ids[1]) == "")
        #expect(partial.finish() == "\u{FFFD}")
    }
}

@Suite struct LoaderErrorTests {
    @Test func missingSourceIsTyped() {
        #expect(throws: TokenizerError.noTokenizerSource(available: ["tokenizer_config.json"])) {
            try Tokenizer.load(files: ["tokenizer_config.json": Array("{}".utf8)])
        }
    }

    @Test func malformedJSONIsTyped() {
        #expect(throws: TokenizerError.malformedJSON(file: "tokenizer.json", offset: 9, reason: "expected ':'")) {
            try Tokenizer.load(files: ["tokenizer.json": Array("{\"model\" 1}".utf8)])
        }
    }

    @Test func unknownRegexIsUnsupported() throws {
        let json = """
        {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
         "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\\\d+"}, "behavior": "Isolated", "invert": false}}
        """
        #expect(throws: TokenizerError.self) { try Tokenizer.load(files: ["tokenizer.json": Array(json.utf8)]) }
        do {
            _ = try Tokenizer.load(files: ["tokenizer.json": Array(json.utf8)])
        } catch {
            guard case .unsupported = error else { Issue.record("expected .unsupported, got \(error)"); return }
        }
    }

    @Test func mergeWithUnknownTokenIsTyped() {
        let json = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}"#
        #expect(throws: TokenizerError.mergeTokenNotFound(file: "tokenizer.json", merge: "a b")) {
            try Tokenizer.load(files: ["tokenizer.json": Array(json.utf8)])
        }
    }

    /// Truncations and corruptions of tokenizer.model give typed errors, never traps.
    @Test func corruptSentencePieceModels() throws {
        let model = try Fixtures.bytes("llama2/tokenizer.model")
        for length in [1, 2, 7, 100, 5000] {
            #expect(throws: TokenizerError.self) { try Tokenizer.load(files: ["tokenizer.model": Array(model.prefix(length))]) }
        }
        var generator = SplitMix64(state: 3)
        for _ in 0..<20 {
            var corrupt = Array(model.prefix(4000))
            for _ in 0..<8 { corrupt[Int(generator.next() % 4000)] = UInt8(truncatingIfNeeded: generator.next()) }
            _ = try? Tokenizer.load(files: ["tokenizer.model": corrupt])  // may or may not load; must not trap
        }
    }

    @Test func ggufWithoutTokenizerIsTyped() {
        #expect(throws: TokenizerError.self) { try Tokenizer.load(files: ["vocab.gguf": Array("GGUF".utf8)]) }
    }

    /// Truncated or corrupted tokenizer.json files throw or load; they never trap, and what loads encodes.
    @Test func corruptTokenizerJSON() throws {
        let json = try Fixtures.bytes("synthetic/tokenizer.json")
        for length in stride(from: 0, to: json.count, by: 7) {
            #expect(throws: TokenizerError.self) { try Tokenizer.load(files: ["tokenizer.json": Array(json.prefix(length))]) }
        }
        var generator = SplitMix64(state: 11)
        for _ in 0..<200 {
            var corrupt = json
            for _ in 0..<3 { corrupt[Int(generator.next() % UInt64(corrupt.count))] = UInt8(truncatingIfNeeded: generator.next()) }
            if let tokenizer = try? Tokenizer.load(files: ["tokenizer.json": corrupt]) {
                _ = tokenizer.decode(tokenizer.encode("ab cat <mask> zz", parseSpecial: true))
            }
        }
    }

    /// GGUF metadata of the wrong shape gives typed errors naming the key.
    @Test func malformedGGUFMetadata() throws {
        func load(_ metadata: [(key: String, value: GGUFValue)]) throws -> Tokenizer {
            try Tokenizer.load(files: ["vocab.gguf": GGUFWriter.metadataOnly(metadata)])
        }
        let tokens = GGUFValue.array(elementType: .string, values: ["a", "b", "ab"].map { .string($0) })
        #expect(throws: TokenizerError.gguf(reason: "missing tokenizer.ggml.model")) { try load([("tokenizer.ggml.tokens", tokens)]) }
        #expect(throws: TokenizerError.gguf(reason: "unsupported tokenizer.ggml.model 'bert' (supported: gpt2, llama)")) {
            try load([("tokenizer.ggml.model", .string("bert")), ("tokenizer.ggml.tokens", tokens)])
        }
        #expect(throws: TokenizerError.gguf(reason: "tokenizer.ggml.tokens holds a non-string")) {
            try load([("tokenizer.ggml.model", .string("gpt2")),
                      ("tokenizer.ggml.tokens", .array(elementType: .int32, values: [.signed(1, .int32)]))])
        }
        #expect(throws: TokenizerError.gguf(reason: "token_type has 1 entries for 3 tokens")) {
            try load([("tokenizer.ggml.model", .string("llama")), ("tokenizer.ggml.tokens", tokens),
                      ("tokenizer.ggml.token_type", .array(elementType: .int32, values: [.signed(1, .int32)]))])
        }
        #expect(throws: TokenizerError.gguf(reason: "unsupported tokenizer.ggml.pre 'default' (supported: gpt-2, qwen2, llama-bpe, smollm, starcoder)")) {
            try load([("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.tokens", tokens),
                      ("tokenizer.ggml.merges", .array(elementType: .string, values: [.string("a b")]))])
        }
        // A well-formed tiny byte-level vocabulary loads and merges.
        var spelled = (0..<256).map { ByteLevelSpelling.of(UInt8($0)) }
        spelled.append("ab")
        let tiny = try load([
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("gpt-2")),
            ("tokenizer.ggml.tokens", .array(elementType: .string, values: spelled.map { .string($0) })),
            ("tokenizer.ggml.merges", .array(elementType: .string, values: [.string("a b")])),
        ])
        // "abc" | " ab" (GPT-2 split), ids are byte values, "ab" is 256.
        #expect(tiny.encode("abc ab") == [256, 99, 32, 256])
        #expect(tiny.decode([256, 99, 32, 256]) == "abc ab")
    }
}

/// GPT-2's byte-to-character table written out independently of the module (printable Latin-1 bytes
/// stand for themselves; the others map to U+0100 + n in byte order).
enum ByteLevelSpelling {
    static func of(_ byte: UInt8) -> String {
        let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
        if printable { return String(UnicodeScalar(byte)) }
        var index = 0
        for value in 0..<Int(byte) {
            let other = UInt8(value)
            if !((0x21...0x7E).contains(other) || (0xA1...0xAC).contains(other) || (0xAE...0xFF).contains(other)) { index += 1 }
        }
        return String(Character(Unicode.Scalar(UInt32(0x100 + index))!))
    }
}

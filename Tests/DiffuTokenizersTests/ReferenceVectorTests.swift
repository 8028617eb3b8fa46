import DiffuTokenizers
import Testing

/// llama.cpp's test vectors (`tests/test-tokenizer-0`): every source of each vocabulary must give the
/// `.out` ids for every `.inp` text (no BOS, special tokens not parsed).
@Suite struct LlamaCppVectorTests {
    @Test(arguments: Fixtures.Source.allCases)
    func everyVectorEncodes(source: Fixtures.Source) throws {
        let tokenizer = try Fixtures.tokenizer(source)
        let vectors = try Fixtures.llamaCppVectors(source.ggufVectors)
        #expect(vectors.count == 46)
        for (text, expected) in vectors {
            let ids = tokenizer.encode(text)
            #expect(ids == expected, "\(source): \(text.debugDescription)")
        }
    }

    @Test(arguments: Fixtures.Source.allCases)
    func everyVectorDecodes(source: Fixtures.Source) throws {
        let tokenizer = try Fixtures.tokenizer(source)
        for (text, expected) in try Fixtures.llamaCppVectors(source.ggufVectors) {
            #expect(Array(tokenizer.decode(expected).utf8) == Array(text.utf8), "\(source): \(text.debugDescription)")
        }
    }

    /// `add_bos_token`: LLaMA puts `<s>` (1) in front; GPT-2 and Qwen2 add nothing.
    @Test(arguments: Fixtures.Source.allCases)
    func addSpecialTokens(source: Fixtures.Source) throws {
        let tokenizer = try Fixtures.tokenizer(source)
        let prefix: [Int32] = source.vocabulary == "llama2" ? [1] : []
        for (text, expected) in try Fixtures.llamaCppVectors(source.ggufVectors).prefix(12) {
            #expect(tokenizer.encode(text, addSpecialTokens: true) == prefix + expected, "\(source): \(text.debugDescription)")
        }
    }
}

/// Ids from HF `tokenizers` (the Rust implementation, via Python) for a wider set of texts.
@Suite struct HuggingFaceReferenceTests {
    @Test(arguments: Fixtures.Source.allCases)
    func matchesHuggingFaceIds(source: Fixtures.Source) throws {
        let tokenizer = try Fixtures.tokenizer(source)
        for reference in try Fixtures.hfExpected(source.vocabulary) {
            let ids = tokenizer.encode(reference.text, parseSpecial: reference.parse_special)
            #expect(ids == reference.ids, "\(source): \(reference.text.debugDescription)")
            let withSpecial = tokenizer.encode(reference.text, addSpecialTokens: true, parseSpecial: reference.parse_special)
            #expect(withSpecial == reference.ids_with_special, "\(source) with special tokens: \(reference.text.debugDescription)")
        }
    }

    @Test(arguments: [Fixtures.Source.gpt2TokenizerJSON, .llamaTokenizerJSON, .qwen2TokenizerJSON])
    func decodesLikeHuggingFace(source: Fixtures.Source) throws {
        let tokenizer = try Fixtures.tokenizer(source)
        for reference in try Fixtures.hfExpected(source.vocabulary) {
            #expect(Array(tokenizer.decode(reference.ids).utf8) == Array(reference.decoded.utf8), "\(source): \(reference.text.debugDescription)")
        }
    }
}

/// Tokenizer.json variants checked against HF `tokenizers`: GPT-2's vocabulary with ByteLevel
/// `add_prefix_space`, with the LLaMA-3 split regex, and a small hand-made Metaspace tokenizer with
/// lstrip / rstrip / single_word added tokens and unknown-token fusing.
@Suite struct TokenizerJSONVariantTests {
    @Test(arguments: ["gpt2-prefix-space", "gpt2-llama3-split", "synthetic"])
    func matchesHuggingFace(variant: String) throws {
        let tokenizer = try Fixtures.variantTokenizer(variant)
        for reference in try Fixtures.hfExpected(variant) {
            let ids = tokenizer.encode(reference.text, parseSpecial: reference.parse_special)
            #expect(ids == reference.ids, "\(variant): \(reference.text.debugDescription)")
            #expect(Array(tokenizer.decode(ids).utf8) == Array(reference.decoded.utf8), "\(variant) decode: \(reference.text.debugDescription)")
        }
    }
}

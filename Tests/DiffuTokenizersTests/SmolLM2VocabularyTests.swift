import DiffuTestSupport
import Foundation
import Testing
import DiffuTokenizers

/// SmolLM2's GGUF vocabulary (pre-tokenizer `smollm`: every digit isolated, then the GPT-2 pattern)
/// against the ids llama.cpp gives (`tools/fixtures/make_smollm2_vocab_fixture.py`).
@Test func smolLM2VocabularyMatchesLlamaCpp() throws {
    let directory = TestFixtures.url("tokenizers/smollm2")
    let tokenizer = try Tokenizer.load(ggufPath: directory.appendingPathComponent("ggml-vocab-smollm2.gguf").path)
    struct Case: Decodable { let text: String; let ids: [Int32] }
    struct Expected: Decodable { let cases: [Case] }
    let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
    #expect(expected.cases.count >= 50)
    for item in expected.cases {
        #expect(tokenizer.encode(item.text) == item.ids, "\(item.text.debugDescription)")
        #expect(tokenizer.decode(item.ids) == item.text, "\(item.text.debugDescription)")
    }
}

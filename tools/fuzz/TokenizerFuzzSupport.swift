// Shared by the tokenizer loader targets: after a successful load, exercise the tokenizer the input built.
import DiffuTokenizers

/// Encodes and decodes a few fixed texts with a tokenizer built from fuzz input (its vocabulary,
/// merges, pre-tokenizer and special tokens are all attacker-controlled).
func exercise(_ tokenizer: Tokenizer) {
    for text in ["Hello world, 123 ünïcödé 🦙\n\t  x", "<s>[INST] a </s>", ""] {
        let ids = tokenizer.encode(text, addSpecialTokens: true, parseSpecial: true)
        consume(tokenizer.decode(ids))
        consume(tokenizer.decode(ids, skipSpecialTokens: true))
    }
    consume(tokenizer.decode([0, 1, 2, -1, Int32.max, Int32(tokenizer.vocabularySize), Int32(tokenizer.vocabularySize) - 1]))
    var stream = StreamingDecoder(tokenizer: tokenizer)
    for id in 0..<Int32(min(tokenizer.vocabularySize, 64)) { consume(stream.append(id)) }
    consume(stream.finish())
}

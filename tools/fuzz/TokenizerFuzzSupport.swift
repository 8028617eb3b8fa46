// Shared by the tokenizer loader targets: after a successful load, exercise the tokenizer the input built.
@testable import DiffuTokenizers

/// Encodes and decodes a few fixed texts with a tokenizer built from fuzz input (its vocabulary,
/// merges, pre-tokenizer and special tokens are all attacker-controlled).
func exercise(_ tokenizer: Tokenizer) {
    for text in ["Hello world, 123 ünïcödé 🦙\n\t  x", "<s>[INST] a </s>", ""] {
        let ids = tokenizer.encode(text, addSpecialTokens: true, parseSpecial: true)
        consume(tokenizer.decode(ids))
        consume(tokenizer.decode(ids, skipSpecialTokens: true))
    }
    // Streaming must be exact for any vocabulary and pre-tokenizer: cut everywhere the plan allows.
    let long = "Hello world, 123 ünïcödé 🦙\n\t  x y'll  \n\n  z 中文 e\u{301} \u{2581}a\u{2581}\u{2581}b <s> end"
    let whole = tokenizer.encode(long, parseSpecial: true)
    for window in [1, 5] {
        let streamed = tokenizer.withWindow(byteCount: window).encode(long, parseSpecial: true)
        precondition(streamed == whole, "streamed encoding (window \(window)) differs from whole: \(streamed) vs \(whole)")
    }
    consume(tokenizer.decode([0, 1, 2, -1, Int32.max, Int32(tokenizer.vocabularySize), Int32(tokenizer.vocabularySize) - 1]))
    var stream = StreamingDecoder(tokenizer: tokenizer)
    for id in 0..<Int32(min(tokenizer.vocabularySize, 64)) { consume(stream.append(id)) }
    consume(stream.finish())
}

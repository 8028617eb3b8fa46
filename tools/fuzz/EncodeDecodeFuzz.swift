// libFuzzer target: encode and decode arbitrary bytes on fixed real tokenizers (llama.cpp's GPT-2,
// LLaMA SentencePiece and Qwen2 vocabularies from Tests/Fixtures/tokenizers/vocab, and LLaMA-2's HF
// tokenizer.json with its Prepend/Replace normalizers). The first byte picks
// the tokenizer and the flags; the rest is encoded as bytes (any, including invalid UTF-8), and also read
// as little-endian Int32 ids to decode (any, including negative and out-of-range ids).
// Streaming: the ids of a tokenizer with a 3-byte window (text cut wherever the streaming plan allows)
// must equal the whole-text ids.
// Built and run by tools/fuzz/run_all.sh. Any input must give ids/text, never a trap.
@testable import DiffuTokenizers

private let tokenizers: [Tokenizer] = ["gpt-2", "llama-spm", "qwen2"].map { name in
    let path = repositoryRoot + "/Tests/Fixtures/tokenizers/vocab/ggml-vocab-\(name).gguf"
    guard let tokenizer = try? Tokenizer.load(ggufPath: path) else { fatalError("fuzz setup: cannot load \(path)") }
    return tokenizer
} + [llamaTokenizerJSON()]

private func llamaTokenizerJSON() -> Tokenizer {
    guard let tokenizer = try? Tokenizer.load(files: ["tokenizer.json": fixture("tokenizers/llama2/tokenizer.json")]) else {
        fatalError("fuzz setup: cannot load tokenizers/llama2/tokenizer.json")
    }
    return tokenizer
}
private let streamingTokenizers = tokenizers.map { $0.withWindow(byteCount: 3) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEncodeDecode(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let selector = Int(data[0])
    let tokenizer = tokenizers[selector % tokenizers.count]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let ids = tokenizer.encode(bytes: bytes, addSpecialTokens: selector & 4 != 0, parseSpecial: selector & 8 != 0)
    for id in ids { precondition(id >= 0 && Int(id) < tokenizer.vocabularySize, "encode produced id \(id) outside the vocabulary") }
    let windowed = streamingTokenizers[selector % tokenizers.count].encode(bytes: bytes, addSpecialTokens: selector & 4 != 0,
                                                                          parseSpecial: selector & 8 != 0)
    precondition(windowed == ids, "streamed encoding differs from whole: \(windowed) vs \(ids)")
    consume(tokenizer.decode(ids, skipSpecialTokens: selector & 16 != 0))
    var raw: [Int32] = []
    var offset = 0
    while offset + 4 <= bytes.count {
        raw.append(Int32(bitPattern: UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24))
        offset += 4
    }
    consume(tokenizer.decode(raw, skipSpecialTokens: selector & 16 != 0))
    var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: selector & 32 != 0)
    var streamed = ""
    for id in raw { streamed += stream.append(id) }
    streamed += stream.finish()
    consume(streamed)
    return 0
}

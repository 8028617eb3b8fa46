// libFuzzer target: the GGUF vocabulary loader (Tokenizer.load(files:) with the input as vocab.gguf:
// tokenizer.ggml.model/tokens/merges/scores/token_type and the special-token keys).
// Built and run by tools/fuzz/run_all.sh. Any input must give a tokenizer or a TokenizerError, never a trap.
import DiffuTokenizers

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUFVocab(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let files = ["vocab.gguf": Array(UnsafeBufferPointer(start: data, count: size))]
    if let tokenizer = try? Tokenizer.load(files: files) { exercise(tokenizer) }
    return 0
}

// libFuzzer target: the SentencePiece tokenizer.model (protobuf) loader (Tokenizer.load(files:)).
// Built and run by tools/fuzz/run_all.sh. Any input must give a tokenizer or a TokenizerError, never a trap.
import DiffuTokenizers

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSentencePiece(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let files = ["tokenizer.model": Array(UnsafeBufferPointer(start: data, count: size))]
    if let tokenizer = try? Tokenizer.load(files: files) { exercise(tokenizer) }
    return 0
}

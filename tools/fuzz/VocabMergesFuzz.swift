// libFuzzer target: the vocab.json + merges.txt loader (Tokenizer.load(files:)); the input is
// vocab.json, a NUL byte, merges.txt, a NUL byte, tokenizer_config.json (optional).
// Built and run by tools/fuzz/run_all.sh. Any input must give a tokenizer or a TokenizerError, never a trap.
import DiffuTokenizers

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVocabMerges(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let parts = splitAtNul(data, size, parts: 3)
    var files = ["vocab.json": parts[0], "merges.txt": parts[1]]
    if !parts[2].isEmpty { files["tokenizer_config.json"] = parts[2] }
    if let tokenizer = try? Tokenizer.load(files: files) { exercise(tokenizer) }
    return 0
}

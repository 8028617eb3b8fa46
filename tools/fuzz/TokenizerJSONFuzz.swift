// libFuzzer target: the tokenizer.json loader with tokenizer_config.json and special_tokens_map.json
// (Tokenizer.load(files:)). The input carries the three files separated by NUL bytes (JSON cannot contain a
// raw NUL); a missing part means the file is absent. Loaded tokenizers are exercised (encode/decode).
// Built and run by tools/fuzz/run_all.sh. Any input must give a tokenizer or a TokenizerError, never a trap.
import DiffuTokenizers

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let parts = splitAtNul(data, size, parts: 3)
    var files = ["tokenizer.json": parts[0]]
    if !parts[1].isEmpty { files["tokenizer_config.json"] = parts[1] }
    if !parts[2].isEmpty { files["special_tokens_map.json"] = parts[2] }
    if let tokenizer = try? Tokenizer.load(files: files) { exercise(tokenizer) }
    return 0
}

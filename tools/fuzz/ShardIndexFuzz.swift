// libFuzzer target: a sharded checkpoint's model.safetensors.index.json (HuggingFaceCheckpoint.open over a
// copy of Tests/Fixtures/models/llama_sharded_bf16 whose index is the fuzz input).
// Built and run by tools/fuzz/run_all.sh. Any input must give a value or a ConvertError, never a trap.
import DiffuConvert
import Foundation

private let directory: String = {
    let source = "models/llama_sharded_bf16/"
    for name in ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
        fixture(source + name).withUnsafeBytes { _ = writeScratch(name, $0) }
    }
    return scratchDirectory
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzShardIndex(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    writeScratch("model.safetensors.index.json", UnsafeRawBufferPointer(start: data, count: size))
    consume(try? HuggingFaceCheckpoint.open(directory: directory))
    return 0
}

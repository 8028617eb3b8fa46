// libFuzzer target: config.json handling. The first input byte picks a fixture's real tensors (GPT-2,
// sharded LLaMA, Qwen2, LLaDA); the rest is config.json, parsed with JSONValue and planned with
// HuggingFaceImporter.sanitize (hyperparameters, size arithmetic, tensor plan).
// Built and run by tools/fuzz/run_all.sh. Any input must give a value or a ConvertError, never a trap.
import DiffuConvert
import DiffuJSON
import Foundation

private let tensorSets: [[String: SourceTensor]] = {
    ["gpt2_plain_f32", "llama_sharded_bf16", "qwen2_gqa_f32", "llada_gqa_bf16"].map { name in
        let directory = repositoryRoot + "/Tests/Fixtures/models/" + name
        guard let checkpoint = try? HuggingFaceCheckpoint.open(directory: directory) else {
            fatalError("fuzz setup: cannot open \(directory)")
        }
        return checkpoint.tensors
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let tensors = tensorSets[Int(data[0]) % tensorSets.count]
    let json = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    guard let object = (try? JSONValue.parse(json))?.objectValue else { return 0 }
    consume(try? HuggingFaceImporter.sanitize(configuration: object, tensors: tensors))
    return 0
}

// libFuzzer target: the GGUF container reader (GGUFFile.parse) and, for parsed files, the converter's GGUF
// importer (GGUFCheckpoint.open + sanitize: architecture keys, tensor shapes, plan) and the ggml block
// decoders: every readable tensor is dequantized (SourceTensor.readFloats), and every matrix is encoded
// as q8 and q4 (Converter.encode: the block-copy route for Q8_0/Q4_0/Q5_0, decode-and-quantize otherwise).
// Built and run by tools/fuzz/run_all.sh. Any input must give a value or a GGUFError/ConvertError, never a trap.
@testable import DiffuConvert
import DiffuGGUF
import DiffuStorage

/// Tensors larger than this are not decoded (keeps each execution fast; the decoders are per block).
let maximumDecodedElements = 1 << 16

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let file = try? GGUFFile.parse(bytes) else { return 0 }
    // Every promised tensor range must lie inside the input: touch both ends.
    var sum: UInt8 = 0
    for tensor in file.tensors {
        if let count = tensor.byteCount, count > 0 { sum &+= bytes[tensor.absoluteOffset] &+ bytes[tensor.absoluteOffset + count - 1] }
    }
    for entry in file.metadata { consume(entry.value.intValue) }
    consume(sum)
    let path = writeScratch("model.gguf", bytes)
    if let checkpoint = try? GGUFCheckpoint.open(path: path) {
        consume(try? checkpoint.sanitize())
        consume(try? checkpoint.vocabularyBlob())
        for name in checkpoint.tensors.keys.sorted() {
            guard let tensor = checkpoint.tensors[name], tensor.elementCount <= maximumDecodedElements else { continue }
            consume(try? tensor.readFloats())
            guard tensor.shape.count == 2 else { continue }
            let matrix = PlannedTensor(name: name, shape: tensor.shape, kind: .matrix, source: tensor, transform: .identity)
            for storage in [StorageType.q8, .q4] {
                var cache = Converter.SourceCache()
                consume(try? Converter.encode(matrix, storage: storage, cache: &cache, threadCount: 1, chunkElements: 4096))
            }
        }
    }
    return 0
}

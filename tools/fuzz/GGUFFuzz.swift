// libFuzzer target: the GGUF container reader (GGUFFile.parse) and, for parsed files, the converter's GGUF
// importer (GGUFCheckpoint.open + sanitize: architecture keys, tensor shapes, plan).
// Built and run by tools/fuzz/run_all.sh. Any input must give a value or a GGUFError/ConvertError, never a trap.
import DiffuConvert
import DiffuGGUF

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
    }
    return 0
}

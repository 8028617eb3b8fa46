// libFuzzer target: the safetensors reader (SafetensorsFile.open: 8-byte length, JSON header, tensor
// directory validated against the file size), then reading every tensor it accepts.
// Built and run by tools/fuzz/run_all.sh. Any input must give a value or a ConvertError, never a trap.
import DiffuConvert

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let path = writeScratch("model.safetensors", UnsafeRawBufferPointer(start: data, count: size))
    guard let file = try? SafetensorsFile.open(path: path) else { return 0 }
    for tensor in file.tensors where tensor.byteCount <= 1 << 20 {
        consume(try? tensor.readFloats())
    }
    return 0
}

// libFuzzer target for the .diffu reader's validation (DiffuFile.validateLayout), built and run by
// tools/fuzz/fuzz_diffu_format.sh. Any input must produce a value or a DiffuFormatError, never a trap.
//
// Each input is validated twice: as given, and after its section checksums are recomputed (the way a
// malicious writer would), so that mutations reach the metadata and directory parsers instead of
// stopping at a checksum mismatch.
import DiffuFormat

private func validate(_ image: UnsafeRawBufferPointer) {
    guard let layout = try? DiffuFile.validateLayout(of: image) else { return }
    // A valid layout: touch both ends of every payload it promises to be in bounds.
    var sum: UInt8 = 0
    for entry in layout.tensors {
        sum &+= image[entry.offset] &+ image[entry.offset + entry.storedByteCount - 1]
    }
    if sum == 0x5A { print("", terminator: "") }
}

/// Recomputes the metadata, directory and header checksums of `bytes` in place (when the ranges fit).
private func fixChecksums(_ bytes: inout [UInt8]) {
    guard bytes.count >= 128 else { return }
    func load(_ offset: Int) -> UInt64 { bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) } }
    func store(_ value: UInt64, _ offset: Int) { bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self) } }
    func hash(offset: UInt64, length: UInt64) -> UInt64? {
        guard offset <= UInt64(bytes.count), length <= UInt64(bytes.count) - offset else { return nil }
        return bytes.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset + length)])) }
    }
    if let checksum = hash(offset: load(32), length: load(40)) { store(checksum, 80) }
    if let checksum = hash(offset: load(56), length: load(64)) { store(checksum, 88) }
    store(bytes.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[0..<120])) }, 120)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDiffuFormat(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    validate(UnsafeRawBufferPointer(start: data, count: size))
    var copy = Array(UnsafeBufferPointer(start: data, count: size))
    fixChecksums(&copy)
    copy.withUnsafeBytes { validate($0) }
    return 0
}

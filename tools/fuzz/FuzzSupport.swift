// Helpers shared by the libFuzzer targets in tools/fuzz (compiled into every target by common.sh).
import Foundation

/// The repository root (two levels above this file).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Reads a fixture under Tests/Fixtures, or stops the fuzzer with a message (a setup error, not a finding).
func fixture(_ relativePath: String) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: repositoryRoot + "/Tests/Fixtures/" + relativePath) else {
        fatalError("fuzz setup: missing fixture Tests/Fixtures/\(relativePath)")
    }
    return [UInt8](data)
}

/// A private scratch directory (in /dev/shm when available) where targets that read files write their input.
let scratchDirectory: String = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let path = base + "/diffu-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

/// Writes `bytes` to `scratchDirectory/name` (replacing it) and returns the path.
@discardableResult
func writeScratch(_ name: String, _ bytes: UnsafeRawBufferPointer) -> String {
    let path = scratchDirectory + "/" + name
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(descriptor >= 0, "fuzz setup: cannot write \(path)")
    var written = 0
    while written < bytes.count {
        let result = write(descriptor, bytes.baseAddress! + written, bytes.count - written)
        precondition(result > 0, "fuzz setup: write failed")
        written += result
    }
    close(descriptor)
    return path
}

/// Splits a fuzz input at its first `count - 1` NUL bytes (the way multi-file targets carry several files
/// in one input); missing parts are empty.
func splitAtNul(_ data: UnsafePointer<UInt8>, _ size: Int, parts count: Int) -> [[UInt8]] {
    var parts: [[UInt8]] = []
    var start = 0
    for index in 0..<size where parts.count < count - 1 && data[index] == 0 {
        parts.append(Array(UnsafeBufferPointer(start: data + start, count: index - start)))
        start = index + 1
    }
    parts.append(Array(UnsafeBufferPointer(start: data + start, count: size - start)))
    while parts.count < count { parts.append([]) }
    return parts
}

/// Keeps a value alive and observable so the optimizer cannot drop the work that produced it.
@inline(never)
func consume<T>(_ value: T) { withExtendedLifetime(value) {} }

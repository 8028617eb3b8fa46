import DiffuStorage
import Foundation
import Testing
@testable import DiffuFormat

/// Measurement, not a unit test: runs only with `DIFFU_MEASURE_GB=<size>` set, e.g.
/// `DIFFU_MEASURE_GB=4 swift test -c release -Xswiftc -enable-testing --filter measureLargeFile`.
/// Writes a file of that many gigabytes (256 tensors of random q4-sized payloads plus norms), then
/// reports write MB/s, open time (after evicting the file from the page cache), the page faults the
/// open caused, verify GB/s, and XXH64 / SHA-256 throughput. Prints the numbers; asserts only
/// correctness (the file opens and verifies), never timing.
@Test(.enabled(if: ProcessInfo.processInfo.environment["DIFFU_MEASURE_GB"] != nil))
func measureLargeFile() throws {
    let gigabytes = Double(ProcessInfo.processInfo.environment["DIFFU_MEASURE_GB"] ?? "1") ?? 1
    let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["DIFFU_MEASURE_DIR"] ?? NSTemporaryDirectory())
    let path = directory.appendingPathComponent("diffu-measure-\(UUID().uuidString).diffu").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let tensorCount = 256
    let rows = 4096
    // q4 panel bytes per row of K columns: K / 32 * 18.
    let columns = max(32, Int(gigabytes * 1e9 / Double(tensorCount) / Double(rows) / 18 * 32) / 32 * 32)
    let geometry = try #require(PanelGeometry(rows: rows, columns: columns, storage: .q4))
    var payload = [UInt8](repeating: 0, count: geometry.byteCount)
    var state: UInt64 = 12345
    payload.withUnsafeMutableBytes { buffer in
        let words = buffer.bindMemory(to: UInt64.self)
        for index in words.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            words[index] = state
        }
    }
    let clock = ContinuousClock()
    let writeStart = clock.now
    let writer = try DiffuFileWriter(destination: path)
    for index in 0..<tensorCount {
        payload[0] = UInt8(truncatingIfNeeded: index)
        try payload.withUnsafeBytes {
            try writer.add(name: "layers.\(index).weight", shape: [rows, columns], storage: .q4, layout: .panel16, payload: $0)
        }
        let norm = [Float](repeating: 1, count: rows)
        try norm.withUnsafeBytes { try writer.add(name: "layers.\(index).norm", shape: [rows], storage: .f32, layout: .rowMajor, payload: $0) }
    }
    try writer.finish(metadata: sampleMetadata())
    let writeTime = clock.now - writeStart
    let fileBytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int

    // Evict the file from the page cache so that the open is cold.
    let descriptor = open(path, O_RDONLY)
    _ = posix_fadvise(descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED))
    close(descriptor)
    var before = rusage(), after = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &before)
    let openStart = clock.now
    let file = try DiffuFile.open(path: path)
    let openTime = clock.now - openStart
    getrusage(Int32(RUSAGE_SELF.rawValue), &after)
    #expect(file.tensors.count == 2 * tensorCount)

    var warmOpen = Duration.zero
    for _ in 0..<5 {
        let start = clock.now
        _ = try DiffuFile.open(path: path)
        warmOpen += clock.now - start
    }
    let verifyStart = clock.now
    let failures = file.verify()
    let verifyTime = clock.now - verifyStart
    #expect(failures.isEmpty)

    // Hash throughput in CPU time of this thread (wall time is meaningless on a shared, loaded machine).
    func threadSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
    let hashStart = threadSeconds()
    var checksum: UInt64 = 0
    for _ in 0..<4 { checksum ^= payload.withUnsafeBytes { XXH64.hash($0) } }
    let hashSeconds = threadSeconds() - hashStart
    let shaBytes = min(payload.count, 64 << 20)
    let shaStart = threadSeconds()
    let digest = payload.withUnsafeBytes { SHA256.hash(UnsafeRawBufferPointer(rebasing: $0[0..<shaBytes])) }
    let shaSeconds = threadSeconds() - shaStart

    func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
    print("""
    measureLargeFile: \(fileBytes) bytes, \(2 * tensorCount) tensors (q4 \(rows)×\(columns))
      write (incl. XXH64, fsync): \(String(format: "%.2f", seconds(writeTime))) s = \(String(format: "%.0f", Double(fileBytes) / 1e6 / seconds(writeTime))) MB/s
      open, cold page cache:      \(String(format: "%.2f", seconds(openTime) * 1000)) ms, page faults major \(after.ru_majflt - before.ru_majflt) minor \(after.ru_minflt - before.ru_minflt)
      open, warm (mean of 5):     \(String(format: "%.2f", seconds(warmOpen) / 5 * 1000)) ms
      verify (read + XXH64):      \(String(format: "%.2f", seconds(verifyTime))) s = \(String(format: "%.2f", Double(fileBytes) / 1e9 / seconds(verifyTime))) GB/s
      XXH64 in memory (CPU time): \(String(format: "%.2f", Double(4 * payload.count) / 1e9 / hashSeconds)) GB/s (\(checksum & 1))
      SHA-256 in memory (CPU):    \(String(format: "%.0f", Double(shaBytes) / 1e6 / shaSeconds)) MB/s (\(digest[0]))
    """)
}

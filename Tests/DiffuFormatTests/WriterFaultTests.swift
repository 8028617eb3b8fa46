import DiffuStorage
import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuFormat

private let vector = [Float](repeating: 1, count: 64)

private func addVector(_ writer: DiffuFileWriter, name: String) throws {
    try vector.withUnsafeBytes { try writer.add(name: name, shape: [64], storage: .f32, layout: .rowMajor, payload: $0) }
}

@Test func existingDestinationIsNotOverwrittenWithoutTheFlag() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("model.diffu").path
    try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
    #expect(throws: DiffuFormatError.destinationExists(path: path)) { try DiffuFileWriter(destination: path) }
    #expect(try directoryListing(directory) == ["model.diffu"])  // no temporary file was created
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("precious".utf8))

    let writer = try DiffuFileWriter(destination: path, overwrite: true)
    try addVector(writer, name: "v")
    try writer.finish(metadata: sampleMetadata())
    #expect(try DiffuFile.open(path: path).tensors.map(\.name) == ["v"])
    #expect(try directoryListing(directory) == ["model.diffu"])
}

@Test func destinationAppearingDuringTheWriteIsNotOverwritten() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("model.diffu").path
    let writer = try DiffuFileWriter(destination: path)
    try addVector(writer, name: "v")
    try Data("other".utf8).write(to: URL(fileURLWithPath: path))
    #expect(throws: DiffuFormatError.destinationExists(path: path)) { try writer.finish(metadata: sampleMetadata()) }
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("other".utf8))
    #expect(try directoryListing(directory) == ["model.diffu"])
}

@Test func abortAndReleaseLeaveNothingBehind() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("model.diffu").path
    let writer = try DiffuFileWriter(destination: path)
    try addVector(writer, name: "v")
    #expect(try directoryListing(directory).count == 1)  // the temporary file
    #expect(writer.temporaryPath.hasPrefix(directory.path + "/.model.diffu."))
    writer.abort()
    writer.abort()
    #expect(try directoryListing(directory).isEmpty)
    #expect(throws: DiffuFormatError.writerClosed) { try addVector(writer, name: "w") }
    #expect(throws: DiffuFormatError.writerClosed) { try writer.finish(metadata: sampleMetadata()) }

    do {
        let unfinished = try DiffuFileWriter(destination: path)
        try addVector(unfinished, name: "v")
    }
    #expect(try directoryListing(directory).isEmpty)
}

@Test func argumentErrorsKeepTheWriterUsable() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("model.diffu").path
    let writer = try DiffuFileWriter(destination: path)
    try addVector(writer, name: "v")
    #expect(throws: DiffuFormatError.duplicateTensorName("v")) { try addVector(writer, name: "v") }
    #expect(throws: DiffuFormatError.invalidTensorName("")) { try addVector(writer, name: "") }
    #expect(throws: DiffuFormatError.payloadSizeMismatch(tensor: "w", expected: 128, actual: 256)) {
        try vector.withUnsafeBytes { try writer.add(name: "w", shape: [32], storage: .f32, layout: .rowMajor, payload: $0) }
    }
    #expect(throws: DiffuFormatError.invalidShape(tensor: "w", shape: [4, 16], storage: "q8", layout: "row-major")) {
        try vector.withUnsafeBytes { try writer.add(name: "w", shape: [4, 16], storage: .q8, layout: .rowMajor, payload: $0) }
    }
    #expect(throws: DiffuFormatError.invalidShape(tensor: "w", shape: [0], storage: "bytes", layout: "row-major")) {
        try writer.addBlob(name: "w", bytes: [])
    }
    #expect(throws: DiffuFormatError.missingBlob(file: "vocab.json", tensor: "tokenizer/vocab.json")) {
        try writer.finish(metadata: sampleMetadata(blobs: ["vocab.json": "tokenizer/vocab.json"]))
    }
    #expect(throws: DiffuFormatError.missingBlob(file: "vocab.json", tensor: "v")) {
        try writer.finish(metadata: sampleMetadata(blobs: ["vocab.json": "v"]))  // not a bytes tensor
    }
    #expect(!FileManager.default.fileExists(atPath: path))
    try addVector(writer, name: "w")
    try writer.finish(metadata: sampleMetadata())
    let file = try DiffuFile.open(path: path)
    #expect(file.tensors.map(\.name) == ["v", "w"])
    #expect(file.verify().isEmpty)
}

@Test func diskFullIsATypedErrorAndRemovesTheTemporaryFile() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("model.diffu").path
    // Fails in `add`.
    let writer = try DiffuFileWriter(destination: path)
    writer.simulatedCapacity = 1000
    try addVector(writer, name: "a")
    #expect(throws: DiffuFormatError.diskFull(path: path)) {
        for index in 0..<10 { try addVector(writer, name: "t\(index)") }
    }
    #expect(try directoryListing(directory).isEmpty)
    #expect(throws: DiffuFormatError.writerClosed) { try addVector(writer, name: "later") }
    // Fails in `finish` (metadata or directory).
    let second = try DiffuFileWriter(destination: path)
    second.simulatedCapacity = 128 + 3 * 320
    for index in 0..<3 { try addVector(second, name: "t\(index)") }
    #expect(throws: DiffuFormatError.diskFull(path: path)) { try second.finish(metadata: sampleMetadata()) }
    #expect(try directoryListing(directory).isEmpty)
}

@Test func realENOSPCMapsToDiskFull() throws {
    // /dev/full answers every write with ENOSPC (Linux).
    #if os(Linux)
    let descriptor = open("/dev/full", O_WRONLY)
    try #require(descriptor >= 0)
    defer { close(descriptor) }
    let bytes = [UInt8](repeating: 1, count: 100)
    #expect(throws: DiffuFormatError.diskFull(path: "/dev/full")) {
        try bytes.withUnsafeBytes { try SystemFile.writeAll(descriptor, $0, at: 0, path: "/dev/full") }
    }
    #endif
}

@Test func unwritableDirectoryIsATypedError() throws {
    let missing = "/nonexistent-diffu-dir/model.diffu"
    #expect(throws: DiffuFormatError.ioFailure(operation: "create", path: missing, message: "no such directory: /nonexistent-diffu-dir")) {
        try DiffuFileWriter(destination: missing)
    }
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    #expect(throws: DiffuFormatError.notARegularFile(path: directory.path)) { try DiffuFileWriter(destination: directory.path, overwrite: true) }
}

@Test func emptyFileWithOnlyMetadataRoundTrips() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("empty.diffu").path
    let writer = try DiffuFileWriter(destination: path)
    try writer.finish(metadata: sampleMetadata())
    let file = try DiffuFile.open(path: path)
    #expect(file.tensors.isEmpty && file.verify().isEmpty && file.metadata == sampleMetadata())
}

/// A really full disk: runs when `DIFFU_SMALL_FS` names a directory on a small file system, e.g.
/// `mkdir -p /tmp/smallfs && sudo mount -t tmpfs -o size=1m tmpfs /tmp/smallfs`
/// `DIFFU_SMALL_FS=/tmp/smallfs swift test --filter fullFileSystem`.
@Test(.enabled(if: ProcessInfo.processInfo.environment["DIFFU_SMALL_FS"] != nil))
func fullFileSystemIsDiskFullAndLeavesNothing() throws {
    let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["DIFFU_SMALL_FS"]!)
    let before = try directoryListing(directory)
    let path = directory.appendingPathComponent("too-big.diffu").path
    let writer = try DiffuFileWriter(destination: path)
    let chunk = [UInt8](repeating: 7, count: 256 << 10)
    #expect(throws: DiffuFormatError.diskFull(path: path)) {
        for index in 0..<1000 {
            try chunk.withUnsafeBytes { try writer.add(name: "t\(index)", shape: [chunk.count], storage: .bytes, layout: .rowMajor, payload: $0) }
        }
    }
    #expect(try directoryListing(directory) == before)
}

/// A writer killed outright (SIGKILL) leaves its temporary file; the next writer for the same destination
/// removes it once its process is gone, and leaves files of live processes and other names alone.
@Test func abandonedTemporaryFilesOfDeadProcessesAreRemoved() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("model.diffu").path
    // No process has id 2^31 - 2 (Linux pid_max is at most 2^22); 1 is always alive.
    let dead = ".model.diffu.2147483646.k3x9.tmp"
    let live = ".model.diffu.1.abc.tmp"
    let own = ".model.diffu.\(getpid()).zz.tmp"
    let unrelated = [".other.diffu.2147483646.k3x9.tmp", ".model.diffu.2147483646.tmp", ".model.diffu.x.y.tmp", "model.diffu.2147483646.a.tmp"]
    for name in [dead, live, own] + unrelated {
        try Data("partial".utf8).write(to: directory.appendingPathComponent(name))
    }
    let writer = try DiffuFileWriter(destination: path)
    try addVector(writer, name: "v")
    try writer.finish(metadata: sampleMetadata())
    #expect(try directoryListing(directory) == ([live, own, "model.diffu"] + unrelated).sorted())
}

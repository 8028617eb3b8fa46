import DiffuFormat
import DiffuStorage
import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuConvert

/// Faults during a real conversion (Hugging Face GPT-2 fixture + the GPT-2 tokenizer → `.diffu` through the
/// production `DiffuFileSink`): the output disk fills, the source is cut short after its headers were
/// validated, the writer fails at finish. In every case the error names the cause and nothing — neither
/// the destination nor a temporary file — is left in the output directory.
@Suite struct ConversionFaultTests {
    /// A writable copy (not links: the tests truncate it) of the GPT-2 fixture with a tokenizer.
    static func checkpoint() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        for name in ["config.json", "model.safetensors"] {
            try directory.write(name, try Fixtures.bytes("models/gpt2_plain_f32", name))
        }
        for name in ["vocab.json", "merges.txt"] {
            try directory.write(name, try Fixtures.bytes("tokenizers/gpt2", name))
        }
        return directory
    }

    /// Forwards to a real sink and fails like a full disk once `failAfter` tensors were written (or at
    /// `finish` when `failAfter` is nil).
    final class FailingSink: TensorSink {
        let inner: TensorSink
        let failAfter: Int?
        let error: Error
        var added = 0
        var aborted = false

        init(inner: TensorSink, failAfter: Int?, error: Error) {
            self.inner = inner
            self.failAfter = failAfter
            self.error = error
        }

        func add(name: String, shape: [Int], storage: StorageType, layout: TensorLayout, payload: UnsafeRawBufferPointer) throws {
            if let failAfter, added >= failAfter { throw error }
            try inner.add(name: name, shape: shape, storage: storage, layout: layout, payload: payload)
            added += 1
        }

        func finish(metadata: ConversionMetadata) throws {
            if failAfter == nil { throw error }
            try inner.finish(metadata: metadata)
        }

        func abort() {
            aborted = true
            inner.abort()
        }
    }

    /// The output directory's entries (the destination and any temporary file would show up here).
    static func entries(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    @Test(arguments: [0, 1, 7, nil] as [Int?])
    func diskFullMidConversionLeavesNothing(failAfter: Int?) throws {
        let source = try Self.checkpoint()
        let output = try TemporaryDirectory()
        let destination = output.path + "/model.diffu"
        let diskFull = DiffuFormatError.diskFull(path: destination)
        var sink: FailingSink?
        #expect(throws: diskFull) {
            try Converter.convert(source: source.path, destination: destination, options: ConversionOptions(recipe: .q8, maskTokenId: 1)) { path, overwrite in
                let real = try DiffuFileSink(destination: path, overwrite: overwrite, compress: true)
                sink = FailingSink(inner: real, failAfter: failAfter, error: diskFull)
                return sink!
            }
        }
        #expect(sink?.aborted == true)
        #expect(try Self.entries(output.path) == [])
    }

    /// The source shrinks between validation and reading (a download still in progress, a shard
    /// overwritten): the read names the file and the missing bytes, and nothing is published.
    @Test func sourceTruncatedMidTensorNamesTheFileAndLeavesNothing() throws {
        let source = try Self.checkpoint()
        let output = try TemporaryDirectory()
        let destination = output.path + "/model.diffu"
        let weights = source.path + "/model.safetensors"
        let fullSize = try #require(FileManager.default.attributesOfItem(atPath: weights)[.size] as? Int)
        let cut = fullSize - 1000  // inside the last tensor's data
        do {
            _ = try Converter.convert(source: source.path, destination: destination, options: ConversionOptions(recipe: .f32, maskTokenId: 1)) { path, overwrite in
                // Headers are validated by now; cut the file before any tensor data is read.
                #expect(truncate(weights, off_t(cut)) == 0)
                return try DiffuFileSink(destination: path, overwrite: overwrite, compress: false)
            }
            Issue.record("conversion of a truncated source succeeded")
        } catch let error as ConvertError {
            guard case .truncatedFile(let path, let expected, let actual) = error else {
                Issue.record("expected truncatedFile, got \(error)")
                return
            }
            #expect(path == weights)
            #expect(actual <= cut && expected > actual)
            #expect(error.description.contains("model.safetensors"))
        }
        #expect(try Self.entries(output.path) == [])
    }

    /// A source truncated before conversion starts is refused while reading headers, before any output.
    @Test func sourceTruncatedBeforeConversionIsRefusedUpFront() throws {
        let source = try Self.checkpoint()
        let output = try TemporaryDirectory()
        let weights = source.path + "/model.safetensors"
        let fullSize = try #require(FileManager.default.attributesOfItem(atPath: weights)[.size] as? Int)
        #expect(truncate(weights, off_t(fullSize - 3)) == 0)
        var sinkCreated = false
        #expect(throws: ConvertError.truncatedFile(path: weights, expectedBytes: fullSize, actualBytes: fullSize - 3)) {
            try Converter.convert(source: source.path, destination: output.path + "/model.diffu", options: ConversionOptions(recipe: .f32, maskTokenId: 1)) { path, overwrite in
                sinkCreated = true
                return try DiffuFileSink(destination: path, overwrite: overwrite, compress: false)
            }
        }
        #expect(!sinkCreated)
        #expect(try Self.entries(output.path) == [])
    }

    /// Opt-in: a real full file system. Mount a small tmpfs and name it in `DIFFU_SMALL_TMPFS`, e.g.
    /// `mkdir -p /tmp/smallfs && sudo mount -t tmpfs -o size=64k tmpfs /tmp/smallfs`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["DIFFU_SMALL_TMPFS"] != nil))
    func realFullFileSystemIsDiskFullAndLeavesNothing() throws {
        let mount = ProcessInfo.processInfo.environment["DIFFU_SMALL_TMPFS"]!
        let source = try Self.checkpoint()
        let output = mount + "/diffu-fault-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let destination = output + "/model.diffu"
        do {
            _ = try Converter.convert(source: source.path, destination: destination, options: ConversionOptions(recipe: .f32, maskTokenId: 1)) { path, overwrite in
                try DiffuFileSink(destination: path, overwrite: overwrite, compress: false)
            }
            Issue.record("conversion into a full file system succeeded")
        } catch {
            #expect("\(error)".contains("disk is full"), "\(error)")
        }
        #expect(try Self.entries(output) == [])
    }
}

import DiffuFormat
import DiffuModels
import DiffuStorage
import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuConvert

/// A sink that fails on its `failAt`-th `add`, recording whether it was aborted.
final class FailingSink: TensorSink {
    struct Failure: Error, Equatable {}
    let inner = InMemoryTensorSink()
    let failAt: Int
    private(set) var adds = 0
    private(set) var aborted = false

    init(failAt: Int) { self.failAt = failAt }

    func add(name: String, shape: [Int], storage: StorageType, layout: TensorLayout, payload: UnsafeRawBufferPointer) throws {
        adds += 1
        if adds == failAt { throw Failure() }
        try inner.add(name: name, shape: shape, storage: storage, layout: layout, payload: payload)
    }

    func finish(metadata: ConversionMetadata) throws { try inner.finish(metadata: metadata) }
    func abort() { aborted = true }
}

@Suite struct PipelineTests {
    @Test func failureMidwayAbortsTheSink() throws {
        let directory = try TemporaryDirectory()
        try SyntheticCheckpoint.llama(shards: 2).write(to: directory)
        let prepared = try Converter.prepare(source: directory.path, maskTokenId: 1)
        let sink = FailingSink(failAt: 5)
        #expect(throws: FailingSink.Failure()) {
            _ = try Converter.write(prepared, into: sink, options: ConversionOptions(recipe: .q4))
        }
        #expect(sink.aborted)
        #expect(sink.inner.metadata == nil)
    }

    @Test func existingOutputIsRefusedBeforeAnyWork() throws {
        let directory = try TemporaryDirectory()
        try directory.write("out.diffu", text: "keep me")
        var sinkCreated = false
        #expect(throws: ConvertError.outputExists(path: directory.path + "/out.diffu")) {
            _ = try Converter.convert(source: directory.path + "/does-not-exist", destination: directory.path + "/out.diffu",
                                      options: ConversionOptions(),
                                      makeSink: { _, _ in sinkCreated = true; return InMemoryTensorSink() })
        }
        #expect(!sinkCreated)
        #expect(try String(contentsOfFile: directory.path + "/out.diffu", encoding: .utf8) == "keep me")
    }

    @Test func convertRecordsProvenanceAndTokenizer() throws {
        let directory = try TemporaryDirectory()
        try SyntheticCheckpoint.llama(shards: 2).write(to: directory)
        try directory.write("tokenizer_config.json", text: "{\"chat_template\":\"{{ x }}\"}")
        let sink = InMemoryTensorSink()
        var phases: [ConversionProgress.Phase] = []
        let summary = try Converter.convert(
            source: directory.path, destination: directory.path + "/out.diffu", options: ConversionOptions(recipe: .q4m, maskTokenId: 3),
            makeSink: { _, _ in sink }, progress: { if phases.last != $0.phase { phases.append($0.phase) } })
        #expect(phases == [.converting, .finishing])
        let metadata = try #require(sink.metadata)
        #expect(metadata.sources.map(\.path) == ["config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                                                 "model-00002-of-00002.safetensors", "tokenizer.json", "tokenizer_config.json"])
        for source in metadata.sources {
            let (digest, size) = try SHA256.hashFile(atPath: directory.path + "/" + source.path)
            #expect(source.sha256 == SHA256.hexString(digest) && source.size == size, "\(source.path)")
        }
        #expect(metadata.tokenizer == TokenizerFiles(kind: .tokenizerJSON, files: ["tokenizer.json": "tokenizer/tokenizer.json",
                                                                                      "tokenizer_config.json": "tokenizer/tokenizer_config.json"]))
        #expect(sink.tensors["tokenizer/tokenizer_config.json"]?.payload == Array("{\"chat_template\":\"{{ x }}\"}".utf8))
        #expect(metadata.diffusion.chatTemplate == "{{ x }}")
        #expect(metadata.quantization.hasPrefix("q4m"))
        #expect(metadata.converterVersion == Converter.version)
        #expect(sink.tensors["layers.0.ffn.down.weight"]?.storage == .q8)
        #expect(sink.tensors["layers.0.ffn.up.weight"]?.storage == .q4)
        #expect(summary.sourceBytes == metadata.sources.reduce(0) { $0 + $1.size })
    }

    /// The streaming checksum equals the one-shot SHA-256 whatever order and overlap the reads have.
    @Test(arguments: [0, 1, 2])
    func streamingDigestMatchesWholeFileHash(seed: Int) throws {
        let directory = try TemporaryDirectory()
        var generator = SplitMix64(state: UInt64(seed) &+ 0x9E3779B97F4A7C15)
        // Just over one 4 MiB gap-reading chunk; filled 8 bytes at a time (fast in debug builds).
        var bytes = [UInt8](repeating: 0, count: (4 << 20) + 12347)
        bytes.withUnsafeMutableBytes { raw in
            for word in 0..<(raw.count / 8) { raw.storeBytes(of: generator.next(), toByteOffset: 8 * word, as: UInt64.self) }
        }
        try directory.write("data.bin", bytes)
        let file = try SourceFile(path: directory.path + "/data.bin")
        file.digest = StreamingDigest()
        for _ in 0..<(seed == 0 ? 0 : 20) {
            let start = Int.random(in: 0..<bytes.count, using: &generator)
            let count = Int.random(in: 0...min(1 << 20, bytes.count - start), using: &generator)
            #expect(try file.read(count: count, at: start) == Array(bytes[start..<(start + count)]))
        }
        let (expected, _) = try SHA256.hashFile(atPath: directory.path + "/data.bin")
        #expect(try file.digest!.finish(file) == SHA256.hexString(expected))
    }

    @Test func sourceProblemsAreTypedErrors() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: ConvertError.sourceNotFound(path: directory.path + "/nothing")) {
            _ = try Converter.prepare(source: directory.path + "/nothing", maskTokenId: nil)
        }
        #expect(throws: ConvertError.unrecognizedSource(path: directory.path)) {
            _ = try Converter.prepare(source: directory.path, maskTokenId: nil)
        }
        try directory.write("model.bin", text: "PK\u{3}\u{4} not a gguf")
        #expect(throws: ConvertError.unrecognizedSource(path: directory.path + "/model.bin")) {
            _ = try Converter.prepare(source: directory.path + "/model.bin", maskTokenId: nil)
        }
    }

    @Test func nonFiniteWeightsAreNamed() throws {
        let checkpoint = SyntheticCheckpoint.llama()
        let directory = try TemporaryDirectory()
        try checkpoint.write(to: directory)
        // Overwrite the first value of the first tensor (model.embed_tokens.weight) with NaN.
        let path = directory.path + "/model.safetensors"
        var bytes = try Fixtures.bytesAt(path)
        let headerLength = bytes.withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) }
        let nan = Float.nan.bitPattern
        withUnsafeBytes(of: nan.littleEndian) { for (i, b) in $0.enumerated() { bytes[8 + headerLength + i] = b } }
        try directory.write("model.safetensors", bytes)
        let prepared = try Converter.prepare(source: directory.path, maskTokenId: 1)
        #expect(throws: ConvertError.nonFiniteValue(tensor: "model.embed_tokens.weight", index: 0)) {
            _ = try Converter.write(prepared, into: InMemoryTensorSink(), options: ConversionOptions())
        }
    }
}

extension Fixtures {
    static func bytesAt(_ path: String) throws -> [UInt8] {
        Array(try #require(FileManager.default.contents(atPath: path)))
    }
}

/// Forwards to a real `.diffu` writer and fails on the `failAt`-th tensor, like a disk error mid-way.
final class FailingFileSink: TensorSink {
    let file: DiffuFileSink
    let failAt: Int
    private var adds = 0

    init(destination: String, overwrite: Bool, failAt: Int) throws {
        file = try DiffuFileSink(destination: destination, overwrite: overwrite, compress: true)
        self.failAt = failAt
    }

    func add(name: String, shape: [Int], storage: StorageType, layout: TensorLayout, payload: UnsafeRawBufferPointer) throws {
        adds += 1
        if adds == failAt { throw FailingSink.Failure() }
        try file.add(name: name, shape: shape, storage: storage, layout: layout, payload: payload)
    }

    func finish(metadata: ConversionMetadata) throws { try file.finish(metadata: metadata) }
    func abort() { file.abort() }
}

@Suite struct DiffuFileOutputTests {
    static func checkpoint() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        try SyntheticCheckpoint.llama(shards: 2).write(to: directory)
        try FileManager.default.createDirectory(atPath: directory.path + "/out", withIntermediateDirectories: false)
        return directory
    }

    @Test(arguments: [1, 4, 12])
    func interruptedConversionLeavesNothing(failAt: Int) throws {
        let directory = try Self.checkpoint()
        let destination = directory.path + "/out/model.diffu"
        #expect(throws: FailingSink.Failure()) {
            _ = try Converter.convert(source: directory.path, destination: destination,
                                      options: ConversionOptions(recipe: .q8, maskTokenId: 1),
                                      makeSink: { try FailingFileSink(destination: $0, overwrite: $1, failAt: failAt) })
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path + "/out").isEmpty)
    }

    @Test func interruptedOverwriteKeepsTheOldFile() throws {
        let directory = try Self.checkpoint()
        let destination = directory.path + "/out/model.diffu"
        try directory.write("out/model.diffu", text: "previous")
        #expect(throws: FailingSink.Failure()) {
            _ = try Converter.convert(source: directory.path, destination: destination,
                                      options: ConversionOptions(recipe: .q4, maskTokenId: 1, overwrite: true),
                                      makeSink: { try FailingFileSink(destination: $0, overwrite: $1, failAt: 3) })
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path + "/out") == ["model.diffu"])
        #expect(try String(contentsOfFile: destination, encoding: .utf8) == "previous")
    }

    @Test func convertedFileReadsBackWithEveryTensorAndTheMetadata() throws {
        let directory = try Self.checkpoint()
        let destination = directory.path + "/out/model.diffu"
        let memory = InMemoryTensorSink()
        _ = try Converter.convert(source: directory.path, destination: destination, options: ConversionOptions(recipe: .q4m, maskTokenId: 1),
                                  makeSink: { _, _ in memory })
        _ = try Converter.convert(source: directory.path, destination: destination, options: ConversionOptions(recipe: .q4m, maskTokenId: 1),
                                  makeSink: { try DiffuFileSink(destination: $0, overwrite: $1, compress: true) })
        let file = try DiffuFile.open(path: destination)
        #expect(file.verify().isEmpty)
        #expect(file.tensors.map(\.name) == memory.order)
        for entry in file.tensors {
            let stored = try #require(memory.tensors[entry.name])
            #expect(entry.shape == stored.shape && entry.storage == stored.storage && entry.layout == stored.layout)
            #expect(try Array(file.payload(of: entry)) == stored.payload, "\(entry.name)")
        }
        let metadata = try #require(memory.metadata)
        #expect(try file.metadata.model.decode(ModelConfiguration.self) == metadata.model)
        #expect(file.metadata.diffusion == metadata.diffusion)
        #expect(file.metadata.tokenizer == metadata.tokenizer)
        #expect(file.metadata.provenance.quantization == metadata.quantization)
        // Provenance: real SHA-256 of each source file (checked against the format module's one-shot hash).
        for source in file.metadata.provenance.sources {
            let (digest, size) = try SHA256.hashFile(atPath: directory.path + "/" + source.path)
            #expect(source.sha256 == SHA256.hexString(digest) && source.size == size, "\(source.path)")
        }
        #expect(throws: ConvertError.outputExists(path: destination)) {
            _ = try Converter.convert(source: directory.path, destination: destination, options: ConversionOptions(maskTokenId: 1),
                                      makeSink: { try DiffuFileSink(destination: $0, overwrite: $1, compress: true) })
        }
    }
}

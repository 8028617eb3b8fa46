import DiffuFormat
import DiffuJSON
import DiffuKernels
import DiffuModels
import DiffuStorage
import DiffuTokenizers
import Foundation

/// Settings of one conversion.
public struct ConversionOptions: Sendable {
    /// Storage type per matrix.
    public var recipe: QuantizationRecipe
    /// The mask token id (`--mask-id`); overrides a known model's.
    public var maskTokenId: Int?
    /// The logit shift rule (`--shift on|off`); overrides the source's declared flag and the known
    /// model's rule. `nil` keeps them.
    public var shiftOverride: Bool?
    /// Replace an existing output (`--force`).
    public var overwrite: Bool
    /// zstd per tensor with the writer's `auto` policy (`--zstd auto`), or never (`--zstd none`).
    public var compress: Bool
    /// Threads used to encode matrices.
    public var threadCount: Int
    /// f32 elements decoded per piece when a matrix is produced in row chunks (bounds the converter's
    /// working memory beyond the encoded tensor; default 4 Mi elements = 16 MB).
    public var chunkElements: Int = 4 << 20

    /// Creates options.
    public init(recipe: QuantizationRecipe = .q8, maskTokenId: Int? = nil, overwrite: Bool = false, compress: Bool = true,
                threadCount: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.recipe = recipe
        self.maskTokenId = maskTokenId
        self.overwrite = overwrite
        self.compress = compress
        self.threadCount = max(1, threadCount)
    }
}

/// Where a conversion is, reported to a progress handler.
public struct ConversionProgress: Sendable {
    /// The conversion's phases.
    public enum Phase: String, Sendable {
        /// Reading, converting and writing tensors.
        case converting
        /// Tokenizer blobs, the rest of the checksums, metadata and directory; publishing the file.
        case finishing
    }

    /// Current phase.
    public var phase: Phase
    /// Work done in this phase (canonical elements converted).
    public var completed: Int
    /// Total work of this phase.
    public var total: Int
    /// What is being worked on (a file or tensor name).
    public var item: String
}

/// A source read, sanitized and validated, ready to be written.
public struct PreparedConversion: Sendable {
    /// One embedded tokenizer file.
    public struct Blob: Sendable {
        /// Blob tensor name (`tokenizer/<file>`).
        public let tensorName: String
        /// The file's bytes.
        public let bytes: [UInt8]
    }

    /// Configuration and canonical tensor plan.
    public let model: ImportedModel
    /// Mask token, shift rule, special tokens, sampler defaults, and the recognised model name.
    public let diffusion: ResolvedDiffusion
    /// The tokenizer description.
    public let tokenizer: TokenizerFiles
    /// The tokenizer files.
    public let tokenizerBlobs: [Blob]
    /// Every source file (path relative to the source, the open file), for provenance.
    public let sourceFiles: [(path: String, file: SourceFile)]
}

/// What a finished conversion produced.
public struct ConversionSummary: Sendable {
    /// Tensors written (weights, vectors and tokenizer blobs).
    public var tensorCount: Int
    /// Bytes of encoded tensor payloads (before zstd).
    public var payloadBytes: Int
    /// Bytes of the source files.
    public var sourceBytes: Int
    /// Bytes per storage type (payloads of weights and vectors).
    public var bytesByStorage: [StorageType: Int]
}

/// The convert pipeline: open a source, sanitize to canonical tensors, quantize, stream to a sink.
public enum Converter {
    /// Recorded in every file's provenance.
    public static let version = "diffu-convert 1.0"

    /// Reads and validates a source — a Hugging Face directory or a `.gguf` file — without reading any
    /// tensor data: configuration, tensor plan, diffusion facts and tokenizer.
    /// - Throws: ``ConvertError`` (source not found, unrecognized, bad config, missing/unknown tensors,
    ///   mask id required, missing tokenizer, …).
    ///
    /// `shiftOverride` replaces the shift rule the source declares or its known model has.
    public static func prepare(source: String, maskTokenId: Int?, shiftOverride: Bool? = nil) throws -> PreparedConversion {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw ConvertError.sourceNotFound(path: source)
        }
        let prepared: PreparedConversion
        if isDirectory.boolValue {
            prepared = try prepareHuggingFace(directory: source, maskTokenId: maskTokenId, shiftOverride: shiftOverride)
        } else {
            let file = try SourceFile(path: source)
            let magic = file.size >= 4 ? try file.read(count: 4, at: 0) : []
            guard magic == Array("GGUF".utf8) else { throw ConvertError.unrecognizedSource(path: source) }
            prepared = try prepareGGUF(path: source, maskTokenId: maskTokenId, shiftOverride: shiftOverride)
        }
        try checkTokenizerLoads(prepared, source: source)
        return prepared
    }

    /// Loads the tokenizer exactly as a model opened from the finished file will (the embedded files
    /// keyed by name), so that a conversion never publishes a file whose tokenizer fails to load.
    /// - Throws: ``ConvertError/unloadableTokenizer(source:error:)``.
    static func checkTokenizerLoads(_ prepared: PreparedConversion, source: String) throws {
        var bytesByTensor: [String: [UInt8]] = [:]
        for blob in prepared.tokenizerBlobs { bytesByTensor[blob.tensorName] = blob.bytes }
        var files: [String: [UInt8]] = [:]
        for (file, tensorName) in prepared.tokenizer.files { files[file] = bytesByTensor[tensorName] ?? [] }
        do {
            _ = try Tokenizer.load(files: files)
        } catch {
            throw ConvertError.unloadableTokenizer(source: source, error: error)
        }
    }

    static func prepareHuggingFace(directory: String, maskTokenId: Int?, shiftOverride: Bool?) throws -> PreparedConversion {
        let checkpoint = try HuggingFaceCheckpoint.open(directory: directory)
        let model = try HuggingFaceImporter.sanitize(configuration: checkpoint.configuration, tensors: checkpoint.tensors)

        let present = checkpoint.tokenizerFiles()
        let kind: TokenizerFiles.Kind
        if present.contains("tokenizer.json") { kind = .tokenizerJSON }
        else if present.contains("vocab.json") && present.contains("merges.txt") { kind = .vocabularyAndMerges }
        else if present.contains("tokenizer.model") { kind = .sentencePiece }
        else { throw ConvertError.missingTokenizer(source: directory) }
        var blobs: [PreparedConversion.Blob] = []
        var files: [String: String] = [:]
        var sources: [(path: String, file: SourceFile)] = [("config.json", try SourceFile(path: directory + "/config.json"))]
        if FileManager.default.fileExists(atPath: directory + "/model.safetensors.index.json") {
            sources.append(("model.safetensors.index.json", try SourceFile(path: directory + "/model.safetensors.index.json")))
        }
        for weights in checkpoint.weightFiles { sources.append((weights.name, weights)) }
        var chatTemplate: String? = nil
        for name in present {
            let file = try SourceFile(path: directory + "/" + name)
            guard file.size > 0 else { continue }
            guard file.size <= 256 << 20 else { throw ConvertError.unreadableFile(path: file.path, reason: "tokenizer file over 256 MB") }
            let bytes = try file.read(count: file.size, at: 0)
            if name == "tokenizer_config.json", let template = JSONValue.parsed(bytes)?["chat_template"]?.stringValue {
                chatTemplate = template
            }
            blobs.append(.init(tensorName: "tokenizer/" + name, bytes: bytes))
            files[name] = "tokenizer/" + name
            sources.append((name, file))
        }
        var diffusion = try ResolvedDiffusion.resolve(
            known: model.knownModel, description: model.modelDescription, architecture: model.configuration.architecture,
            special: model.specialTokens, declaredShift: shiftOverride ?? model.declaredShift, maskOverride: maskTokenId, vocabularySize: model.configuration.vocabularySize)
        diffusion.settings.chatTemplate = chatTemplate
        return PreparedConversion(model: model, diffusion: diffusion, tokenizer: TokenizerFiles(kind: kind, files: files),
                                  tokenizerBlobs: blobs, sourceFiles: sources)
    }

    static func prepareGGUF(path: String, maskTokenId: Int?, shiftOverride: Bool?) throws -> PreparedConversion {
        let checkpoint = try GGUFCheckpoint.open(path: path)
        let model = try checkpoint.sanitize()
        let vocabulary = try checkpoint.vocabularyBlob()
        var diffusion = try ResolvedDiffusion.resolve(
            known: model.knownModel, description: model.modelDescription, architecture: model.configuration.architecture,
            special: model.specialTokens, declaredShift: shiftOverride ?? model.declaredShift, maskOverride: maskTokenId, vocabularySize: model.configuration.vocabularySize)
        diffusion.settings.chatTemplate = checkpoint.gguf["tokenizer.chat_template"]?.stringValue
        return PreparedConversion(
            model: model, diffusion: diffusion,
            tokenizer: TokenizerFiles(kind: .gguf, files: ["vocab.gguf": "tokenizer/vocab.gguf"]),
            tokenizerBlobs: [.init(tensorName: "tokenizer/vocab.gguf", bytes: vocabulary)],
            sourceFiles: [(checkpoint.file.name, checkpoint.file)])
    }

    /// Converts `source` to `destination` through the sink `makeSink` creates.
    ///
    /// Order: refuse an existing destination without `overwrite` (before any work); prepare and validate
    /// the source; create the sink; stream every tensor (checksumming the source files on the way);
    /// finish. Any error after the sink exists aborts it, so nothing is left at the destination.
    public static func convert(
        source: String, destination: String, options: ConversionOptions,
        makeSink: (_ destination: String, _ overwrite: Bool) throws -> TensorSink,
        progress: ((ConversionProgress) -> Void)? = nil
    ) throws -> ConversionSummary {
        if !options.overwrite, FileManager.default.fileExists(atPath: destination) {
            throw ConvertError.outputExists(path: destination)
        }
        let prepared = try prepare(source: source, maskTokenId: options.maskTokenId, shiftOverride: options.shiftOverride)
        let sink = try makeSink(destination, options.overwrite)
        return try write(prepared, into: sink, options: options, progress: progress)
    }

    /// Encodes every tensor of a prepared source into `sink`, then finishes it with the metadata
    /// (provenance included: each source file's size and SHA-256, computed from the same reads). On any
    /// error the sink is aborted and the error rethrown.
    ///
    /// Tensors are processed — and written — in source order (file by file, by offset), so each file is
    /// read once, front to back.
    public static func write(_ prepared: PreparedConversion, into sink: TensorSink,
                             options: ConversionOptions, progress: ((ConversionProgress) -> Void)? = nil) throws -> ConversionSummary {
        do {
            for (_, file) in prepared.sourceFiles { file.digest = StreamingDigest() }
            defer { for (_, file) in prepared.sourceFiles { file.digest = nil } }
            let sourceBytes = prepared.sourceFiles.reduce(0) { $0 + $1.file.size }
            var summary = ConversionSummary(tensorCount: 0, payloadBytes: 0, sourceBytes: sourceBytes, bytesByStorage: [:])
            let totalElements = prepared.model.tensors.reduce(0) { $0 + $1.elementCount }
            var doneElements = 0
            var cache = SourceCache()
            let fileRank = Dictionary(prepared.sourceFiles.enumerated().map { (ObjectIdentifier($0.element.file), $0.offset) },
                                      uniquingKeysWith: { first, _ in first })
            let ordered = prepared.model.tensors.enumerated().sorted { left, right in
                let a = (fileRank[ObjectIdentifier(left.element.source.file)] ?? Int.max, left.element.source.offset, left.offset)
                let b = (fileRank[ObjectIdentifier(right.element.source.file)] ?? Int.max, right.element.source.offset, right.offset)
                return a < b
            }.map(\.element)
            for (index, tensor) in ordered.enumerated() {
                progress?(ConversionProgress(phase: .converting, completed: doneElements, total: totalElements, item: tensor.name))
                if index + 1 < ordered.count { ordered[index + 1].source.prefetch() }
                let storage: StorageType = tensor.kind == .matrix ? options.recipe.storage(forMatrix: tensor.name) : .f32
                let layout: TensorLayout = tensor.kind == .matrix ? .panel16 : .rowMajor
                let payload = try encode(tensor, storage: storage, cache: &cache, threadCount: options.threadCount,
                                         chunkElements: options.chunkElements)
                try payload.withUnsafeBytes {
                    try sink.add(name: tensor.name, shape: tensor.shape, storage: storage, layout: layout, payload: $0)
                }
                summary.tensorCount += 1
                summary.payloadBytes += payload.count
                summary.bytesByStorage[storage, default: 0] += payload.count
                doneElements += tensor.elementCount
            }
            progress?(ConversionProgress(phase: .finishing, completed: totalElements, total: totalElements, item: "tokenizer"))
            for blob in prepared.tokenizerBlobs {
                try blob.bytes.withUnsafeBytes {
                    try sink.add(name: blob.tensorName, shape: [blob.bytes.count], storage: .bytes, layout: .rowMajor, payload: $0)
                }
                summary.tensorCount += 1
                summary.payloadBytes += blob.bytes.count
            }
            var sources: [Provenance.SourceFile] = []
            for (path, file) in prepared.sourceFiles {
                progress?(ConversionProgress(phase: .finishing, completed: totalElements, total: totalElements, item: path))
                let hash = try (file.digest ?? StreamingDigest()).finish(file)
                sources.append(Provenance.SourceFile(path: path, size: file.size, sha256: hash))
            }
            let metadata = ConversionMetadata(
                model: prepared.model.configuration, modelName: prepared.diffusion.modelName,
                diffusion: prepared.diffusion.settings, tokenizer: prepared.tokenizer,
                sources: sources, converterVersion: version, quantization: options.recipe.summary)
            try sink.finish(metadata: metadata)
            return summary
        } catch {
            sink.abort()
            throw error
        }
    }

    /// The most recently decoded source tensor, so that canonical tensors sharing one source (GPT-2's
    /// fused `c_attn`) decode it once.
    struct SourceCache {
        var name: String?
        var values: [Float] = []

        mutating func values(of source: SourceTensor) throws -> [Float] {
            if name == source.name && source.name.isEmpty == false { return values }
            values = []  // release the previous tensor before reading the next
            values = try source.readFloats()
            name = source.name
            return values
        }
    }

    /// Encodes one canonical tensor: vectors as f32 row-major bytes, matrices in the panel layout.
    static func encode(_ tensor: PlannedTensor, storage: StorageType, cache: inout SourceCache, threadCount: Int,
                       chunkElements: Int) throws -> [UInt8] {
        if tensor.kind == .vector {
            let values = tensor.materialize(from: try cache.values(of: tensor.source))
            return values.withUnsafeBytes { Array($0) }
        }
        let rows = tensor.shape[0], columns = tensor.shape[1]
        guard let geometry = PanelGeometry(rows: rows, columns: columns, storage: storage) else {
            throw ConvertError.shapeMismatch(tensor: tensor.name, expected: [rows, columns], actual: tensor.shape)
        }
        // Source blocks that q8/q4 hold as they are are copied, not decoded and rounded again.
        let copy = BlockCopy(tensor, storage: storage)
        // `WeightPacking.pack` writes every byte (padding included), so it needs no zero fill first; the
        // copy writes only the blocks of real rows.
        var output = copy == nil
            ? [UInt8](unsafeUninitializedCapacity: geometry.byteCount) { _, count in count = geometry.byteCount }
            : [UInt8](repeating: 0, count: geometry.byteCount)
        try output.withUnsafeMutableBytes { destination in
            if tensor.supportsRowChunks {
                // Whole panels (16 rows) and whole RoPE heads per chunk.
                let unit = lcm(PanelGeometry.panelWidth, tensor.rowChunkAlignment)
                let chunkRows = max(unit, chunkElements / max(1, columns) / unit * unit)
                var start = 0
                while start < rows {
                    let end = min(rows, start + chunkRows)
                    if let copy {
                        try copy.store(rows: start..<end, geometry: geometry, into: destination)
                    } else {
                        let values = try tensor.readRows(start..<end)
                        try pack(values, rows: start..<end, columns: columns, storage: storage, geometry: geometry,
                                 into: destination, threadCount: threadCount, name: tensor.name)
                    }
                    start = end
                }
            } else {
                let values = tensor.materialize(from: try cache.values(of: tensor.source))
                try pack(values, rows: 0..<rows, columns: columns, storage: storage, geometry: geometry,
                         into: destination, threadCount: threadCount, name: tensor.name)
            }
        }
        return output
    }

    /// Packs rows `rows` (a range starting on a panel boundary) of a matrix into their panels of the
    /// full payload, splitting the panels across threads. Panels are independent byte ranges, so packing
    /// a 16-aligned row range with its own geometry writes exactly the bytes the whole matrix would.
    static func pack(_ values: [Float], rows: Range<Int>, columns: Int, storage: StorageType, geometry: PanelGeometry,
                     into destination: UnsafeMutableRawBufferPointer, threadCount: Int, name: String) throws {
        precondition(rows.lowerBound % PanelGeometry.panelWidth == 0)
        let width = PanelGeometry.panelWidth
        let panels = (rows.count + width - 1) / width
        let workers = max(1, min(threadCount, panels / 4))
        let failure = FirstError()
        values.withUnsafeBufferPointer { input in
            Parallel.forEach(workers) { worker in
                let firstPanel = panels * worker / workers, lastPanel = panels * (worker + 1) / workers
                guard firstPanel < lastPanel else { return }
                let firstRow = firstPanel * width, lastRow = min(rows.count, lastPanel * width)
                guard let part = PanelGeometry(rows: lastRow - firstRow, columns: columns, storage: storage) else { return }
                let byteStart = (rows.lowerBound / width + firstPanel) * geometry.panelByteCount
                let slice = UnsafeMutableRawBufferPointer(rebasing: destination[byteStart..<(byteStart + part.byteCount)])
                do {
                    try WeightPacking.pack(UnsafeBufferPointer(rebasing: input[(firstRow * columns)..<(lastRow * columns)]),
                                           geometry: part, into: slice)
                } catch let error as StorageError {
                    failure.record(ConvertError.packing(tensor: name, error: error))
                } catch {
                    failure.record(error)
                }
            }
        }
        if let error = failure.error { throw error }
    }

    static func lcm(_ a: Int, _ b: Int) -> Int {
        var x = a, y = b
        while y != 0 { (x, y) = (y, x % y) }
        return a / x * b
    }
}

/// Keeps the first error thrown by parallel workers.
final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?

    func record(_ error: Error) {
        lock.lock()
        if stored == nil { stored = error }
        lock.unlock()
    }

    var error: Error? {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}

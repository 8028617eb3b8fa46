import DiffuFormat
import DiffuModels
import DiffuSamplers
import DiffuTokenizers
import Foundation

/// A diffusion (or autoregressive) language model loaded from a `.diffu` file: mapped weights,
/// configuration and tokenizer.
///
/// Load once, generate many: the model is immutable and `Sendable`, so one instance serves any number
/// of concurrent generations; each generation allocates its own scratch memory. Opening maps the file
/// read-only and reads no weight pages (compressed tensors aside, which are decompressed once).
///
/// ```swift
/// let model = try DiffuModel.open(path: "smollm2-q8.diffu")
/// var parameters = model.defaultParameters
/// parameters.length = 64
/// for try await event in model.generate(.text("The capital of France is"), parameters: parameters) {
///     if case .finished(let result) = event { print(result.text) }
/// }
/// ```
public final class DiffuModel: Sendable {
    /// The mapped file (kept alive for as long as the model: the weights point into it). Not public: the
    /// file format is the `DiffuConversion` product's; the facade exposes what a model user needs
    /// (``quantization``, ``diffusion``, ``tokenizer``).
    let file: DiffuFile
    /// The transformer's hyperparameters.
    public let configuration: ModelConfiguration
    /// Diffusion facts of the model: mask id, whether logits are shifted, special ids, sampler defaults.
    public let diffusion: DiffusionSettings
    /// The model's tokenizer, as embedded in the file.
    public let tokenizer: Tokenizer
    /// The forward pass (``logits(tokens:positions:causal:threads:)`` and ``ForwardSession`` run it).
    let transformer: TransformerModel

    /// Opens a `.diffu` file.
    ///
    /// - Parameters:
    ///   - path: the file to map.
    ///   - kernelVariant: the kernel set to run; `nil` (default) takes the environment's
    ///     `DIFFU_KERNELS` when set, otherwise the best one this CPU supports (``KernelVariant``).
    /// - Throws: ``DiffuError/unsupportedCPU``, `KernelVariantError` for a kernel variant this CPU or build
    ///   lacks (or an unknown `DIFFU_KERNELS`), `DiffuFormatError` for a bad file, `TokenizerError` for a
    ///   bad embedded tokenizer, `ModelError` for missing or mis-shaped tensors, ``DiffuError`` otherwise.
    public static func open(path: String, kernelVariant: KernelVariant? = nil) throws -> DiffuModel {
        try CPUSupport.check()
        let variant = try kernelVariant ?? KernelVariant.requested()  // the model checks it is supported
        let file = try DiffuFile.open(path: path)
        let configuration: ModelConfiguration
        do {
            configuration = try file.metadata.model.decode(ModelConfiguration.self)
        } catch {
            throw DiffuError.invalidModelMetadata("\(error)")
        }
        let tokenizer = try Tokenizer.load(files: file.tokenizerFiles())
        let transformer = try TransformerModel(configuration: configuration, weights: FileWeights(file: file), kernelVariant: variant)
        let diffusion = file.metadata.diffusion
        guard diffusion.maskTokenID >= 0, diffusion.maskTokenID < configuration.vocabularySize else {
            throw DiffuError.invalidModelMetadata("mask token \(diffusion.maskTokenID) outside the vocabulary of \(configuration.vocabularySize)")
        }
        return DiffuModel(file: file, configuration: configuration, diffusion: diffusion, tokenizer: tokenizer, transformer: transformer)
    }

    private init(file: DiffuFile, configuration: ModelConfiguration, diffusion: DiffusionSettings, tokenizer: Tokenizer,
                 transformer: TransformerModel) {
        self.file = file
        self.configuration = configuration
        self.diffusion = diffusion
        self.tokenizer = tokenizer
        self.transformer = transformer
    }

    /// The kernel set this model's forward passes run (chosen when it was opened).
    public var kernelVariant: KernelVariant { transformer.kernelVariant }

    /// The storage recipe the file was converted with (`q8`, `q4m`, …; its provenance record).
    public var quantization: String { file.metadata.provenance.quantization }

    /// Floating-point operations of one forward pass over `tokens` positions with logits for `logitRows`
    /// rows (2 per multiply-add of the projections, feed-forward, attention and LM head; the
    /// architecture decides the feed-forward's matrices). For throughput figures (`diffu bench`).
    public func forwardFLOPs(tokens: Int, logitRows: Int) -> Double {
        transformer.forwardFLOPs(tokens: tokens, logitRows: logitRows)
    }

    /// The mask token id.
    public var maskToken: Int32 { Int32(diffusion.maskTokenID) }

    /// The number of CPU cores, the default thread count.
    public static var defaultThreadCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Raw logits (no shift) of one forward pass.
    ///
    /// - Parameters:
    ///   - tokens: the input ids (positions `0..<tokens.count`).
    ///   - positions: rows wanted (`nil` = all); the LM head runs only for these.
    ///   - causal: `false` for bidirectional attention (diffusion), `true` for AR attention.
    ///   - threads: worker threads.
    /// - Returns: row-major `[rows × vocabularySize]` logits.
    public func logits(tokens: [Int32], positions: [Int]? = nil, causal: Bool = false,
                       threads: Int = DiffuModel.defaultThreadCount) throws -> [Float] {
        try transformer.forward(tokens: tokens, outputPositions: positions, causal: causal, threads: threads)
    }
}

/// Adapts a ``DiffuModel`` to the samplers' `LogitsProvider`, with one generation's scratch memory.
final class ModelLogitsProvider: LogitsProvider {
    let model: DiffuModel
    let threads: Int
    let workspace = ForwardWorkspace()
    private(set) var forwardPasses = 0

    init(model: DiffuModel, threads: Int) {
        self.model = model
        self.threads = threads
    }

    var vocabularySize: Int { model.configuration.vocabularySize }

    func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
        var output: [Float] = []
        try logits(tokens: tokens, positions: positions, causal: causal, into: &output)
        return output
    }

    func logits(tokens: [Int32], positions: [Int], causal: Bool, into output: inout [Float]) throws {
        forwardPasses += 1
        try model.transformer.forward(tokens: tokens, outputPositions: positions, causal: causal, threads: threads,
                                      workspace: workspace, into: &output)
    }
}

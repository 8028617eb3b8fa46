import DiffuModels

/// Repeated forward passes of one model that reuse one set of scratch buffers (allocated by the first
/// pass, grown when a longer sequence needs it): what a benchmark or a custom decoding loop wants,
/// where ``DiffuModel/logits(tokens:positions:causal:threads:)`` allocates afresh per call.
///
/// Not `Sendable`: one session runs one pass at a time; make one per thread.
public final class ForwardSession {
    /// The model the passes run.
    public let model: DiffuModel
    /// Kernel worker threads per pass.
    public let threads: Int
    /// Forward passes run so far.
    public private(set) var forwardPasses = 0
    let workspace = ForwardWorkspace()

    /// Creates a session.
    /// - Throws: ``DiffuError/invalidRequest(_:)`` when `threads` is below 1.
    public init(model: DiffuModel, threads: Int = DiffuModel.defaultThreadCount) throws {
        guard threads >= 1 else { throw DiffuError.invalidRequest("threads must be at least 1 (got \(threads))") }
        self.model = model
        self.threads = threads
    }

    /// Raw logits (no shift) of one forward pass, as ``DiffuModel/logits(tokens:positions:causal:threads:)``.
    public func logits(tokens: [Int32], positions: [Int]? = nil, causal: Bool = false) throws -> [Float] {
        var output: [Float] = []
        try logits(tokens: tokens, positions: positions, causal: causal, into: &output)
        return output
    }

    /// The same logits written into `output` (resized to `[rows × vocabularySize]`; its storage reused when large
    /// enough): a loop that passes the same array every pass allocates it once, as llama.cpp keeps one output
    /// buffer per context.
    public func logits(tokens: [Int32], positions: [Int]? = nil, causal: Bool = false, into output: inout [Float]) throws {
        forwardPasses += 1
        try model.transformer.forward(tokens: tokens, outputPositions: positions, causal: causal, threads: threads,
                                      workspace: workspace, into: &output)
    }
}

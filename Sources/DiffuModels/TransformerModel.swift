import DiffuKernels
import DiffuStorage
import Foundation

/// A decoder-only transformer (GPT-2, LLaMA or Qwen2) over a ``ModelWeights`` provider.
///
/// The model is immutable after `init` and can serve concurrent forward passes; each concurrent pass
/// needs its own ``ForwardWorkspace`` (or passes `nil` to get a temporary one). Attention is
/// bidirectional unless `causal` is requested, position ids are `0..<L`, and logits are computed only
/// for the requested positions (no shift is applied: row `i` is the model's output at position `i`).
public final class TransformerModel: Sendable {
    /// The hyperparameters the model was built with.
    public let configuration: ModelConfiguration
    /// Keeps the weights' memory alive for the resolved views in `parameters`.
    private let weights: any ModelWeights
    private let parameters: ModelParameters
    let traits: ArchitectureTraits
    /// RoPE cos/sin for the first positions (RoPE models only); longer inputs extend it per workspace.
    private let rotaryTable: RotaryTable?
    /// `1/√head_dim` rounded to f32, as transformers multiplies the scores.
    private let attentionScale: Float
    /// The kernel set every forward pass of this model runs (chosen when the model is built).
    public let kernelVariant: KernelVariant

    /// Positions precomputed at load time for RoPE models.
    static let precomputedRotaryPositions = 4096
    /// Hard limit on the sequence length of RoPE models (keeps buffer sizes far from overflow).
    public static let maximumSequenceLength = 1 << 20

    /// Validates the configuration and resolves every tensor the architecture needs, checking shapes.
    ///
    /// `kernelVariant` is the kernel set its passes run (``KernelVariant/active`` by default: the best
    /// one this CPU supports, or `DIFFU_KERNELS`); it must be supported by the CPU.
    ///
    /// - Throws: `KernelVariantError.unsupported` for a variant this CPU or build lacks,
    ///   ``ModelError/invalidConfiguration(_:)``, ``ModelError/missingTensor(_:)``,
    ///   ``ModelError/tensorShape(name:expected:actual:)``, ``ModelError/unexpectedTensor(_:)``,
    ///   ``ModelError/tensorUnavailable(name:reason:)``.
    public init(configuration: ModelConfiguration, weights: any ModelWeights, kernelVariant: KernelVariant = .active) throws {
        guard kernelVariant.isSupported else { throw KernelVariantError.unsupported(kernelVariant) }
        self.kernelVariant = kernelVariant
        let descriptor = configuration.architecture.descriptor
        try descriptor.validate(configuration)
        let loader = WeightLoader(weights: weights, tensors: descriptor.tensors(for: configuration))
        parameters = try loader.load(layerCount: configuration.layerCount)
        traits = descriptor.traits
        self.configuration = configuration
        self.weights = weights
        if traits.positions == .rotary {
            rotaryTable = RotaryTable(
                headDimension: configuration.headDimension, base: configuration.ropeTheta,
                positionCount: min(configuration.maximumPositions, Self.precomputedRotaryPositions))
        } else {
            rotaryTable = nil
        }
        attentionScale = Float(1 / Double(configuration.headDimension).squareRoot())
    }

    /// Runs the model and returns logits for the requested positions.
    ///
    /// - Parameters:
    ///   - tokens: token ids, each in `0..<vocabularySize`; position ids are `0..<tokens.count`.
    ///   - outputPositions: positions whose logits are wanted (any order, repeats allowed); `nil` = all.
    ///     The LM head runs only for these rows.
    ///   - causal: `false` (default) for bidirectional attention (diffusion models), `true` for the
    ///     autoregressive mask.
    ///   - threads: worker threads for the kernels (≥ 1).
    ///   - workspace: scratch memory to reuse across calls; `nil` allocates a temporary one.
    /// - Returns: row-major `[outputPositions.count × vocabularySize]` f32 logits.
    public func forward(
        tokens: [Int32], outputPositions: [Int]? = nil, causal: Bool = false, threads: Int = 1,
        workspace: ForwardWorkspace? = nil
    ) throws -> [Float] {
        var logits: [Float] = []
        try forward(tokens: tokens, outputPositions: outputPositions, causal: causal, threads: threads, workspace: workspace,
                    into: &logits)
        return logits
    }

    /// ``forward(tokens:outputPositions:causal:threads:workspace:)`` writing the logits into `logits`, which is
    /// resized to `[outputPositions.count × vocabularySize]` and keeps its storage when it is already large enough
    /// (uniquely referenced): a decoding loop that hands the same array back every step allocates it once, where a
    /// fresh array of more than 32 MiB is a fresh mapping whose pages fault in on every pass.
    public func forward(
        tokens: [Int32], outputPositions: [Int]? = nil, causal: Bool = false, threads: Int = 1,
        workspace: ForwardWorkspace? = nil, into logits: inout [Float]
    ) throws {
        try prepare(tokens: tokens, outputPositions: outputPositions, causal: causal, threads: threads,
                    workspace: workspace) { workspace, positions in
            finishLogits(positions: positions, windowStart: 0, threads: threads, workspace: workspace, into: &logits)
        }
    }

    /// Runs the model and returns the final hidden states (after the output norm, before the LM head)
    /// for the requested positions: row-major `[outputPositions.count × hiddenSize]`.
    public func hiddenStates(
        tokens: [Int32], outputPositions: [Int]? = nil, causal: Bool = false, threads: Int = 1,
        workspace: ForwardWorkspace? = nil
    ) throws -> [Float] {
        var states: [Float] = []
        try prepare(tokens: tokens, outputPositions: outputPositions, causal: causal, threads: threads,
                    workspace: workspace) { workspace, positions in
            normalizeSelected(positions: positions, windowStart: 0, threads: threads, workspace: workspace)
            states = Array(UnsafeBufferPointer(start: workspace.selectedNormed, count: positions.count * configuration.hiddenSize))
        }
        return states
    }

    /// Checks the inputs of a forward pass without running it.
    public func validate(tokens: [Int32], outputPositions: [Int]?, threads: Int) throws {
        let c = configuration
        guard threads >= 1 else { throw ModelError.invalidThreadCount(threads) }
        guard !tokens.isEmpty else { throw ModelError.emptyInput }
        let maximum = traits.positions == .learned ? c.maximumPositions : Self.maximumSequenceLength
        guard tokens.count <= maximum else { throw ModelError.sequenceTooLong(length: tokens.count, maximum: maximum) }
        for (index, token) in tokens.enumerated() where token < 0 || Int(token) >= c.vocabularySize {
            throw ModelError.tokenOutOfRange(index: index, token: token, vocabularySize: c.vocabularySize)
        }
        for position in outputPositions ?? [] where position < 0 || position >= tokens.count {
            throw ModelError.outputPositionOutOfRange(position: position, length: tokens.count)
        }
    }

    /// Validates, takes the workspace, encodes the whole sequence, then runs `finish` (the output norm, and the
    /// head for logits) on the workspace and the output positions while the workspace is still held.
    private func prepare(
        tokens: [Int32], outputPositions: [Int]?, causal: Bool, threads: Int, workspace: ForwardWorkspace?,
        finish: (ForwardWorkspace, [Int]) -> Void
    ) throws {
        try validate(tokens: tokens, outputPositions: outputPositions, threads: threads)
        let workspace = workspace ?? ForwardWorkspace()
        guard workspace.lock.try() else { throw ModelError.workspaceInUse }
        defer { workspace.lock.unlock() }
        let positions = outputPositions ?? Array(0..<tokens.count)
        workspace.reserve(tokenCount: tokens.count, outputCount: positions.count, configuration: configuration)
        let table = rotaryTable(positionCount: tokens.count, workspace: workspace)
        tokens.withUnsafeBufferPointer { tokenBuffer in
            encode(tokenBuffer, window: 0..<tokens.count, causal: causal, threads: threads, workspace: workspace, table: table,
                   cache: nil)
        }
        finish(workspace, positions)
    }

    /// The final norm of the requested rows (hidden-state rows `position − windowStart`) into
    /// `workspace.selectedNormed`.
    private func normalizeSelected(positions: [Int], windowStart: Int, threads: Int, workspace: ForwardWorkspace) {
        let hidden = configuration.hiddenSize
        for (row, position) in positions.enumerated() {
            (workspace.selected + row * hidden).update(from: workspace.hidden + (position - windowStart) * hidden, count: hidden)
        }
        normalize(workspace.selected, rowCount: positions.count, parameters.outputNorm, into: workspace.selectedNormed, threads: threads)
    }

    /// Final norm and LM head for `positions` into `logits` (resized; its storage reused when large enough, an
    /// uninitialised fresh allocation otherwise: the head writes every element).
    func finishLogits(positions: [Int], windowStart: Int, threads: Int, workspace: ForwardWorkspace, into logits: inout [Float]) {
        normalizeSelected(positions: positions, windowStart: windowStart, threads: threads, workspace: workspace)
        let count = positions.count * configuration.vocabularySize
        let head: (UnsafeMutablePointer<Float>) -> Void = { output in
            MatrixMultiply.multiply(workspace.selectedNormed, rowCount: positions.count, weights: self.parameters.head,
                                    into: output, threads: threads, variant: self.kernelVariant)
        }
        if count == 0 {
            logits.removeAll(keepingCapacity: true)
        } else if logits.capacity >= count {
            if logits.count > count {
                logits.removeLast(logits.count - count)
            } else if logits.count < count {
                logits.append(contentsOf: repeatElement(0, count: count - logits.count))  // within capacity: no new mapping
            }
            logits.withUnsafeMutableBufferPointer { head($0.baseAddress!) }
        } else {
            logits = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                head(buffer.baseAddress!)
                initialized = count
            }
        }
    }

    func rotaryTable(positionCount: Int, workspace: ForwardWorkspace) -> RotaryTable? {
        guard let rotaryTable else { return nil }
        if positionCount <= rotaryTable.positionCount { return rotaryTable }
        if let extended = workspace.extendedRotaryTable, extended.positionCount >= positionCount,
           extended.headDimension == configuration.headDimension {
            return extended
        }
        let extended = RotaryTable(headDimension: configuration.headDimension, base: configuration.ropeTheta, positionCount: positionCount)
        workspace.extendedRotaryTable = extended
        return extended
    }

    /// Embeddings and every transformer block for the rows of `window` (positions of the canvas
    /// `tokens`); leaves their last residual stream in `workspace.hidden` (row `i` = position
    /// `window.lowerBound + i`).
    ///
    /// Without a cache `window` is the whole canvas and keys/values live in the workspace (the exact
    /// path). With a cache, each layer's keys/values of the window rows are written (post-RoPE) into the
    /// cache's rows `window`, and attention reads all `tokens.count` cache rows: the other rows keep what
    /// an earlier pass stored there.
    func encode(
        _ tokens: UnsafeBufferPointer<Int32>, window: Range<Int>, causal: Bool, threads: Int, workspace w: ForwardWorkspace,
        table: RotaryTable?, cache: KeyValueCache?
    ) {
        let c = configuration
        let length = window.count, hidden = c.hiddenSize, first = window.lowerBound
        let queryWidth = c.headCount * c.headDimension, keyValueWidth = c.keyValueHeadCount * c.headDimension
        Embedding.gather(parameters.tokenEmbedding, rows: tokens.baseAddress! + first, rowCount: length, into: w.hidden, threads: threads)
        if let positions = parameters.positionEmbedding {
            Activations.add(positions + first * hidden, into: w.hidden, count: length * hidden, threads: threads)
        }
        var geometry = AttentionGeometry(
            queryCount: length, keyCount: cache == nil ? length : tokens.count, headCount: c.headCount,
            keyValueHeadCount: c.keyValueHeadCount, headDimension: c.headDimension, causal: causal)
        geometry.queryPositionOffset = cache == nil ? 0 : first
        for (index, layer) in parameters.layers.enumerated() {
            // Keys/values of all attended rows, and where this pass writes the window's rows.
            let keys = cache?.keys(layer: index) ?? w.key
            let values = cache?.values(layer: index) ?? w.value
            let windowKeys = cache == nil ? keys : keys + first * keyValueWidth
            let windowValues = cache == nil ? values : values + first * keyValueWidth
            // Attention sublayer: hidden += o(attention(rope(q(norm(hidden))), rope(k(…)), v(…))).
            normalize(w.hidden, rowCount: length, layer.attentionNorm, into: w.normed, threads: threads)
            project(w.normed, length, [(layer.query, w.query), (layer.key, windowKeys), (layer.value, windowValues)], threads)
            if let table {
                RotaryEmbedding.apply(w.query, rowCount: length, rowStride: queryWidth, headCount: c.headCount,
                                      firstPosition: first, table: table, threads: threads)
                RotaryEmbedding.apply(windowKeys, rowCount: length, rowStride: keyValueWidth, headCount: c.keyValueHeadCount,
                                      firstPosition: first, table: table, threads: threads)
            }
            Attention.compute(query: w.query, key: keys, value: values, output: w.attention, geometry: geometry,
                              scale: attentionScale, threads: threads, variant: kernelVariant)
            project(w.attention, length, layer.output, into: w.projected, threads)
            Activations.add(w.projected, into: w.hidden, count: length * hidden, threads: threads)

            // Feed-forward sublayer.
            normalize(w.hidden, rowCount: length, layer.feedForwardNorm, into: w.normed, threads: threads)
            let ffnCount = length * c.intermediateSize
            switch traits.feedForward {
            case .geluTanh:
                project(w.normed, length, layer.up, into: w.feedForwardA, threads)
                Activations.geluTanh(w.feedForwardA, count: ffnCount, into: w.feedForwardA, threads: threads)
            case .swiGLU:
                project(w.normed, length, [(layer.gate!, w.feedForwardA), (layer.up, w.feedForwardB)], threads)
                Activations.swiGLU(gate: w.feedForwardA, up: w.feedForwardB, count: ffnCount, into: w.feedForwardA, threads: threads)
            }
            project(w.feedForwardA, length, layer.down, into: w.projected, threads)
            Activations.add(w.projected, into: w.hidden, count: length * hidden, threads: threads)
        }
    }

    /// Several projections of one input (query/key/value, gate/up): the integer kernels quantize it once.
    private func project(
        _ input: UnsafeMutablePointer<Float>, _ rowCount: Int, _ projections: [(Projection, UnsafeMutablePointer<Float>)], _ threads: Int
    ) {
        let products = projections.map { MatrixMultiply.Product(weights: $0.0.matrix, bias: $0.0.bias, output: $0.1) }
        MatrixMultiply.multiply(UnsafePointer(input), rowCount: rowCount, products: products, threads: threads, variant: kernelVariant)
    }

    private func project(_ input: UnsafeMutablePointer<Float>, _ rowCount: Int, _ projection: Projection, into output: UnsafeMutablePointer<Float>, _ threads: Int) {
        MatrixMultiply.multiply(UnsafePointer(input), rowCount: rowCount, weights: projection.matrix, bias: projection.bias,
                                into: output, threads: threads, variant: kernelVariant)
    }

    private func normalize(_ input: UnsafeMutablePointer<Float>, rowCount: Int, _ norm: NormParameters, into output: UnsafeMutablePointer<Float>, threads: Int) {
        switch traits.norm {
        case .layerNorm:
            Normalization.layerNorm(input, rowCount: rowCount, width: configuration.hiddenSize, weight: norm.weight, bias: norm.bias,
                                    epsilon: configuration.normEpsilon, into: output, threads: threads)
        case .rmsNorm:
            Normalization.rmsNorm(input, rowCount: rowCount, width: configuration.hiddenSize, weight: norm.weight,
                                  epsilon: configuration.normEpsilon, into: output, threads: threads)
        }
    }
}

/// Scratch memory of one forward pass: activations for `L` tokens, grown on demand and reused.
///
/// A workspace may be reused by any number of sequential forward passes (of any model); a second pass
/// that tries to use it while one is running gets ``ModelError/workspaceInUse`` instead of a data race.
public final class ForwardWorkspace: @unchecked Sendable {
    let lock = NSLock()
    private var arena: FloatArena?
    var extendedRotaryTable: RotaryTable?

    /// The workspace's regions, in the order of their offsets.
    private enum Region: Int, CaseIterable {
        case hidden, normed, query, key, value, attention, projected, feedForwardA, feedForwardB, selected, selectedNormed
    }
    /// Start of each region in `arena` (set by `reserve`).
    private var offsets = [Int](repeating: 0, count: Region.allCases.count)

    /// Region `region` of the arena (valid after `reserve`, until the next `reserve`).
    @inline(__always)
    private func view(_ region: Region) -> UnsafeMutablePointer<Float> { arena!.base + offsets[region.rawValue] }

    var hidden: UnsafeMutablePointer<Float> { view(.hidden) }
    var normed: UnsafeMutablePointer<Float> { view(.normed) }
    var query: UnsafeMutablePointer<Float> { view(.query) }
    var key: UnsafeMutablePointer<Float> { view(.key) }
    var value: UnsafeMutablePointer<Float> { view(.value) }
    var attention: UnsafeMutablePointer<Float> { view(.attention) }
    var projected: UnsafeMutablePointer<Float> { view(.projected) }
    var feedForwardA: UnsafeMutablePointer<Float> { view(.feedForwardA) }
    var feedForwardB: UnsafeMutablePointer<Float> { view(.feedForwardB) }
    var selected: UnsafeMutablePointer<Float> { view(.selected) }
    var selectedNormed: UnsafeMutablePointer<Float> { view(.selectedNormed) }

    /// Creates an empty workspace; memory is allocated by the first forward pass.
    public init() {}

    /// Floats currently allocated.
    public var allocatedFloatCount: Int { arena?.count ?? 0 }

    /// Makes room for `tokenCount` tokens and `outputCount` output rows (sizes were validated by the model).
    func reserve(tokenCount: Int, outputCount: Int, configuration c: ModelConfiguration) {
        let hiddenCount = tokenCount * c.hiddenSize
        let queryCount = tokenCount * c.headCount * c.headDimension
        let keyValueCount = tokenCount * c.keyValueHeadCount * c.headDimension
        let feedForwardCount = tokenCount * c.intermediateSize
        let selectedCount = outputCount * c.hiddenSize
        func count(_ region: Region) -> Int {
            switch region {
            case .hidden, .normed, .projected: hiddenCount
            case .query, .attention: queryCount
            case .key, .value: keyValueCount
            case .feedForwardA, .feedForwardB: feedForwardCount
            case .selected, .selectedNormed: selectedCount
            }
        }
        // Every region 64-byte aligned (the arena is).
        let layout = AlignedRegions(counts: Region.allCases.map(count))
        offsets = layout.offsets
        let total = layout.totalCount
        if total > arena?.count ?? 0 { arena = FloatArena(count: total) }
    }
}

/// One 64-byte-aligned allocation of `count` floats, freed when the owner goes (the workspace's regions
/// are offsets into it).
final class FloatArena {
    /// The first float.
    let base: UnsafeMutablePointer<Float>
    /// Floats allocated.
    let count: Int

    init(count: Int) {
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
    }

    deinit { base.deallocate() }
}

extension ArchitectureTraits.FeedForwardKind {
    /// The `hidden × intermediate` matrices of one feed-forward block: up and down (GELU), or gate, up
    /// and down (SwiGLU).
    var matrixCount: Int {
        switch self {
        case .geluTanh: 2
        case .swiGLU: 3
        }
    }
}

extension TransformerModel {
    /// Floating-point operations of one forward pass over `tokens` positions with the LM head for
    /// `logitRows` rows: 2 per multiply-add of the query/key/value/output projections, the feed-forward
    /// matrices (as many as the architecture's block has), the attention scores and value sums
    /// (bidirectional, every query against every key), and the head. Norms, activations and RoPE are
    /// not counted.
    public func forwardFLOPs(tokens: Int, logitRows: Int) -> Double {
        let c = configuration
        let l = Double(tokens), h = Double(c.hiddenSize), d = Double(c.headDimension)
        let q = Double(c.headCount) * d, kv = Double(c.keyValueHeadCount) * d, f = Double(c.intermediateSize)
        let feedForward = Double(traits.feedForward.matrixCount) * h * f
        let perLayer = 2 * l * (h * q + 2 * h * kv + q * h + feedForward) + 2 * 2 * l * l * q
        return Double(c.layerCount) * perLayer + 2 * Double(logitRows) * h * Double(c.vocabularySize)
    }
}

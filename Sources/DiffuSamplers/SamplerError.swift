/// Why a sampler refused its input or stopped.
public enum SamplerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The canvas has no positions.
    case emptyCanvas
    /// Token and fixed-flag arrays differ in length.
    case canvasLengthMismatch(tokens: Int, flags: Int)
    /// A negative or overflowing length.
    case invalidLength(Int)
    /// Steps must be in 1…``SamplingParameters/maximumSteps``.
    case invalidSteps(Int)
    /// Temperature must be finite and ≥ 0.
    case invalidTemperature(Float)
    /// Top-p must be in (0, 1].
    case invalidTopP(Float)
    /// Top-k must be at least 1.
    case invalidTopK(Int)
    /// Dream's eps must be finite, in [0, 1).
    case invalidEpsilon(Double)
    /// The algorithm temperature must be finite and ≥ 0.
    case invalidAlgorithmTemperature(Float)
    /// Block length must be at least 1.
    case invalidBlockLength(Int)
    /// The confidence threshold must be finite.
    case invalidThreshold(Float)
    /// The classifier-free guidance scale must be finite and ≥ 0.
    case invalidGuidanceScale(Float)
    /// A parameter that the chosen algorithm does not have.
    case unsupportedParameter(algorithm: SamplerAlgorithm, parameter: String)
    /// The provider's vocabulary is empty.
    case invalidVocabularySize(Int)
    /// The mask id is outside the vocabulary.
    case maskTokenOutOfVocabulary(token: Int32, vocabularySize: Int)
    /// A canvas token is outside the vocabulary.
    case tokenOutOfVocabulary(position: Int, token: Int32, vocabularySize: Int)
    /// The provider returned the wrong number of logits.
    case logitsCountMismatch(expected: Int, actual: Int)
    /// A logits row has no finite maximum (all NaN or -infinity).
    case invalidLogits(row: Int)

    /// A readable description naming the problem.
    public var description: String {
        switch self {
        case .emptyCanvas: return "the canvas is empty (length 0)"
        case .canvasLengthMismatch(let tokens, let flags):
            return "canvas has \(tokens) tokens but \(flags) fixed flags"
        case .invalidLength(let length): return "invalid length \(length)"
        case .invalidSteps(let steps): return "steps must be in 1...\(SamplingParameters.maximumSteps), got \(steps)"
        case .invalidTemperature(let value): return "temperature must be finite and ≥ 0, got \(value)"
        case .invalidTopP(let value): return "top-p must be in (0, 1], got \(value)"
        case .invalidTopK(let value): return "top-k must be ≥ 1, got \(value)"
        case .invalidEpsilon(let value): return "eps must be finite and in [0, 1), got \(value)"
        case .invalidAlgorithmTemperature(let value): return "algorithm temperature must be finite and ≥ 0, got \(value)"
        case .invalidBlockLength(let value): return "block length must be ≥ 1, got \(value)"
        case .invalidThreshold(let value): return "confidence threshold must be finite, got \(value)"
        case .invalidGuidanceScale(let value): return "guidance (cfg) scale must be finite and ≥ 0, got \(value)"
        case .unsupportedParameter(let algorithm, let parameter):
            return "the \(algorithm.rawValue) sampler has no \(parameter) parameter"
        case .invalidVocabularySize(let size): return "vocabulary size must be ≥ 1, got \(size)"
        case .maskTokenOutOfVocabulary(let token, let size): return "mask token \(token) outside vocabulary 0..<\(size)"
        case .tokenOutOfVocabulary(let position, let token, let size):
            return "token \(token) at position \(position) outside vocabulary 0..<\(size)"
        case .logitsCountMismatch(let expected, let actual):
            return "logits provider returned \(actual) values, expected \(expected)"
        case .invalidLogits(let row): return "logits row \(row) has no finite maximum"
        }
    }
}

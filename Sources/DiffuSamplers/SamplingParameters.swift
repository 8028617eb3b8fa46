/// The sampling algorithms. The first two are the DiffuGPT/DiffuLLaMA reference samplers, the next
/// four Dream's `alg` values (also used with the block schedule, as LLaDA and llama.cpp do), the last
/// two LLaDA's `generate.py` remasking strategies.
public enum SamplerAlgorithm: String, Sendable, CaseIterable, Equatable {
    /// DiffuLLaMA `model.py::generate_samples`: reveal each masked position with probability 1/(t+1).
    case randomKeep = "random-keep"
    /// DiffuLLaMA `trainer.py::generate_samples`: keep the floor(N·t/T) lowest-scored positions masked.
    case confidence
    /// Dream `origin`: reveal each masked position with probability 1 − s/t.
    case origin
    /// Dream `maskgit_plus`: reveal the most probable drawn tokens first.
    case maskgitPlus = "maskgit-plus"
    /// Dream `topk_margin`: reveal the largest top-1 − top-2 probability margins first.
    case topkMargin = "topk-margin"
    /// Dream `entropy`: reveal the lowest-entropy positions first.
    case entropy
    /// LLaDA `generate.py`, `remasking='low_confidence'`: Gumbel-max tokens, reveal the highest softmax
    /// probabilities of the active block first.
    case lowConfidence = "low-confidence"
    /// LLaDA `generate.py`, `remasking='random'`: Gumbel-max tokens, reveal positions of the active block
    /// in the order of one uniform draw each.
    case randomRemask = "random-remask"

    // Every capability below is an exhaustive switch over the algorithms, never a "not one of these"
    // predicate: a new algorithm does not compile until each capability names it.

    /// Whether the algorithm takes a nucleus (top-p) filter.
    public var acceptsTopP: Bool {
        switch self {
        case .randomKeep, .origin, .maskgitPlus, .topkMargin, .entropy: true
        case .confidence, .lowConfidence, .randomRemask: false
        }
    }

    /// Whether the algorithm takes a top-k filter (Dream's).
    public var acceptsTopK: Bool {
        switch self {
        case .origin, .maskgitPlus, .topkMargin, .entropy: true
        case .randomKeep, .confidence, .lowConfidence, .randomRemask: false
        }
    }

    /// Whether the algorithm takes the semi-autoregressive block schedule.
    public var acceptsBlockLength: Bool {
        switch self {
        case .origin, .maskgitPlus, .topkMargin, .entropy, .lowConfidence, .randomRemask: true
        case .randomKeep, .confidence: false
        }
    }

    /// Whether the algorithm takes threshold parallel decoding (it compares a confidence of its own;
    /// Dream's `origin` reveals by coin flips and has none).
    public var acceptsConfidenceThreshold: Bool {
        switch self {
        case .maskgitPlus, .topkMargin, .entropy: true
        case .randomKeep, .confidence, .origin, .lowConfidence, .randomRemask: false
        }
    }

    /// Whether the algorithm takes Dream's `alg_temp` (drawing the positions to reveal).
    public var acceptsAlgorithmTemperature: Bool {
        switch self {
        case .maskgitPlus, .topkMargin, .entropy: true
        case .randomKeep, .confidence, .origin, .lowConfidence, .randomRemask: false
        }
    }

    /// Whether the algorithm takes classifier-free guidance (LLaDA's `cfg_scale`).
    public var acceptsGuidanceScale: Bool {
        switch self {
        case .lowConfidence, .randomRemask: true
        case .randomKeep, .confidence, .origin, .maskgitPlus, .topkMargin, .entropy: false
        }
    }

    /// Whether the algorithm has the reference's greedy variant (`gsm=True`).
    public var acceptsGreedy: Bool {
        switch self {
        case .confidence: true
        case .randomKeep, .origin, .maskgitPlus, .topkMargin, .entropy, .lowConfidence, .randomRemask: false
        }
    }
}

/// Everything a sampler needs besides the canvas, the logits and the randomness.
///
/// Reference semantics per field are in `DIFFUSION.md` §3–4 and on ``DiffusionSampler``.
/// Validate with ``validate()`` (``DiffusionSampler/init(parameters:)`` does).
public struct SamplingParameters: Sendable, Equatable {
    /// Which algorithm decides what to reveal.
    public var algorithm: SamplerAlgorithm
    /// The mask token id of the model.
    public var maskToken: Int32
    /// T: forward passes (per canvas; split across blocks under the block schedule).
    public var steps: Int
    /// Logits are divided by this before softmax; 0 means greedy (argmax).
    public var temperature: Float
    /// Nucleus filter (random-keep and Dream family); `nil` or 1 disables it.
    public var topP: Float?
    /// Top-k filter (Dream family; applied after top-p as Dream does); `nil` disables it.
    public var topK: Int?
    /// Confidence sampler only: argmax with score = max log-prob of logits/temperature
    /// (the reference's `gsm=True`). Temperature 0 is greedy for every algorithm.
    public var greedy: Bool
    /// Dream's eps: timesteps are `linspace(1, eps, T+1)`.
    public var epsilon: Double
    /// Dream's `alg_temp`: 0 reveals the highest confidences; > 0 draws the positions to reveal from
    /// softmax(confidence / alg_temp) without replacement.
    public var algorithmTemperature: Float
    /// Block (semi-autoregressive) schedule: generated positions are decoded in consecutive blocks of
    /// this length, left to right; only the active block's masks are candidates. Dream family only.
    public var blockLength: Int?
    /// Threshold parallel decoding (Fast-dLLM), opt-in: each step reveals every candidate whose
    /// confidence exceeds this value (at least the most confident one), and a block (or the canvas)
    /// runs until no mask is left instead of following the step schedule. Compared with the
    /// algorithm's own confidence: maskgit-plus the drawn token's probability (Fast-dLLM's rule,
    /// τ ≈ 0.9), topk-margin top1 − top2, entropy Σ p log p (≤ 0). Not for origin.
    public var confidenceThreshold: Float?
    /// The shift rule (DIFFUSION.md §3): the output at position i predicts position i+1. `true` for
    /// DiffuGPT, DiffuLLaMA, Dream, DiffuCoder and AR models; `false` for LLaDA-style models.
    public var shiftLogits: Bool
    /// Causal (autoregressive) attention instead of bidirectional; with block length 1 this is plain
    /// left-to-right decoding.
    public var causal: Bool
    /// Classifier-free guidance (LLaDA family, `cfg_scale`): with a scale s > 0 every step also runs the
    /// canvas with its fixed (prompt) positions masked, and uses `uncond + (s + 1)·(cond − uncond)`.
    /// 0 disables it.
    public var guidanceScale: Float

    /// Creates parameters; see the static presets for the reference defaults.
    public init(algorithm: SamplerAlgorithm, maskToken: Int32, steps: Int, temperature: Float,
                topP: Float? = nil, topK: Int? = nil, greedy: Bool = false, epsilon: Double = 1e-3,
                algorithmTemperature: Float = 0, blockLength: Int? = nil, confidenceThreshold: Float? = nil,
                shiftLogits: Bool = true, causal: Bool = false, guidanceScale: Float = 0) {
        self.algorithm = algorithm
        self.maskToken = maskToken
        self.steps = steps
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.greedy = greedy
        self.epsilon = epsilon
        self.algorithmTemperature = algorithmTemperature
        self.blockLength = blockLength
        self.confidenceThreshold = confidenceThreshold
        self.shiftLogits = shiftLogits
        self.causal = causal
        self.guidanceScale = guidanceScale
    }

    /// The quick-start default temperature for DiffuGPT (`inf_diffugpt.py`).
    public static let diffuGPTTemperature: Float = 0.95
    /// The quick-start default temperature for DiffuLLaMA (`inf_diffullama.py`).
    public static let diffuLLaMATemperature: Float = 0.9

    /// The reference quick-start sampler (random-keep): T = 64, top-p 0.9, shift on; temperature
    /// ``diffuGPTTemperature`` (0.95) for DiffuGPT or ``diffuLLaMATemperature`` (0.9) for DiffuLLaMA.
    public static func randomKeep(maskToken: Int32, temperature: Float = diffuGPTTemperature, topP: Float = 0.9,
                                  steps: Int = 64, shiftLogits: Bool = true) -> SamplingParameters {
        SamplingParameters(algorithm: .randomKeep, maskToken: maskToken, steps: steps, temperature: temperature,
                           topP: topP, shiftLogits: shiftLogits)
    }

    /// The reference evaluation sampler (confidence): T = 32 (the paper's setting for most tasks),
    /// temperature 1; `greedy` is the GSM setting.
    public static func confidence(maskToken: Int32, steps: Int = 32, temperature: Float = 1,
                                  greedy: Bool = false, shiftLogits: Bool = true) -> SamplingParameters {
        SamplingParameters(algorithm: .confidence, maskToken: maskToken, steps: steps, temperature: temperature,
                           greedy: greedy, shiftLogits: shiftLogits)
    }

    /// Dream's sampler with the settings of its demos: entropy, temperature 0.2, top-p 0.95,
    /// eps 1e-3, alg_temp 0 (Dream always shifts).
    public static func dream(maskToken: Int32, steps: Int, algorithm: SamplerAlgorithm = .entropy,
                             temperature: Float = 0.2, topP: Float? = 0.95, topK: Int? = nil,
                             blockLength: Int? = nil) -> SamplingParameters {
        SamplingParameters(algorithm: algorithm, maskToken: maskToken, steps: steps, temperature: temperature,
                           topP: topP, topK: topK, epsilon: 1e-3, blockLength: blockLength, shiftLogits: true)
    }

    /// LLaDA's `generate.py` with the settings of its demos (`chat.py`): low-confidence remasking, 128
    /// steps, block length 32, temperature 0, no guidance, no shift (LLaDA's logits i predict token i).
    public static func llada(maskToken: Int32, steps: Int = 128, blockLength: Int? = 32, temperature: Float = 0,
                             guidanceScale: Float = 0, algorithm: SamplerAlgorithm = .lowConfidence) -> SamplingParameters {
        SamplingParameters(algorithm: algorithm, maskToken: maskToken, steps: steps, temperature: temperature,
                           blockLength: blockLength, shiftLogits: false, guidanceScale: guidanceScale)
    }

    /// AR mode: causal attention, block length 1, one token per forward pass, left to right
    /// (greedy at temperature 0, otherwise a draw after top-p/top-k).
    public static func autoregressive(maskToken: Int32, temperature: Float = 0, topP: Float? = nil,
                                      topK: Int? = nil) -> SamplingParameters {
        SamplingParameters(algorithm: .maskgitPlus, maskToken: maskToken, steps: 1, temperature: temperature,
                           topP: topP, topK: topK, blockLength: 1, shiftLogits: true, causal: true)
    }

    /// The largest accepted step count (2²⁴; Dream's timestep table has steps + 1 entries).
    public static let maximumSteps = 1 << 24

    /// Checks every field and combination; throws the first problem found.
    public func validate() throws {
        guard steps >= 1, steps <= Self.maximumSteps else { throw SamplerError.invalidSteps(steps) }
        guard temperature.isFinite, temperature >= 0 else { throw SamplerError.invalidTemperature(temperature) }
        if let topP, !(topP.isFinite && topP > 0 && topP <= 1) { throw SamplerError.invalidTopP(topP) }
        if let topK, topK < 1 { throw SamplerError.invalidTopK(topK) }
        guard epsilon.isFinite, epsilon >= 0, epsilon < 1 else { throw SamplerError.invalidEpsilon(epsilon) }
        guard algorithmTemperature.isFinite, algorithmTemperature >= 0 else {
            throw SamplerError.invalidAlgorithmTemperature(algorithmTemperature)
        }
        if let blockLength, blockLength < 1 { throw SamplerError.invalidBlockLength(blockLength) }
        if let confidenceThreshold, !confidenceThreshold.isFinite {
            throw SamplerError.invalidThreshold(confidenceThreshold)
        }
        guard guidanceScale.isFinite, guidanceScale >= 0 else { throw SamplerError.invalidGuidanceScale(guidanceScale) }
        func reject(_ name: String) -> SamplerError { .unsupportedParameter(algorithm: algorithm, parameter: name) }
        if topK != nil, !algorithm.acceptsTopK { throw reject("top-k") }
        if blockLength != nil, !algorithm.acceptsBlockLength { throw reject("block length") }
        if confidenceThreshold != nil, !algorithm.acceptsConfidenceThreshold { throw reject("confidence threshold") }
        if algorithmTemperature != 0, !algorithm.acceptsAlgorithmTemperature { throw reject("algorithm temperature") }
        if !algorithm.acceptsTopP, let topP, topP < 1 { throw reject("top-p") }
        if guidanceScale != 0, !algorithm.acceptsGuidanceScale { throw reject("guidance scale") }
        if greedy, !algorithm.acceptsGreedy { throw reject("greedy (use temperature 0)") }
    }
}

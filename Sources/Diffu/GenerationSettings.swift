/// A caller's choices for a generation, each optional: what is left `nil` comes from the model's
/// reference defaults (``DiffuModel/defaultParameters``). The one place where a front end's options
/// (the CLI's flags, the server's request fields) become ``GenerationParameters``, so every front end
/// applies the same defaulting rules.
public struct GenerationSettings: Sendable, Equatable {
    /// Generated positions.
    public var length: Int?
    /// Denoising steps T.
    public var steps: Int?
    /// The sampling algorithm.
    public var sampler: SamplerAlgorithm?
    /// Semi-autoregressive block length.
    public var blockLength: Int?
    /// Classifier-free guidance scale (LLaDA's `cfg_scale`; 0 = off).
    public var guidanceScale: Float?
    /// Softmax temperature; 0 is greedy.
    public var temperature: Float?
    /// Nucleus filter; 1 (or more) disables it.
    public var topP: Float?
    /// Top-k filter (Dream samplers and AR mode).
    public var topK: Int?
    /// Dream's `alg_temp`.
    public var algorithmTemperature: Float?
    /// Threshold parallel decoding (Fast-dLLM).
    public var confidenceThreshold: Float?
    /// Approximate key/value cache.
    public var cache: CacheMode?
    /// Random seed.
    public var seed: UInt64?
    /// Autoregressive mode (causal, left to right); its defaults are length 64, greedy, no nucleus filter.
    public var autoregressive: Bool
    /// Causal attention in diffusion mode.
    public var causal: Bool
    /// Kernel worker threads.
    public var threads: Int?
    /// Texts that end the answer (``GenerationParameters/stopSequences``).
    public var stopSequences: [String]

    /// Creates settings; every field defaults to "the model's default".
    public init(length: Int? = nil, steps: Int? = nil, sampler: SamplerAlgorithm? = nil, blockLength: Int? = nil,
                guidanceScale: Float? = nil, temperature: Float? = nil, topP: Float? = nil, topK: Int? = nil, algorithmTemperature: Float? = nil,
                confidenceThreshold: Float? = nil, cache: CacheMode? = nil, seed: UInt64? = nil, autoregressive: Bool = false,
                causal: Bool = false, threads: Int? = nil, stopSequences: [String] = []) {
        self.length = length
        self.steps = steps
        self.sampler = sampler
        self.blockLength = blockLength
        self.guidanceScale = guidanceScale
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.algorithmTemperature = algorithmTemperature
        self.confidenceThreshold = confidenceThreshold
        self.cache = cache
        self.seed = seed
        self.autoregressive = autoregressive
        self.causal = causal
        self.threads = threads
        self.stopSequences = stopSequences
    }
}

/// Why a generation's answer ends where it does.
public enum FinishReason: String, Sendable, Equatable, CaseIterable {
    /// The model generated its end-of-sequence token.
    case endOfSequence = "end-of-sequence"
    /// A stop sequence (a caller's, or the chat template's end of turn) was found; the text ends before it.
    case stopSequence = "stop-sequence"
    /// The answer fills every generated position.
    case length
}

/// The answer of a generation: its text, how many generated tokens it covers, and why it ends there.
public struct FinishedText: Sendable, Equatable {
    /// The decoded answer, up to (excluding) the end-of-sequence token or the first stop sequence.
    public let text: String
    /// Generated tokens the answer covers (the token in which a stop sequence begins counts).
    public let tokenCount: Int
    /// Why the answer ends.
    public let reason: FinishReason

    /// Creates a value.
    public init(text: String, tokenCount: Int, reason: FinishReason) {
        self.text = text
        self.tokenCount = tokenCount
        self.reason = reason
    }
}

extension DiffuModel {
    /// Generation parameters from a caller's settings: the model's reference defaults for the chosen
    /// sampler (``defaultParameters(sampler:)``: the defaults it does not take are dropped), then AR
    /// mode's defaults when asked for, then every setting given. A sampler without a nucleus filter
    /// (confidence, LLaDA's) drops the file's default top-p unless the caller set one; a top-p of 1 or
    /// more disables the filter.
    public func parameters(_ settings: GenerationSettings) -> GenerationParameters {
        var parameters = defaultParameters(sampler: settings.sampler)
        if settings.autoregressive {
            parameters.autoregressive = true
            parameters.length = 64
            parameters.temperature = 0
            parameters.topP = nil
        }
        if let length = settings.length { parameters.length = length }
        if let steps = settings.steps { parameters.steps = steps }
        if let blockLength = settings.blockLength { parameters.blockLength = blockLength }
        if let guidanceScale = settings.guidanceScale { parameters.guidanceScale = guidanceScale }
        if let temperature = settings.temperature { parameters.temperature = temperature }
        if let topP = settings.topP { parameters.topP = topP >= 1 ? nil : topP }
        if !parameters.sampler.acceptsTopP && settings.topP == nil { parameters.topP = nil }
        if let topK = settings.topK { parameters.topK = topK }
        if let algorithmTemperature = settings.algorithmTemperature { parameters.algorithmTemperature = algorithmTemperature }
        parameters.confidenceThreshold = settings.confidenceThreshold
        parameters.cache = settings.cache ?? .none
        parameters.seed = settings.seed ?? 0
        parameters.causal = settings.causal
        if let threads = settings.threads { parameters.threads = threads }
        parameters.stopSequences = settings.stopSequences
        return parameters
    }

    /// The stop sequences a generation applies: the caller's, plus the chat template's end of turn
    /// (``ChatTemplate/endOfTurn``) for a chat prompt.
    public func stopSequences(for prompt: Prompt, parameters: GenerationParameters) -> [String] {
        if case .chat = prompt, !parameters.stopSequences.contains(ChatTemplate.endOfTurn) {
            return parameters.stopSequences + [ChatTemplate.endOfTurn]
        }
        return parameters.stopSequences
    }

    /// The answer in generated tokens: decoded up to the first end-of-sequence token, then cut before
    /// the earliest stop sequence. Works on a prefix of the generated span as well (a stream's settled
    /// part): the answer of a prefix is a prefix of the final answer, up to a stop sequence or a UTF-8
    /// sequence that the next token completes.
    public func finishedText(_ generatedTokens: [Int32], stopSequences: [String]) -> FinishedText {
        let eos = diffusion.eosTokenID.map(Int32.init) ?? tokenizer.specialTokens.eos
        let end = eos.flatMap { generatedTokens.firstIndex(of: $0) }
        let tokens = Array(generatedTokens[..<(end ?? generatedTokens.count)])
        let text = tokenizer.decode(tokens)
        let stops = stopSequences.filter { !$0.isEmpty }.compactMap { text.range(of: $0)?.lowerBound }
        guard let cut = stops.min() else {
            return FinishedText(text: text, tokenCount: tokens.count, reason: end == nil ? .length : .endOfSequence)
        }
        let kept = String(text[..<cut])
        return FinishedText(text: kept, tokenCount: tokenCount(covering: kept.utf8.count, of: tokens), reason: .stopSequence)
    }

    /// The fewest leading tokens whose decoded text is at least `bytes` UTF-8 bytes long.
    private func tokenCount(covering bytes: Int, of tokens: [Int32]) -> Int {
        var low = 0, high = tokens.count
        while low < high {
            let middle = (low + high) / 2
            if tokenizer.decodeBytes(Array(tokens[..<middle])).count >= bytes { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

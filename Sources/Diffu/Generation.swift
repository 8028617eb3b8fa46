import DiffuFormat
import DiffuSamplers
import DiffuTokenizers
import Foundation

/// What to condition a generation on.
public enum Prompt: Sendable, Equatable {
    /// Unconditional generation. With shifted logits, position 0 holds the BOS token (fixed) when the
    /// model has one, so every generated position has a predicting row.
    case none
    /// A text prefix (BOS added where the tokenizer adds one).
    case text(String)
    /// A prefix given as token ids, used as is.
    case tokens([Int32])
    /// Infilling: prefix and suffix fixed, the middle (of the requested length) generated in place.
    case infill(prefix: String, suffix: String)
    /// The instruction layout of the fine-tuned checkpoints: `[BOS] source [SEP]`, then the answer.
    case instruction(String)
    /// A chat in the model's ChatML template (Dream-Instruct, SmolLM2-Instruct), then the reply.
    case chat([ChatMessage])
}

/// One message of a chat.
public struct ChatMessage: Sendable, Equatable {
    /// `system`, `user` or `assistant`.
    public var role: String
    /// The text.
    public var content: String

    /// Creates a message.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// How to generate. The defaults come from the file (``DiffuModel/defaultParameters``): the reference
/// quick-start sampler of the source model.
public struct GenerationParameters: Sendable, Equatable {
    /// Generated positions (the masked span's length).
    public var length: Int
    /// The sampling algorithm.
    public var sampler: SamplerAlgorithm
    /// Denoising steps T (forward passes of the reference samplers).
    public var steps: Int
    /// Softmax temperature; 0 is greedy.
    public var temperature: Float
    /// Nucleus filter; `nil` disables it.
    public var topP: Float?
    /// Top-k filter (Dream samplers and AR mode); `nil` disables it.
    public var topK: Int?
    /// Semi-autoregressive block length (Dream and LLaDA samplers); `nil` decodes the whole span as one block.
    public var blockLength: Int?
    /// Classifier-free guidance scale (LLaDA samplers, `cfg_scale`); 0 disables it.
    public var guidanceScale: Float
    /// Threshold parallel decoding (Fast-dLLM): reveal every masked position whose confidence exceeds
    /// this, at least one per step. Opt-in; changes results.
    public var confidenceThreshold: Float?
    /// Dream's `alg_temp`.
    public var algorithmTemperature: Float
    /// Seed of the default random generator.
    public var seed: UInt64
    /// Autoregressive mode: causal attention, one token per step, left to right (for AR models such as
    /// SmolLM2, and the paper's DLM-vs-AR comparisons).
    public var autoregressive: Bool
    /// Causal attention in diffusion mode (off for diffusion models).
    public var causal: Bool
    /// Worker threads for the kernels.
    public var threads: Int
    /// Whether step events carry decoded text (costs a detokenization per step).
    public var decodeSteps: Bool
    /// Approximate key/value cache refreshed per block (Fast-dLLM prefix or dual cache). Opt-in; changes
    /// results. Pair it with ``blockLength``: without blocks only the prompt is cached.
    public var cache: CacheMode
    /// Texts that end the answer: ``GenerationResult/text`` stops before the earliest one found (the
    /// whole span is still generated: diffusion fills every position). Empty strings are refused.
    public var stopSequences: [String]

    /// Creates parameters.
    public init(length: Int, sampler: SamplerAlgorithm = .randomKeep, steps: Int = 64, temperature: Float = 0.9,
                topP: Float? = 0.9, topK: Int? = nil, blockLength: Int? = nil, guidanceScale: Float = 0,
                confidenceThreshold: Float? = nil, algorithmTemperature: Float = 0, seed: UInt64 = 0, autoregressive: Bool = false,
                causal: Bool = false, threads: Int = DiffuModel.defaultThreadCount, decodeSteps: Bool = false,
                cache: CacheMode = .none, stopSequences: [String] = []) {
        self.length = length
        self.sampler = sampler
        self.steps = steps
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.blockLength = blockLength
        self.guidanceScale = guidanceScale
        self.confidenceThreshold = confidenceThreshold
        self.algorithmTemperature = algorithmTemperature
        self.seed = seed
        self.autoregressive = autoregressive
        self.causal = causal
        self.threads = threads
        self.decodeSteps = decodeSteps
        self.cache = cache
        self.stopSequences = stopSequences
    }
}

/// One denoising step, as reported to the caller.
public struct GenerationStep: Sendable {
    /// Step index from 0.
    public let index: Int
    /// Steps planned, when known in advance.
    public let plannedSteps: Int?
    /// The whole canvas after this step (mask ids at still-masked positions).
    public let tokens: [Int32]
    /// Positions revealed at this step.
    public let revealed: [Int]
    /// Positions that are generated (not prompt), ascending.
    public let generatedPositions: [Int]
    /// Masked positions left.
    public let remainingMasks: Int
    /// The generated span decoded (masks dropped), when requested.
    public let text: String?
    /// Seconds since the generation started.
    public let elapsed: Double
}

/// The outcome of a generation.
public struct GenerationResult: Sendable {
    /// The whole final canvas.
    public let tokens: [Int32]
    /// The generated positions, ascending.
    public let generatedPositions: [Int]
    /// The tokens at the generated positions.
    public let generatedTokens: [Int32]
    /// The answer: the generated tokens decoded up to the first end-of-sequence token, and before the
    /// earliest stop sequence (``DiffuModel/finishedText(_:stopSequences:)``).
    public let text: String
    /// Why ``text`` ends where it does.
    public let finishReason: FinishReason
    /// Generated tokens that ``text`` covers (at most ``generatedTokens``' count).
    public let answerTokenCount: Int
    /// Steps run.
    public let steps: Int
    /// Forward passes run.
    public let forwardPasses: Int
    /// Wall-clock seconds.
    public let seconds: Double

    /// Positions of the canvas that are not generated (the prompt, with its special tokens).
    public var promptTokenCount: Int { tokens.count - generatedPositions.count }
}

/// An event of ``DiffuModel/generate(_:parameters:)``.
public enum GenerationEvent: Sendable {
    /// A denoising step finished.
    case step(GenerationStep)
    /// The generation finished; the last event.
    case finished(GenerationResult)
}

extension DiffuModel {
    /// The reference defaults of this model, from the file's sampler defaults (random-keep, T = 64,
    /// top-p 0.9 and the source model's temperature for the DiffuGPT/DiffuLLaMA family; LLaDA's
    /// low-confidence sampler with its block length and guidance scale, options `block_length` and
    /// `cfg_scale`).
    public var defaultParameters: GenerationParameters {
        let defaults = diffusion.samplerDefaults
        var parameters = GenerationParameters(length: defaults?.generationLength ?? 128)
        if let defaults {
            if let algorithm = SamplerAlgorithm(rawValue: defaults.sampler) { parameters.sampler = algorithm }
            parameters.steps = defaults.steps
            parameters.temperature = Float(defaults.temperature)
            parameters.topP = defaults.topP > 0 && defaults.topP < 1 ? Float(defaults.topP) : nil
            if let length = Self.number(defaults.options?["block_length"]), length >= 1, length <= Double(Canvas.maximumLength) {
                parameters.blockLength = Int(length)
            }
            if let scale = Self.number(defaults.options?["cfg_scale"]), scale.isFinite, scale >= 0 {
                parameters.guidanceScale = Float(scale)
            }
        }
        return parameters
    }

    /// A sampler option's numeric value (JSON integers and other numbers alike).
    static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .integer(let integer)?: Double(integer)
        case .number(let number)?: number
        default: nil
        }
    }

    /// The file's defaults with another sampler: the settings that sampler does not take (a top-p for
    /// the confidence and LLaDA samplers, a block length for the DiffuLLaMA ones, guidance outside
    /// LLaDA's) are dropped rather than refused, so that choosing a sampler never fails on a default.
    public func defaultParameters(sampler: SamplerAlgorithm?) -> GenerationParameters {
        var parameters = defaultParameters
        guard let sampler, sampler != parameters.sampler else { return parameters }
        parameters.sampler = sampler
        if !sampler.acceptsTopP { parameters.topP = nil }
        if !sampler.acceptsBlockLength { parameters.blockLength = nil }
        if !sampler.acceptsGuidanceScale { parameters.guidanceScale = 0 }
        return parameters
    }

    /// The canvas for a prompt: tokens, fixed flags.
    public func canvas(for prompt: Prompt, length: Int) throws -> Canvas {
        let bos = diffusion.bosTokenID.map(Int32.init) ?? tokenizer.specialTokens.bos
        switch prompt {
        case .none:
            if diffusion.shiftLogits, let bos { return try Canvas.prefix(prompt: [bos], generationLength: length) }
            return try Canvas.unconditional(length: length)
        case .text(let text):
            let ids = tokenizer.encode(text, addSpecialTokens: true)
            guard !ids.isEmpty else { throw DiffuError.invalidRequest("the prompt encodes to no tokens") }
            return try Canvas.prefix(prompt: ids, generationLength: length)
        case .tokens(let ids):
            guard !ids.isEmpty else { throw DiffuError.invalidRequest("empty prompt") }
            return try Canvas.prefix(prompt: ids, generationLength: length)
        case .infill(let prefixText, let suffixText):
            let prefix = tokenizer.encode(prefixText, addSpecialTokens: true)
            let suffix = tokenizer.encode(suffixText, addSpecialTokens: false)
            return try Canvas.infill(prefix: prefix, middleLength: length, suffix: suffix)
        case .instruction(let source):
            guard let bos, let separator = diffusion.sepTokenID.map(Int32.init) else {
                throw DiffuError.invalidRequest("the instruction layout needs BOS and SEP token ids, which this model does not define")
            }
            let ids = tokenizer.encode(source, addSpecialTokens: false)
            return try Canvas.instruction(beginToken: bos, source: ids, separatorToken: separator, targetLength: length)
        case .chat(let messages):
            let text = try ChatTemplate.render(messages, template: diffusion.chatTemplate ?? tokenizer.chatTemplate)
            let ids = tokenizer.encode(text, addSpecialTokens: false, parseSpecial: true)
            return try Canvas.prefix(prompt: ids, generationLength: length)
        }
    }

    /// The sampler parameters for a generation (mask id and shift rule from the file). Temperature 0
    /// selects the greedy variant of the confidence sampler (the reference's `gsm=True`); the other
    /// samplers take the argmax at temperature 0 themselves.
    public func samplingParameters(_ parameters: GenerationParameters) -> SamplingParameters {
        if parameters.autoregressive {
            return .autoregressive(maskToken: maskToken, temperature: parameters.temperature, topP: parameters.topP,
                                   topK: parameters.topK)
        }
        return SamplingParameters(
            algorithm: parameters.sampler, maskToken: maskToken, steps: parameters.steps,
            temperature: parameters.temperature, topP: parameters.topP, topK: parameters.topK,
            greedy: parameters.sampler.acceptsGreedy && parameters.temperature == 0, algorithmTemperature: parameters.algorithmTemperature,
            blockLength: parameters.blockLength, confidenceThreshold: parameters.confidenceThreshold,
            shiftLogits: diffusion.shiftLogits, causal: parameters.causal, guidanceScale: parameters.guidanceScale)
    }

    /// Generates synchronously on the calling thread: the core under ``generate(_:parameters:)`` for
    /// callers that do not use Swift concurrency.
    ///
    /// - Parameters:
    ///   - prompt: what to condition on.
    ///   - parameters: sampler settings, length, threads.
    ///   - onStep: called after every step, in order; return `false` to stop (the result then holds the
    ///     canvas as it stands and ``DiffuError/cancelled`` is not thrown).
    public func generateSynchronously(_ prompt: Prompt, parameters: GenerationParameters,
                                      onStep: ((GenerationStep) -> Bool)? = nil) throws -> GenerationResult {
        guard parameters.length >= 1 else { throw DiffuError.invalidRequest("length must be at least 1 (got \(parameters.length))") }
        guard parameters.threads >= 1 else { throw DiffuError.invalidRequest("threads must be at least 1 (got \(parameters.threads))") }
        guard !parameters.stopSequences.contains("") else { throw DiffuError.invalidRequest("a stop sequence is empty") }
        let stops = stopSequences(for: prompt, parameters: parameters)
        let canvas = try canvas(for: prompt, length: parameters.length)
        if let limit = configuration.learnedPositionLimit, canvas.count > limit {
            throw DiffuError.invalidRequest("prompt + length = \(canvas.count) tokens exceeds the model's \(configuration.maximumPositions) positions")
        }
        let sampler = try DiffusionSampler(parameters: samplingParameters(parameters))
        let provider: any LogitsProvider = parameters.cache == .none || parameters.autoregressive
            ? ModelLogitsProvider(model: self, threads: parameters.threads)
            : CachingModelLogitsProvider(model: self, threads: parameters.threads, mode: parameters.cache)
        var random = SeededRandomSource(seed: parameters.seed)
        let generated = canvas.generatedPositions
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        let result = try sampler.generate(canvas: canvas, provider: provider, random: &random) { step in
            guard let onStep else { return .proceed }
            let text = parameters.decodeSteps
                ? self.tokenizer.decode(generated.map { step.tokens[$0] }.filter { $0 != self.maskToken })
                : nil
            let event = GenerationStep(index: step.index, plannedSteps: step.plannedSteps, tokens: step.tokens,
                                       revealed: step.revealed, generatedPositions: generated,
                                       remainingMasks: step.remainingMasks, text: text, elapsed: elapsed())
            return onStep(event) ? .proceed : .stop
        }
        let tokens = result.generatedTokens
        let answer = finishedText(tokens, stopSequences: stops)
        return GenerationResult(tokens: result.tokens, generatedPositions: result.generatedPositions, generatedTokens: tokens,
                                text: answer.text, finishReason: answer.reason, answerTokenCount: answer.tokenCount,
                                steps: result.steps, forwardPasses: result.forwardPasses, seconds: elapsed())
    }

    /// Generates asynchronously: a stream of one ``GenerationEvent/step(_:)`` per denoising step and a
    /// final ``GenerationEvent/finished(_:)``.
    ///
    /// The compute runs on a dedicated thread, off Swift's cooperative pool. When the consumer stops
    /// iterating (or its task is cancelled) the generation stops between two steps and the stream ends
    /// with ``DiffuError/cancelled``.
    public func generate(_ prompt: Prompt, parameters: GenerationParameters) -> AsyncThrowingStream<GenerationEvent, Error> {
        AsyncThrowingStream { continuation in
            let flag = CancellationFlag()
            continuation.onTermination = { _ in flag.cancel() }
            let thread = Thread { [self] in
                do {
                    let result = try self.generateSynchronously(prompt, parameters: parameters) { step in
                        if flag.isCancelled { return false }
                        continuation.yield(.step(step))
                        return !flag.isCancelled
                    }
                    if flag.isCancelled {
                        continuation.finish(throwing: DiffuError.cancelled)
                    } else {
                        continuation.yield(.finished(result))
                        continuation.finish()
                    }
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
    }
}

/// A thread-safe one-way flag.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false

    var isCancelled: Bool { lock.withLock { cancelled } }
    func cancel() { lock.withLock { cancelled = true } }
}

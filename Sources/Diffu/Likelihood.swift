import DiffuSamplers
import Foundation

/// How to estimate a likelihood.
public struct LikelihoodParameters: Sendable, Equatable {
    /// Monte Carlo samples of the diffusion bound (ignored by the autoregressive value). The default,
    /// 128, is LLaDA's `mc_num` (ML-GSAI/LLaDA `get_log_likelihood.py`: "128 Monte Carlo samples are
    /// adequate to produce stable results").
    public var samples: Int
    /// Seed of the draws (times and masks); the same seed gives the same estimate.
    public var seed: UInt64
    /// The exact autoregressive value (causal attention, next-token cross-entropy) instead of the bound.
    public var autoregressive: Bool
    /// Worker threads for the kernels.
    public var threads: Int
    /// Scores a sequence longer than the model's context in consecutive windows of at most this many
    /// scored tokens, each given the context-length tokens right before it as its (unscored) context;
    /// the windows' NLLs add up, one generator runs through them in order. `nil`: one window.
    public var window: Int?

    /// Creates parameters.
    public init(samples: Int = 128, seed: UInt64 = 0, autoregressive: Bool = false, threads: Int = DiffuModel.defaultThreadCount,
                window: Int? = nil) {
        self.samples = samples
        self.seed = seed
        self.autoregressive = autoregressive
        self.threads = threads
        self.window = window
    }
}

/// How ``DiffuModel/score(context:choices:parameters:ranking:)`` orders its choices.
public enum ChoiceRanking: String, Sendable, CaseIterable {
    /// Lowest total negative log-likelihood of the continuation first: the conditional log-likelihood
    /// that LLaDA's evaluation returns (`get_log_likelihood`, the sum over the answer's tokens) and that
    /// lm-evaluation-harness compares for multiple-choice `acc`.
    case total
    /// Lowest negative log-likelihood per continuation token first (length-normalised). The DiffuLLaMA
    /// paper's own scorer (HKUNLP/DiffuLLaMA `trainer.py::eval_forward`, used by `eval-diffugpt.py` /
    /// `eval-diffullama.py` for HellaSwag, PIQA, WinoGrande, SIQA) is length-normalised too, but is not
    /// the bound: it averages the *unweighted* cross-entropy per masked token over T passes at fixed
    /// rates t/T (t = T … 1) and takes the lowest. This ranking uses the (1/t-weighted) bound per token.
    case perToken = "per-token"
}

/// The score of one choice of ``DiffuModel/score(context:choices:parameters:ranking:)``.
public struct ChoiceScore: Sendable, Equatable {
    /// The choice's index in the request.
    public let index: Int
    /// The choice as given.
    public let text: String
    /// The estimate over the choice's tokens given the context.
    public let estimate: LikelihoodEstimate
}

/// A likelihood estimate of a text with the time it took.
public struct LikelihoodResult: Sendable, Equatable {
    /// The estimate.
    public let estimate: LikelihoodEstimate
    /// Tokens of the whole sequence (context included).
    public let sequenceTokens: Int
    /// Windows scored (1 without ``LikelihoodParameters/window``).
    public let windows: Int
    /// Wall-clock seconds.
    public let seconds: Double
}

extension DiffuModel {
    /// The likelihood estimator for this model's mask id, shift rule and positions.
    public var likelihoodEstimator: LikelihoodEstimator {
        LikelihoodEstimator(maskToken: maskToken, shiftLogits: diffusion.shiftLogits,
                            maximumPositions: configuration.maximumPositions)
    }

    /// The beginning-of-sequence id (the file's, else the tokenizer's).
    var beginningOfSequence: Int32? { diffusion.bosTokenID.map(Int32.init) ?? tokenizer.specialTokens.bos }

    /// The token sequence a text is scored on: the text's tokens (special tokens as the tokenizer adds
    /// them) with a leading BOS as unscored context. When the model shifts and the tokenizer adds no
    /// BOS, one is prepended (as lm-evaluation-harness's rolling log-likelihood prepends the
    /// end-of-text token), so the first text token has a predicting row; without any BOS the first
    /// token is the context.
    ///
    /// - Returns: the tokens and how many leading ones are context.
    public func likelihoodTokens(text: String) -> (tokens: [Int32], contextLength: Int) {
        var tokens = tokenizer.encode(text, addSpecialTokens: true)
        let bos = beginningOfSequence
        if let bos, tokens.first == bos { return (tokens, 1) }
        if let bos, diffusion.shiftLogits, !tokens.isEmpty {
            tokens.insert(bos, at: 0)
            return (tokens, 1)
        }
        return (tokens, diffusion.shiftLogits ? 1 : 0)
    }

    /// The diffusion likelihood bound (or, with ``LikelihoodParameters/autoregressive``, the exact AR
    /// value) of a text, per ``LikelihoodEstimator``, on the tokens of ``likelihoodTokens(text:)`` (for
    /// the AR value of a model that neither shifts nor has a BOS, the first token is context too).
    ///
    /// - Throws: ``LikelihoodError`` (empty text, too long, bad sample count, non-finite logits),
    ///   ``DiffuError`` for bad thread counts.
    public func likelihood(text: String, parameters: LikelihoodParameters) throws -> LikelihoodResult {
        let (tokens, textContext) = likelihoodTokens(text: text)
        // The AR value needs a predicting row for its first token: position 0 is context then too.
        let contextLength = parameters.autoregressive ? max(textContext, 1) : textContext
        guard tokens.count > contextLength else { throw LikelihoodError.emptyText("the text") }
        return try likelihood(tokens: tokens, contextLength: contextLength, parameters: parameters)
    }

    /// The likelihood of `tokens[contextLength...]` given `tokens[..<contextLength]` (context never
    /// masked nor scored), in windows when ``LikelihoodParameters/window`` is set.
    public func likelihood(tokens: [Int32], contextLength: Int, parameters: LikelihoodParameters) throws -> LikelihoodResult {
        guard parameters.threads >= 1 else { throw DiffuError.invalidRequest("threads must be at least 1 (got \(parameters.threads))") }
        if let window = parameters.window, window < 1 { throw DiffuError.invalidRequest("window must be at least 1 (got \(window))") }
        guard contextLength >= 0, contextLength <= tokens.count else {
            throw LikelihoodError.invalidContextLength(contextLength: contextLength, tokens: tokens.count)
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let provider = ModelLogitsProvider(model: self, threads: parameters.threads)
        var random = SeededRandomSource(seed: parameters.seed)
        var parts: [LikelihoodEstimate] = []
        for window in Self.windows(count: tokens.count, contextLength: contextLength, window: parameters.window) {
            let slice = Array(tokens[(window.lowerBound - contextLength)..<window.upperBound])
            parts.append(try estimate(tokens: slice, contextLength: contextLength, parameters: parameters, random: &random,
                                      provider: provider))
        }
        return LikelihoodResult(estimate: LikelihoodEstimate.combining(parts), sequenceTokens: tokens.count, windows: parts.count,
                                seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// The scored ranges of the windows: consecutive, each at most `window` long, covering
    /// `contextLength..<count` (one range without a window; an empty one when nothing is scored, so that
    /// the estimator names the fault).
    static func windows(count: Int, contextLength: Int, window: Int?) -> [Range<Int>] {
        guard let window, count > contextLength else { return [contextLength..<count] }
        return stride(from: contextLength, to: count, by: window).map { $0..<min($0 + window, count) }
    }

    private func estimate(tokens: [Int32], contextLength: Int, parameters: LikelihoodParameters,
                          random: inout SeededRandomSource, provider: ModelLogitsProvider) throws -> LikelihoodEstimate {
        if parameters.autoregressive {
            return try likelihoodEstimator.autoregressive(tokens: tokens, contextLength: contextLength, provider: provider)
        }
        return try likelihoodEstimator.diffusionBound(tokens: tokens, contextLength: contextLength, samples: parameters.samples,
                                                      random: &random, provider: provider)
    }

    /// The token ids of a scoring context: the text's tokens with special tokens as the tokenizer adds
    /// them (the official evaluation's `tokenizer.encode(query)`); an empty context of a shifting model
    /// becomes the BOS alone.
    public func contextTokens(_ context: String) throws -> [Int32] {
        let tokens = tokenizer.encode(context, addSpecialTokens: true)
        if tokens.isEmpty, diffusion.shiftLogits {
            guard let bos = beginningOfSequence else { throw LikelihoodError.emptyText("the context (the shift rule needs one token)") }
            return [bos]
        }
        return tokens
    }

    /// Scores continuations of a context by their conditional likelihood: each sequence is
    /// `context + choice` (the choice tokenized on its own without special tokens, as the official
    /// evaluation concatenates `tokenizer.encode(query) + tokenizer.encode(choice)`); the context is never
    /// masked nor scored, only the choice's tokens are. Every choice uses a fresh generator with the same
    /// seed (common random numbers: choices of equal length get the same masks).
    ///
    /// - Returns: one score per choice, best first by `ranking` (ties keep the request order).
    /// - Throws: ``LikelihoodError`` (no choices, a choice with no tokens, too long, …).
    public func score(context: String, choices: [String], parameters: LikelihoodParameters,
                      ranking: ChoiceRanking = .total) throws -> [ChoiceScore] {
        guard !choices.isEmpty else { throw LikelihoodError.noChoices }
        let contextIDs = try contextTokens(context)
        let labelled = choices.map { (text: $0, tokens: tokenizer.encode($0, addSpecialTokens: false)) }
        return try score(contextTokens: contextIDs, choices: labelled, parameters: parameters, ranking: ranking)
    }

    /// ``score(context:choices:parameters:ranking:)`` on token ids: each choice's ``ChoiceScore/text`` is
    /// its tokens decoded.
    public func score(contextTokens: [Int32], choiceTokens: [[Int32]], parameters: LikelihoodParameters,
                      ranking: ChoiceRanking = .total) throws -> [ChoiceScore] {
        let labelled = choiceTokens.map { (text: tokenizer.decode($0), tokens: $0) }
        return try score(contextTokens: contextTokens, choices: labelled, parameters: parameters, ranking: ranking)
    }

    private func score(contextTokens: [Int32], choices: [(text: String, tokens: [Int32])], parameters: LikelihoodParameters,
                       ranking: ChoiceRanking) throws -> [ChoiceScore] {
        guard !choices.isEmpty else { throw LikelihoodError.noChoices }
        var scores: [ChoiceScore] = []
        for (index, choice) in choices.enumerated() {
            guard !choice.tokens.isEmpty else { throw LikelihoodError.emptyText("choice \(index + 1)") }
            let result = try likelihood(tokens: contextTokens + choice.tokens, contextLength: contextTokens.count,
                                        parameters: parameters)
            scores.append(ChoiceScore(index: index, text: choice.text, estimate: result.estimate))
        }
        return Self.ranked(scores, by: ranking)
    }

    /// `scores` best first by `ranking`; ties keep the request order.
    public static func ranked(_ scores: [ChoiceScore], by ranking: ChoiceRanking) -> [ChoiceScore] {
        func key(_ score: ChoiceScore) -> Double {
            ranking == .total ? score.estimate.negativeLogLikelihood : score.estimate.negativeLogLikelihoodPerToken
        }
        return scores.sorted { key($0) != key($1) ? key($0) < key($1) : $0.index < $1.index }
    }
}

import Foundation

/// Errors of likelihood evaluation; each names its fault.
public enum LikelihoodError: Error, Equatable, CustomStringConvertible {
    /// Nothing to score: the named text (or choice) gives no scored token.
    case emptyText(String)
    /// The sequence is longer than the model's positions.
    case sequenceTooLong(tokens: Int, limit: Int)
    /// The Monte Carlo sample count is not in `1...LikelihoodEstimator.maximumSamples`.
    case invalidSampleCount(Int)
    /// The context length is not in `0..<tokens.count`, or is 0 where the shift rule needs a first
    /// (unscored) token.
    case invalidContextLength(contextLength: Int, tokens: Int)
    /// A token id outside the model's vocabulary.
    case tokenOutOfVocabulary(token: Int32, vocabularySize: Int)
    /// The model produced a NaN or infinite logit in the row at this position.
    case nonFiniteLogits(position: Int)
    /// Scoring was asked for with no choice.
    case noChoices

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .emptyText(let what): "\(what) gives no token to score"
        case .sequenceTooLong(let tokens, let limit): "the sequence has \(tokens) tokens, more than the model's \(limit) positions"
        case .invalidSampleCount(let count):
            "the sample count must be in 1...\(LikelihoodEstimator.maximumSamples) (got \(count))"
        case .invalidContextLength(let context, let tokens): "context length \(context) is invalid for \(tokens) tokens"
        case .tokenOutOfVocabulary(let token, let size): "token \(token) is outside the vocabulary of \(size)"
        case .nonFiniteLogits(let position): "the model produced a non-finite logit in row \(position)"
        case .noChoices: "no choice to score"
        }
    }
}

/// A likelihood estimate of the scored tokens of one sequence, in nats.
public struct LikelihoodEstimate: Sendable, Equatable {
    /// The negative log-likelihood (for the diffusion bound: its Monte Carlo estimate) summed over the
    /// scored tokens, in nats.
    public let negativeLogLikelihood: Double
    /// Tokens scored (the sequence minus its context).
    public let scoredTokens: Int
    /// Monte Carlo samples averaged; 0 for the exact autoregressive value.
    public let samples: Int
    /// Standard error of ``negativeLogLikelihoodPerToken`` over the samples (0 with fewer than two
    /// samples, and for the autoregressive value).
    public let standardErrorPerToken: Double
    /// Forward passes run (samples that masked no token need none).
    public let forwardPasses: Int

    /// Creates an estimate.
    public init(negativeLogLikelihood: Double, scoredTokens: Int, samples: Int, standardErrorPerToken: Double,
                forwardPasses: Int) {
        self.negativeLogLikelihood = negativeLogLikelihood
        self.scoredTokens = scoredTokens
        self.samples = samples
        self.standardErrorPerToken = standardErrorPerToken
        self.forwardPasses = forwardPasses
    }

    /// Nats per scored token.
    public var negativeLogLikelihoodPerToken: Double { negativeLogLikelihood / Double(scoredTokens) }
    /// `exp` of ``negativeLogLikelihoodPerToken``.
    public var perplexity: Double { exp(negativeLogLikelihoodPerToken) }

    /// The estimate of the concatenated scored tokens of independent parts: NLLs, tokens and forward
    /// passes add up; the per-token standard error is √Σ (Nᵢ/N)²·seᵢ². One part is returned as is.
    public static func combining(_ parts: [LikelihoodEstimate]) -> LikelihoodEstimate {
        guard parts.count != 1 else { return parts[0] }
        let tokens = parts.reduce(0) { $0 + $1.scoredTokens }
        let variance = parts.reduce(0.0) {
            let share = Double($1.scoredTokens) / Double(tokens)
            return $0 + share * share * $1.standardErrorPerToken * $1.standardErrorPerToken
        }
        return LikelihoodEstimate(negativeLogLikelihood: parts.reduce(0) { $0 + $1.negativeLogLikelihood }, scoredTokens: tokens,
                                  samples: parts.first?.samples ?? 0, standardErrorPerToken: variance.squareRoot(),
                                  forwardPasses: parts.reduce(0) { $0 + $1.forwardPasses })
    }
}

/// One Monte Carlo draw of the diffusion bound: the time and the masked positions.
public struct LikelihoodMaskDraw: Sendable, Equatable {
    /// The masking time t in `[ε, 1)`.
    public let time: Double
    /// The masked positions of the sequence, ascending (never inside the context).
    public let maskedPositions: [Int]
}

/// The diffusion likelihood bound (Gong et al. 2024, Eq. 7, the training loss of the adaptation) and
/// the autoregressive negative log-likelihood of a token sequence, over any ``LogitsProvider``.
///
/// A sequence is `context + scored`: the first `contextLength` tokens are never masked and never
/// scored; the rest are. Per Monte Carlo sample (in this order of draws from the ``RandomSource``):
/// 1. `u = nextUniform()`, `t = (1 − ε)·u + ε` with ε = ``timeEpsilon`` = 10⁻³ — the draw of the
///    official trainer (HKUNLP/DiffuLLaMA `LLaMA-Factory/src/llamafactory/train/ddm/trainer.py`,
///    `inner_forward`: `sampling_eps = 1e-3; t = (1 - sampling_eps) * torch.rand(b) + sampling_eps`,
///    linear schedule σ(t) = t, weight `rate_noise(t) = 1/t`);
/// 2. for each scored position in ascending order, `v = nextUniform()`; the position is masked when
///    `v < t` (the trainer's `transition`: `rand < move_chance`). No mask is forced, as in the trainer:
///    a sample that masks nothing contributes 0 (its exact term) and costs no forward pass;
/// 3. one bidirectional forward of the sequence with the masked positions set to the mask id; the
///    cross-entropy of the true token at each masked position p is read from row p − 1 when the model
///    shifts (the trainer's `logits[:, :-1]` against `x[:, 1:]`), from row p otherwise (LLaDA);
/// 4. the sample's value is `(1/t)·Σ CE / N`, N = the number of scored tokens.
/// The estimate is the mean of the sample values (times N for the total). Its expectation bounds
/// `−log p(scored | context) / N` from above. Masked positions are the drawn ones: a true token that
/// happens to equal the mask id is not counted as masked (the official code's `x_t == mask_id` would).
///
/// LLaDA's evaluation (ML-GSAI/LLaDA `get_log_likelihood.py`, `forward_process`) estimates the same bound
/// with another draw — exactly k masked tokens, k uniform in 1…N and stratified over its batch, weight
/// N/k — so its numbers agree with these in expectation, not sample by sample.
///
/// With the same random source state the draws, and so the masks, are the same on every platform.
public struct LikelihoodEstimator: Sendable {
    /// The lower end ε of the time draw (the official trainer's `sampling_eps`).
    public static let timeEpsilon = 1e-3
    /// The largest sample count accepted.
    public static let maximumSamples = 1 << 20

    /// The mask token id.
    public let maskToken: Int32
    /// Whether the logits at position i predict token i + 1 (DiffuGPT, DiffuLLaMA, Dream) or token i (LLaDA).
    public let shiftLogits: Bool
    /// The longest sequence accepted.
    public let maximumPositions: Int

    /// Creates an estimator for a model's mask id, shift rule and positions.
    public init(maskToken: Int32, shiftLogits: Bool, maximumPositions: Int) {
        self.maskToken = maskToken
        self.shiftLogits = shiftLogits
        self.maximumPositions = maximumPositions
    }

    /// Draws one sample's time and masks over the positions `contextLength..<length` (steps 1–2 above).
    public static func drawMask(length: Int, contextLength: Int, random: inout some RandomSource) -> LikelihoodMaskDraw {
        let time = (1 - timeEpsilon) * random.nextUniform() + timeEpsilon
        var masked: [Int] = []
        for position in contextLength..<length where random.nextUniform() < time {
            masked.append(position)
        }
        return LikelihoodMaskDraw(time: time, maskedPositions: masked)
    }

    /// The Monte Carlo diffusion bound of `tokens[contextLength...]` given `tokens[..<contextLength]`.
    ///
    /// - Parameters:
    ///   - tokens: context then scored tokens.
    ///   - contextLength: leading tokens that are never masked nor scored (≥ 1 when the model shifts:
    ///     nothing predicts position 0).
    ///   - samples: Monte Carlo samples, `1...maximumSamples`.
    ///   - random: the draws (see the type's documentation for their order).
    ///   - provider: the model; asked for bidirectional logits of the masked rows only.
    /// - Throws: ``LikelihoodError`` for bad input or non-finite logits; the provider's errors.
    public func diffusionBound(tokens: [Int32], contextLength: Int, samples: Int, random: inout some RandomSource,
                               provider: any LogitsProvider) throws -> LikelihoodEstimate {
        guard samples >= 1, samples <= Self.maximumSamples else { throw LikelihoodError.invalidSampleCount(samples) }
        try validate(tokens: tokens, contextLength: contextLength, firstPredictedPosition: shiftLogits ? 1 : 0,
                     vocabularySize: provider.vocabularySize)
        let scored = tokens.count - contextLength
        var values: [Double] = []
        values.reserveCapacity(samples)
        var forwardPasses = 0
        for _ in 0..<samples {
            let draw = Self.drawMask(length: tokens.count, contextLength: contextLength, random: &random)
            guard !draw.maskedPositions.isEmpty else {
                values.append(0)
                continue
            }
            var noisy = tokens
            for position in draw.maskedPositions { noisy[position] = maskToken }
            let rows = draw.maskedPositions.map { shiftLogits ? $0 - 1 : $0 }
            let logits = try provider.logits(tokens: noisy, positions: rows, causal: false)
            forwardPasses += 1
            let crossEntropy = try Self.crossEntropySum(logits: logits, rows: rows, targets: draw.maskedPositions.map { tokens[$0] },
                                                        vocabularySize: provider.vocabularySize)
            values.append(crossEntropy / draw.time / Double(scored))
        }
        let (mean, standardError) = Self.meanAndStandardError(values)
        return LikelihoodEstimate(negativeLogLikelihood: mean * Double(scored), scoredTokens: scored, samples: samples,
                                  standardErrorPerToken: standardError, forwardPasses: forwardPasses)
    }

    /// The exact autoregressive negative log-likelihood of `tokens[contextLength...]`: one causal forward,
    /// row p − 1 predicting token p (next-token cross-entropy), whatever the model's diffusion shift rule.
    ///
    /// - Throws: ``LikelihoodError`` for bad input (`contextLength` must be ≥ 1) or non-finite logits.
    public func autoregressive(tokens: [Int32], contextLength: Int, provider: any LogitsProvider) throws -> LikelihoodEstimate {
        try validate(tokens: tokens, contextLength: contextLength, firstPredictedPosition: 1, vocabularySize: provider.vocabularySize)
        let positions = Array(contextLength..<tokens.count)
        let rows = positions.map { $0 - 1 }
        let logits = try provider.logits(tokens: tokens, positions: rows, causal: true)
        let total = try Self.crossEntropySum(logits: logits, rows: rows, targets: positions.map { tokens[$0] },
                                             vocabularySize: provider.vocabularySize)
        return LikelihoodEstimate(negativeLogLikelihood: total, scoredTokens: positions.count, samples: 0,
                                  standardErrorPerToken: 0, forwardPasses: 1)
    }

    private func validate(tokens: [Int32], contextLength: Int, firstPredictedPosition: Int, vocabularySize: Int) throws {
        guard tokens.count <= maximumPositions else {
            throw LikelihoodError.sequenceTooLong(tokens: tokens.count, limit: maximumPositions)
        }
        guard contextLength >= firstPredictedPosition, contextLength < tokens.count else {
            if contextLength == tokens.count, contextLength >= firstPredictedPosition {
                throw LikelihoodError.emptyText("the sequence after its \(contextLength) context tokens")
            }
            throw LikelihoodError.invalidContextLength(contextLength: contextLength, tokens: tokens.count)
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw LikelihoodError.tokenOutOfVocabulary(token: bad, vocabularySize: vocabularySize)
        }
    }

    /// Σ over rows of `logsumexp(row) − row[target]`, in `Double`; refuses a row with a NaN or infinity.
    static func crossEntropySum(logits: [Float], rows: [Int], targets: [Int32], vocabularySize: Int) throws -> Double {
        var total = 0.0
        for (index, target) in targets.enumerated() {
            let row = logits[(index * vocabularySize)..<((index + 1) * vocabularySize)]
            var maximum = -Double.infinity
            for value in row {
                guard value.isFinite else { throw LikelihoodError.nonFiniteLogits(position: rows[index]) }
                maximum = max(maximum, Double(value))
            }
            var sum = 0.0
            for value in row { sum += exp(Double(value) - maximum) }
            total += maximum + log(sum) - Double(row[row.startIndex + Int(target)])
        }
        return total
    }

    /// The mean and its standard error (sample standard deviation / √n; 0 for one value).
    static func meanAndStandardError(_ values: [Double]) -> (Double, Double) {
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return (mean, 0) }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
        return (mean, (variance / Double(values.count)).squareRoot())
    }
}

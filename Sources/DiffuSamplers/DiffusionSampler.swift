import DiffuKernels
import Foundation

/// What the observer tells the sampler after a step.
public enum SamplerControl: Sendable, Equatable {
    /// Run the next step.
    case proceed
    /// Stop now; the result keeps the mask id at unrevealed positions.
    case stop
}

/// One denoising step, reported to the observer after its forward pass and its reveals.
public struct SamplerStep: Sendable, Equatable {
    /// 0-based step index over the whole generation (one forward pass per step).
    public let index: Int
    /// Steps the schedule plans: an upper bound, since a run (or a block of the block schedule) ends
    /// as soon as no mask is left; `nil` under threshold decoding, where confidence decides.
    public let plannedSteps: Int?
    /// The canvas after this step: committed tokens, and the mask id where still masked.
    public let tokens: [Int32]
    /// Positions revealed (committed) at this step, ascending.
    public let revealed: [Int]
    /// The positions whose masks were candidates at this step (the active block, or the whole
    /// generated span without blocks).
    public let activeBlock: Range<Int>
    /// How many generated positions are still masked after this step.
    public let remainingMasks: Int
}

/// The outcome of a generation.
public struct SamplerResult: Sendable, Equatable {
    /// The final canvas (length L). Fixed positions are unchanged; when the observer stopped the run,
    /// unrevealed positions hold the mask id.
    public let tokens: [Int32]
    /// The generated (initially masked) positions, ascending.
    public let generatedPositions: [Int]
    /// Steps run.
    public let steps: Int
    /// Forward passes requested from the provider (a step whose logits no position needs skips it).
    public let forwardPasses: Int
    /// Whether the observer stopped the run early.
    public let stopped: Bool

    /// The tokens at the generated positions, in order.
    public var generatedTokens: [Int32] { generatedPositions.map { tokens[$0] } }
}

/// The diffusion samplers of DiffuGPT/DiffuLLaMA and Dream over a ``LogitsProvider``.
///
/// The core is synchronous: ``generate(canvas:provider:random:observer:)`` runs the whole schedule,
/// reporting each step to the observer, which can stop it between steps.
///
/// ## Reference semantics
/// Common: fixed positions never change; every generated position starts as the mask token; a
/// committed token is never re-masked (Diffu tracks masked positions by flag, so a proposed token
/// equal to the mask id is committed like any other, as the DiffuLLaMA samplers do); one step is one
/// forward pass; a run ends as soon as no mask is left (the reference's remaining steps are no-ops). With ``SamplingParameters/shiftLogits``
/// the prediction for position j ≥ 1 comes from logits row j−1 (the last row is never needed).
///
/// - **random-keep** (`model.py::generate_samples`): step k = 0…T−1 runs the forward pass, draws one
///   token per still-masked position (logits/temperature → top-p → categorical), then reveals each
///   still-masked position with probability 1/(T−k) (= 1/(t+1) with t = T−1−k); the last step
///   reveals all, i.e. unrevealed positions take the last prediction. Under the shift rule a
///   generated position 0 keeps its input token (`x0 = [x[0], drawn[0…L−2]]`).
/// - **confidence** (`trainer.py::generate_samples`): every step draws (or, greedy, takes the argmax
///   of) every generated position's row — already-decoded positions included — with score = the
///   log-probability of the token; then with t = T−1−k and k' = ⌊N·t/T⌋ (computed in float32 as the
///   reference's tensor arithmetic does) the positions whose score is strictly below the k'-th
///   smallest (0-based) of all L scores (fixed positions scored 1000) stay masked, every other
///   still-masked position is revealed. Position 0 under the shift rule keeps its input token and
///   row 0's score.
/// - **origin / maskgit-plus / topk-margin / entropy** (Dream `_sample`): timesteps
///   `linspace(1, eps, T+1)` in float32 (torch's two-sided fused formula); at step i with t, s the
///   i-th and (i+1)-th timesteps: origin reveals each masked position when a uniform (as float32) is
///   below 1 − s/t and draws its token; the others draw every masked position, score it, and reveal
///   the `Int(M·(1 − s/t))` most confident (M = masked count) or draw that many positions without
///   replacement from softmax(confidence/alg_temp); the last step reveals all. Under the shift rule
///   position 0 uses its own row (Dream's `cat([logits[:, :1], logits[:, :-1]])`).
/// - **Block schedule** (Dream family, ``SamplingParameters/blockLength``): the generated span is cut
///   into consecutive blocks from its first position; the T steps are split over blocks as evenly as
///   possible (earlier blocks get the remainder, at least 1 each — LLaDA's `steps // num_blocks` when
///   it divides); in a block with M masks and S steps, step j reveals `M/S + (j < M % S ? 1 : 0)`
///   positions (LLaDA's `get_num_transfer_tokens`); origin reveals each block mask with probability
///   count/M (llama.cpp), all of them at the block's last step. A block ends as soon as it has no mask.
/// - **low-confidence / random-remask** (LLaDA `generate.py`, `remasking='low_confidence' | 'random'`):
///   the block schedule above (one block without a block length); in a block with M masks and S steps,
///   step j draws a token for every masked position of the block — the argmax of the logits at
///   temperature 0, otherwise the argmax of `exp(logit) / (−log u)^temperature` in Double with one
///   uniform u per vocabulary entry (Gumbel-max, in float64 as the reference) — and reveals the
///   `M/S + (j < M % S ? 1 : 0)` with the highest confidence (ties: lower position first): the softmax
///   probability of the drawn token under the unscaled logits (`low_confidence`), or one uniform per
///   position as float32 (`random`). With ``SamplingParameters/guidanceScale`` s > 0 each step asks for
///   the same rows twice, of the canvas and of a copy whose fixed positions hold the mask id, and uses
///   `uncond + (s + 1)·(cond − uncond)` (float32). The shift rule applies as for Dream (LLaDA itself
///   does not shift). The reference asserts that the block length divides the generated length and
///   the block count divides T; Diffu also accepts a ragged last block and an uneven split.
/// - **Threshold decoding** (``SamplingParameters/confidenceThreshold``): each step reveals every
///   candidate whose confidence exceeds τ, or the most confident one when none does; steps continue
///   until the block (or canvas) has no mask.
///
/// ## Order of random draws
/// random-keep: per step, one categorical per needed row in ascending row order, then one uniform per
/// still-masked position in ascending order (none at the last step). confidence (not greedy): one
/// categorical per needed row, ascending. Dream origin: one uniform per candidate, ascending, then one
/// categorical per revealed candidate, ascending (temperature > 0). Other Dream algorithms: one
/// categorical per candidate, ascending (temperature > 0), then with alg_temp > 0 one categorical per
/// revealed slot over the candidates' weights (index into the ascending candidate list, chosen ones
/// zeroed). Categorical weights are passed over the whole vocabulary (zero where filtered).
/// low-confidence / random-remask: per step, at temperature > 0, one uniform per vocabulary entry for
/// each masked position of the block (positions ascending, entries ascending); then, for
/// random-remask, one uniform per masked position of the block, ascending.
public struct DiffusionSampler: Sendable {
    /// The validated parameters.
    public let parameters: SamplingParameters
    /// Threads for the per-row work (temperature, softmax, filters); the draws themselves are
    /// sequential, so results do not depend on this.
    public let threads: Int

    /// Validates the parameters.
    /// - Parameters:
    ///   - parameters: the sampling parameters.
    ///   - threads: threads for per-row work (default: active processors; values < 1 mean 1).
    public init(parameters: SamplingParameters, threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        try parameters.validate()
        self.parameters = parameters
        self.threads = max(1, threads)
    }

    /// Runs the sampler on `canvas`.
    ///
    /// - Parameters:
    ///   - canvas: the input tokens and the fixed positions.
    ///   - provider: the logits source; asked only for the rows each step needs.
    ///   - random: every random draw comes from here (see the draw order above).
    ///   - observer: called after every step, in order; return ``SamplerControl/stop`` to end the run.
    /// - Throws: ``SamplerError`` for tokens outside the vocabulary or bad logits; rethrows provider
    ///   and observer errors.
    public func generate<Provider: LogitsProvider, Random: RandomSource>(
        canvas: Canvas, provider: Provider, random: inout Random,
        observer: ((SamplerStep) throws -> SamplerControl)? = nil
    ) throws -> SamplerResult {
        let vocabularySize = provider.vocabularySize
        guard vocabularySize >= 1 else { throw SamplerError.invalidVocabularySize(vocabularySize) }
        guard parameters.maskToken >= 0, Int(parameters.maskToken) < vocabularySize else {
            throw SamplerError.maskTokenOutOfVocabulary(token: parameters.maskToken, vocabularySize: vocabularySize)
        }
        guard canvas.tokens.count == canvas.isFixed.count, !canvas.tokens.isEmpty else {
            throw SamplerError.canvasLengthMismatch(tokens: canvas.tokens.count, flags: canvas.isFixed.count)
        }
        for (position, token) in canvas.tokens.enumerated() where token < 0 || Int(token) >= vocabularySize {
            throw SamplerError.tokenOutOfVocabulary(position: position, token: token, vocabularySize: vocabularySize)
        }
        var run = SamplerRun(parameters: parameters, canvas: canvas, vocabularySize: vocabularySize, threads: threads,
                             observer: observer)
        guard !run.generated.isEmpty else { return run.result() }
        switch parameters.algorithm {
        case .randomKeep:
            if parameters.takesArgmax || random.categoricalIsInverseCumulativeOfOneUniform {
                try run.runRandomKeepRevealedRowsOnly(provider: provider, random: &random)
            } else {
                try run.runReference(confidence: false, provider: provider, random: &random)
            }
        case .confidence: try run.runReference(confidence: true, provider: provider, random: &random)
        case .origin: try run.runDream(coinFlips: true, provider: provider, random: &random)
        case .maskgitPlus, .topkMargin, .entropy: try run.runDream(coinFlips: false, provider: provider, random: &random)
        case .lowConfidence: try run.runLLaDA(randomOrder: false, provider: provider, random: &random)
        case .randomRemask: try run.runLLaDA(randomOrder: true, provider: provider, random: &random)
        }
        return run.result()
    }
}

/// Dream's timesteps: `torch.linspace(1, eps, steps + 1)` in float32, reproduced bit for bit
/// (torch computes `start + step·i` for the first half and `end − step·(n−1−i)` for the second, each
/// with one fused multiply-add).
public func dreamTimesteps(steps: Int, epsilon: Double) -> [Float] {
    let count = steps + 1
    let start: Float = 1
    let end = Float(epsilon)
    guard count > 1 else { return [start] }
    let step = (end - start) / Float(count - 1)
    let halfway = count / 2
    return (0..<count).map { index in
        index < halfway ? start.addingProduct(step, Float(index)) : end.addingProduct(-step, Float(count - 1 - index))
    }
}

extension SamplingParameters {
    /// Whether the reference samplers take the argmax instead of drawing: the confidence sampler's `greedy`,
    /// or temperature 0 (greedy for every algorithm).
    var takesArgmax: Bool { greedy || temperature == 0 }
}

/// The mutable state of one generation.
struct SamplerRun {
    let parameters: SamplingParameters
    let input: [Int32]
    let isFixed: [Bool]
    let generated: [Int]
    let vocabularySize: Int
    let threads: Int
    let observer: ((SamplerStep) throws -> SamplerControl)?
    var current: [Int32]
    var masked: [Bool]
    var maskedCount: Int
    var stepIndex = 0
    var forwardPasses = 0
    var stopped = false
    /// The last step's logits arrays (at most ``recycledLimit``: a guided step holds two at once), kept for the next
    /// fetches to write into.
    var recycledLogits: [[Float]] = []
    /// How many handed-back arrays are kept: the most one step holds (LLaDA's guidance: the canvas and its
    /// unconditional twin).
    static let recycledLimit = 2

    init(parameters: SamplingParameters, canvas: Canvas, vocabularySize: Int, threads: Int,
         observer: ((SamplerStep) throws -> SamplerControl)?) {
        self.parameters = parameters
        self.threads = threads
        input = canvas.tokens
        isFixed = canvas.isFixed
        generated = canvas.generatedPositions
        self.vocabularySize = vocabularySize
        self.observer = observer
        current = canvas.tokens
        masked = canvas.isFixed.map { !$0 }
        maskedCount = generated.count
        for position in generated { current[position] = parameters.maskToken }
    }

    func result() -> SamplerResult {
        SamplerResult(tokens: current, generatedPositions: generated, steps: stepIndex,
                      forwardPasses: forwardPasses, stopped: stopped)
    }

    /// The logits row that predicts `position` (Dream's rule for position 0 under the shift).
    func row(for position: Int) -> Int {
        parameters.shiftLogits ? max(position - 1, 0) : position
    }

    /// random-keep's rule: ``row(for:)``, except that under the shift position 0 has no row (it keeps its input token).
    func predictingRow(_ position: Int) -> Int? {
        parameters.shiftLogits && position == 0 ? nil : row(for: position)
    }

    /// Asks the provider for `rows` (ascending, unique) of `tokens` (default: the current canvas) and
    /// checks the size. The array comes from ``recycle(_:)`` when a previous step handed one back (the
    /// provider may write in place).
    mutating func fetch<Provider: LogitsProvider>(_ provider: Provider, rows: [Int], tokens: [Int32]? = nil) throws -> [Float] {
        guard !rows.isEmpty else { return [] }
        let (expected, overflow) = rows.count.multipliedReportingOverflow(by: vocabularySize)
        guard !overflow else { throw SamplerError.invalidLength(rows.count) }
        var logits = recycledLogits.popLast() ?? []
        try provider.logits(tokens: tokens ?? current, positions: rows, causal: parameters.causal, into: &logits)
        guard logits.count == expected else {
            throw SamplerError.logitsCountMismatch(expected: expected, actual: logits.count)
        }
        forwardPasses += 1
        return logits
    }

    /// Hands a step's logits array back for the next ``fetch(_:rows:tokens:)`` to reuse (its storage: a large
    /// fresh array is a fresh mapping whose pages fault in again).
    mutating func recycle(_ logits: inout [Float]) {
        guard logits.capacity > 0 else { return }
        if recycledLogits.count < Self.recycledLimit {
            recycledLogits.append(logits)
            logits = []
        } else if let smallest = recycledLogits.indices.min(by: { recycledLogits[$0].capacity < recycledLogits[$1].capacity }),
                  recycledLogits[smallest].capacity < logits.capacity {
            swap(&logits, &recycledLogits[smallest])
        }
    }

    /// Commits tokens, reports the step, and returns whether to continue.
    mutating func finishStep(revealed: [(position: Int, token: Int32)], plannedSteps: Int?, block: Range<Int>) throws -> Bool {
        for (position, token) in revealed where masked[position] {
            current[position] = token
            masked[position] = false
            maskedCount -= 1
        }
        stepIndex += 1
        guard let observer else { return true }
        let event = SamplerStep(index: stepIndex - 1, plannedSteps: plannedSteps, tokens: current,
                                revealed: revealed.map(\.position).sorted(), activeBlock: block,
                                remainingMasks: maskedCount)
        if try observer(event) == .stop {
            stopped = true
            return false
        }
        return true
    }

    static func announce<Provider: LogitsProvider>(_ provider: Provider, block: Range<Int>, tokens: [Int32]) throws {
        if let caching = provider as? any BlockCachingLogitsProvider {
            try caching.beginBlock(block, tokens: tokens)
        }
    }

    // MARK: DiffuLLaMA samplers

    /// The reference schedule: random-keep, or with `confidence` the confidence ranking.
    mutating func runReference<Provider: LogitsProvider, Random: RandomSource>(confidence: Bool, provider: Provider,
                                                                               random: inout Random) throws {
        let steps = parameters.steps
        let shift = parameters.shiftLogits
        let isConfidence = confidence
        let length = input.count
        let span = generated[0]..<(generated[generated.count - 1] + 1)
        try Self.announce(provider, block: span, tokens: current)
        var prediction = [Int32](repeating: 0, count: length)
        var score = [Float](repeating: 0, count: length)
        var rowToken = [Int32](repeating: 0, count: length)
        var rowScore = [Float](repeating: 0, count: length)
        for step in 0..<steps {
            // Once nothing is masked the reference's remaining steps change nothing: stop.
            if maskedCount == 0 { break }
            // Positions whose prediction this step needs: the still-masked ones (random-keep), or every
            // generated one, since decoded positions take part in the confidence ranking.
            let needed = isConfidence ? generated : generated.filter { masked[$0] }
            var rows: [Int] = []
            rows.reserveCapacity(needed.count)
            for position in needed {
                // Under the shift random-keep's position 0 keeps its input token (no row, score unused).
                guard let row = isConfidence ? row(for: position) : predictingRow(position) else { continue }
                if rows.last != row { rows.append(row) }
            }
            var logits = try fetch(provider, rows: rows)
            let preparer = RowPreparer(temperature: parameters.temperature,
                                       topP: isConfidence ? nil : parameters.topP, topK: nil)
            let prepared = try prepareRows(&logits, rows: rows, vocabularySize: vocabularySize, threads: threads,
                                           preparer: preparer)
            let greedy = parameters.takesArgmax
            logits.withUnsafeBufferPointer { buffer in
                for (slot, row) in rows.enumerated() {
                    let weights = UnsafeBufferPointer(rebasing: buffer[(slot * vocabularySize)..<((slot + 1) * vocabularySize)])
                    let token = greedy ? prepared[slot].argmax : random.nextCategorical(probabilities: weights)
                    rowToken[row] = Int32(token)
                    rowScore[row] = Float(log(Double(weights[token]) / prepared[slot].kept))
                }
            }
            recycle(&logits)
            for position in needed {
                let row = row(for: position)
                prediction[position] = shift && position == 0 ? input[0] : rowToken[row]
                score[position] = rowScore[row]
            }
            var reveal: [Int] = []
            if step == steps - 1 {
                reveal = generated.filter { masked[$0] }
            } else if isConfidence {
                let remainingRatio = Float(Double(steps - 1 - step) / Double(steps))
                let keepMasked = Int(Float(generated.count) * remainingRatio)
                var ranking = [Float](repeating: 1000, count: length)
                for position in generated { ranking[position] = score[position] }
                ranking.sort()
                let cutoff = ranking[min(keepMasked, length - 1)]
                reveal = generated.filter { masked[$0] && !(score[$0] < cutoff) }
            } else {
                let probability = Float(1.0 / Double(steps - step))
                for position in generated where masked[position] {
                    if Float(random.nextUniform()) < probability { reveal.append(position) }
                }
            }
            let proceed = try finishStep(revealed: reveal.map { ($0, prediction[$0]) }, plannedSteps: steps, block: span)
            if !proceed { return }
        }
    }

    /// random-keep with the same draws and results as ``runReference(confidence:provider:random:)``, but
    /// logits only for the positions a step reveals. The reference draws a token for every masked
    /// position and then keeps each with probability 1 / (steps left), independently of the tokens; with
    /// a source whose categorical is the inverse CDF of one uniform (or greedy, with no categorical at
    /// all) the step takes the categoricals' uniforms first, in the reference's order, then the keep
    /// uniforms, and only then asks for the rows of the kept positions: a step that keeps none runs no
    /// forward pass, and the others run the output head and the row work for a few rows instead of every
    /// masked one.
    mutating func runRandomKeepRevealedRowsOnly<Provider: LogitsProvider, Random: RandomSource>(
        provider: Provider, random: inout Random
    ) throws {
        let steps = parameters.steps
        let greedy = parameters.takesArgmax
        let span = generated[0]..<(generated[generated.count - 1] + 1)
        try Self.announce(provider, block: span, tokens: current)
        let preparer = RowPreparer(temperature: parameters.temperature, topP: parameters.topP, topK: nil)
        var categoricalUniform = [Double](repeating: 0, count: input.count)
        for step in 0..<steps {
            if maskedCount == 0 { break }
            let stillMasked = generated.filter { masked[$0] }
            // The reference's categoricals: one per predicting row of a masked position, ascending.
            if !greedy {
                for position in stillMasked { if let row = predictingRow(position) { categoricalUniform[row] = random.nextUniform() } }
            }
            var reveal: [Int] = []
            if step == steps - 1 {
                reveal = stillMasked
            } else {
                let probability = Float(1.0 / Double(steps - step))
                for position in stillMasked where Float(random.nextUniform()) < probability { reveal.append(position) }
            }
            let rows = reveal.compactMap(predictingRow)
            var logits = try fetch(provider, rows: rows)
            let prepared = try prepareRows(&logits, rows: rows, vocabularySize: vocabularySize, threads: threads,
                                           preparer: preparer)
            // Rows are the revealed positions' own, in order (position 0 under the shift has none: its input token).
            var revealed: [(position: Int, token: Int32)] = []
            revealed.reserveCapacity(reveal.count)
            logits.withUnsafeBufferPointer { buffer in
                var slot = 0
                for position in reveal {
                    guard let row = predictingRow(position) else { revealed.append((position, input[0])); continue }
                    let weights = UnsafeBufferPointer(rebasing: buffer[(slot * vocabularySize)..<((slot + 1) * vocabularySize)])
                    let drawn = greedy ? prepared[slot].argmax
                        : Random.inverseCumulativeIndex(uniform: categoricalUniform[row], weights: weights)
                    revealed.append((position, Int32(drawn)))
                    slot += 1
                }
            }
            recycle(&logits)
            if !(try finishStep(revealed: revealed, plannedSteps: steps, block: span)) { return }
        }
    }

    // MARK: Dream family

    /// The block schedule: consecutive blocks of ``SamplingParameters/blockLength`` from the first
    /// generated position to the last (one block without a block length), and the steps of each (T split
    /// evenly, earlier blocks taking the remainder, at least 1 each).
    func blockSchedule() -> (blocks: [Range<Int>], steps: [Int]) {
        let first = generated[0]
        let end = generated[generated.count - 1] + 1
        guard let blockLength = parameters.blockLength else { return ([first..<end], [parameters.steps]) }
        var blocks: [Range<Int>] = []
        var start = first
        while start < end {
            let (next, overflow) = start.addingReportingOverflow(blockLength)
            let stop = overflow ? end : min(next, end)
            blocks.append(start..<stop)
            start = stop
        }
        let base = parameters.steps / blocks.count
        let remainder = parameters.steps % blocks.count
        return (blocks, blocks.indices.map { max(1, base + ($0 < remainder ? 1 : 0)) })
    }

    /// LLaDA's `get_num_transfer_tokens`: of a block's `masks`, step `step` of `steps` reveals
    /// `masks / steps`, one more for the first `masks % steps` steps.
    static func transferCount(masks: Int, steps: Int, step: Int) -> Int {
        masks / steps + (step < masks % steps ? 1 : 0)
    }

    /// Dream's schedule: with `coinFlips` (`origin`) each candidate is revealed with the step's transfer
    /// probability; otherwise the most confident ones (by the algorithm's confidence) are.
    mutating func runDream<Provider: LogitsProvider, Random: RandomSource>(coinFlips: Bool, provider: Provider,
                                                                           random: inout Random) throws {
        let (blocks, stepsPerBlock) = blockSchedule()
        let threshold = parameters.confidenceThreshold
        let planned: Int? = threshold == nil
            ? zip(blocks, stepsPerBlock).reduce(0) { total, pair in
                pair.0.contains(where: { masked[$0] }) ? total + pair.1 : total
            }
            : nil
        let timesteps = parameters.blockLength == nil ? dreamTimesteps(steps: parameters.steps, epsilon: parameters.epsilon) : []

        for (blockIndex, block) in blocks.enumerated() {
            let blockMasks = block.filter { masked[$0] }.count
            guard blockMasks > 0 else { continue }
            try Self.announce(provider, block: block, tokens: current)
            let blockSteps = stepsPerBlock[blockIndex]
            var stepInBlock = 0
            while true {
                let candidates = block.filter { masked[$0] }
                if candidates.isEmpty { break }
                if threshold == nil && stepInBlock >= blockSteps { break }
                let isLast = threshold == nil && stepInBlock == blockSteps - 1
                // Dream's timestep fraction 1 − s/t, or the block schedule's count for this step.
                var transferFraction: Float = 1
                var scheduledCount = candidates.count
                if threshold != nil {
                    // Threshold decoding ignores the schedule: confidence decides the count.
                } else if parameters.blockLength == nil {
                    if !isLast {
                        transferFraction = 1 - timesteps[stepInBlock + 1] / timesteps[stepInBlock]
                        scheduledCount = Int(Float(candidates.count) * transferFraction)
                    }
                } else if !isLast {
                    scheduledCount = Self.transferCount(masks: blockMasks, steps: blockSteps, step: stepInBlock)
                    transferFraction = Float(scheduledCount) / Float(candidates.count)
                }
                var reveal: [(position: Int, token: Int32)] = []
                if coinFlips {
                    var chosen: [Int] = []
                    for position in candidates where Float(random.nextUniform()) < transferFraction {
                        chosen.append(position)
                    }
                    var sample = try sampleDream(provider: provider, positions: chosen, random: &random)
                    let tokens = drawTokens(&sample, slots: Array(chosen.indices), drawingWith: Random.self)
                    reveal = zip(chosen, tokens).map { ($0, $1) }
                } else {
                    var sample = try sampleDream(provider: provider, positions: candidates, random: &random)
                    let confidences = sample.confidences
                    let chosenSlots: [Int]
                    if let threshold {
                        let above = confidences.indices.filter { confidences[$0] > threshold }
                        if above.isEmpty {
                            var best = 0
                            for slot in confidences.indices where confidences[slot] > confidences[best] { best = slot }
                            chosenSlots = [best]
                        } else {
                            chosenSlots = above
                        }
                    } else {
                        chosenSlots = chooseSlots(confidences: confidences, count: min(scheduledCount, candidates.count), random: &random)
                    }
                    let tokens = drawTokens(&sample, slots: chosenSlots, drawingWith: Random.self)
                    reveal = zip(chosenSlots, tokens).map { (candidates[$0], $1) }
                }
                stepInBlock += 1
                let proceed = try finishStep(revealed: reveal, plannedSteps: planned, block: block)
                if !proceed { return }
            }
        }
    }

    /// One Dream step's sampled rows (``sampleDream(provider:positions:random:)``): every position's confidence, and
    /// its token — drawn already, or, when the sample is deferred, drawn by ``drawTokens(_:slots:drawingWith:)`` for the revealed
    /// positions alone from the uniform taken for it here.
    struct DreamSample {
        /// The confidence of each position.
        var confidences: [Float] = []
        /// The token of each position (drawn now), or empty when deferred.
        var tokens: [Int32] = []
        /// The uniform of each position's categorical when deferred, else empty.
        var uniforms: [Double] = []
        /// The logits row (slot) of each position.
        var slots: [Int] = []
        /// The prepared weights, one row per slot.
        var weights: [Float] = []
    }

    /// Prepares the (shifted) row of each position, ascending, and gives each its confidence and a token.
    ///
    /// Where the confidence does not depend on the token (entropy, top-k margin) and the random source's categorical is
    /// the inverse CDF of one uniform, the uniforms are taken here, one per position in order (the reference's own
    /// draws), and the inverse-CDF search runs later, in ``drawTokens(_:slots:drawingWith:)``, only for the positions the step
    /// reveals: the same tokens, without searching the rows that stay masked.
    mutating func sampleDream<Provider: LogitsProvider, Random: RandomSource>(
        provider: Provider, positions: [Int], random: inout Random
    ) throws -> DreamSample {
        var rows: [Int] = []
        for position in positions {
            let row = row(for: position)
            if rows.last != row { rows.append(row) }
        }
        // A step that reveals nothing still costs the reference a forward pass; one that samples
        // nothing needs no logits here.
        var sample = DreamSample()
        sample.weights = try fetch(provider, rows: rows)
        let preparer = RowPreparer(temperature: parameters.temperature, topP: parameters.topP, topK: parameters.topK,
                                   wantsMargin: parameters.algorithm == .topkMargin,
                                   wantsEntropy: parameters.algorithm == .entropy)
        let prepared = try prepareRows(&sample.weights, rows: rows, vocabularySize: vocabularySize, threads: threads,
                                       preparer: preparer)
        let sampled = parameters.temperature > 0
        let defers = sampled && (parameters.algorithm == .entropy || parameters.algorithm == .topkMargin)
            && random.categoricalIsInverseCumulativeOfOneUniform
        sample.confidences.reserveCapacity(positions.count)
        sample.slots.reserveCapacity(positions.count)
        var slot = 0
        sample.weights.withUnsafeBufferPointer { buffer in
            for position in positions {
                let row = row(for: position)
                while rows[slot] != row { slot += 1 }
                sample.slots.append(slot)
                let weights = UnsafeBufferPointer(rebasing: buffer[(slot * vocabularySize)..<((slot + 1) * vocabularySize)])
                let summary = prepared[slot]
                var token = summary.argmax  // (unused when deferred: the confidence does not read it)
                if defers {
                    sample.uniforms.append(random.nextUniform())
                } else {
                    if sampled { token = random.nextCategorical(probabilities: weights) }
                    sample.tokens.append(Int32(token))
                }
                let confidence: Float
                switch parameters.algorithm {
                case .topkMargin: confidence = summary.margin
                case .entropy: confidence = summary.negativeEntropy
                case .origin, .maskgitPlus, .randomKeep, .confidence, .lowConfidence, .randomRemask:
                    confidence = Float(Double(weights[token]) / summary.kept)
                }
                sample.confidences.append(confidence)
            }
        }
        return sample
    }

    /// The tokens of `slots` (indices into the sample's positions), in that order, drawing the deferred ones now; hands
    /// the sample's logits array back for the next step.
    mutating func drawTokens<Random: RandomSource>(_ sample: inout DreamSample, slots: [Int], drawingWith _: Random.Type) -> [Int32] {
        let tokens: [Int32]
        if sample.uniforms.isEmpty {
            tokens = slots.map { sample.tokens[$0] }
        } else {
            tokens = sample.weights.withUnsafeBufferPointer { buffer in
                slots.map { position in
                    let slot = sample.slots[position]
                    let weights = UnsafeBufferPointer(rebasing: buffer[(slot * vocabularySize)..<((slot + 1) * vocabularySize)])
                    return Int32(Random.inverseCumulativeIndex(uniform: sample.uniforms[position], weights: weights))
                }
            }
        }
        recycle(&sample.weights)
        return tokens
    }

    /// Picks `count` slots: the highest confidences (ties: lower position first), or with
    /// alg_temp > 0 draws without replacement from softmax(confidence / alg_temp).
    func chooseSlots<Random: RandomSource>(confidences: [Float], count: Int, random: inout Random) -> [Int] {
        guard count > 0 else { return [] }
        let temperature = parameters.algorithmTemperature
        if temperature == 0 {
            let order = confidences.indices.sorted { left, right in
                confidences[left] != confidences[right] ? confidences[left] > confidences[right] : left < right
            }
            return Array(order.prefix(count))
        }
        let scaled = confidences.map { $0 / temperature }
        let maximum = scaled.max() ?? 0
        var weights = scaled.map { LogitsRow.exponential($0 - maximum) }
        var chosen: [Int] = []
        for _ in 0..<count {
            guard weights.contains(where: { $0 > 0 }) else { break }
            let slot = weights.withUnsafeBufferPointer { random.nextCategorical(probabilities: $0) }
            chosen.append(slot)
            weights[slot] = 0
        }
        return chosen
    }
}

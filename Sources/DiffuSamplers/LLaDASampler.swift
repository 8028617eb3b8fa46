import Foundation

/// LLaDA's sampler (`generate.py`): semi-autoregressive blocks, `get_num_transfer_tokens`, Gumbel-max
/// tokens in Double, `low_confidence` / `random` remasking, classifier-free guidance. The semantics and
/// the draw order are documented on ``DiffusionSampler``.
extension SamplerRun {
    /// LLaDA's schedule: `randomOrder` (`random` remasking) ranks a block's candidates by one uniform each,
    /// otherwise (`low_confidence`) by the softmax probability of the proposed token.
    mutating func runLLaDA<Provider: LogitsProvider, Random: RandomSource>(randomOrder: Bool, provider: Provider,
                                                                           random: inout Random) throws {
        let (blocks, stepsPerBlock) = blockSchedule()
        let planned = zip(blocks, stepsPerBlock).reduce(0) { total, pair in
            pair.0.contains(where: { masked[$0] }) ? total + pair.1 : total
        }
        for (block, blockSteps) in zip(blocks, stepsPerBlock) {
            let blockMasks = block.filter { masked[$0] }.count
            guard blockMasks > 0 else { continue }
            try Self.announce(provider, block: block, tokens: current)
            for step in 0..<blockSteps {
                let candidates = block.filter { masked[$0] }
                if candidates.isEmpty { break }
                let count = min(Self.transferCount(masks: blockMasks, steps: blockSteps, step: step), candidates.count)
                let proposals = try proposeLLaDA(randomOrder: randomOrder, provider: provider, positions: candidates, random: &random)
                let order = candidates.indices.sorted { left, right in
                    proposals[left].confidence != proposals[right].confidence
                        ? proposals[left].confidence > proposals[right].confidence : left < right
                }
                let reveal = order.prefix(count).map { (candidates[$0], proposals[$0].token) }
                let proceed = try finishStep(revealed: reveal, plannedSteps: planned, block: block)
                if !proceed { return }
            }
        }
    }

    /// The logits each position's prediction uses: the rows of the canvas, combined with those of the
    /// unconditional canvas (fixed positions masked) under guidance. Returns the rows fetched and their
    /// logits, row-major.
    mutating func guidedLogits<Provider: LogitsProvider>(provider: Provider, positions: [Int]) throws -> (rows: [Int], logits: [Float]) {
        var rows: [Int] = []
        for position in positions {
            let row = row(for: position)
            if rows.last != row { rows.append(row) }
        }
        var logits = try fetch(provider, rows: rows)
        let scale = parameters.guidanceScale
        guard scale > 0 else { return (rows, logits) }
        var unconditional = current
        for position in unconditional.indices where isFixed[position] { unconditional[position] = parameters.maskToken }
        var other = try fetch(provider, rows: rows, tokens: unconditional)
        let factor = scale + 1
        for index in logits.indices {
            logits[index] = other[index] + factor * (logits[index] - other[index])
        }
        recycle(&other)
        return (rows, logits)
    }

    /// One token and one confidence per position (ascending): Gumbel-max at temperature > 0 (argmax at
    /// 0), then the softmax probability of the token (low-confidence) or a uniform (random-remask).
    mutating func proposeLLaDA<Provider: LogitsProvider, Random: RandomSource>(
        randomOrder: Bool, provider: Provider, positions: [Int], random: inout Random
    ) throws -> [(token: Int32, confidence: Double)] {
        var (rows, logits) = try guidedLogits(provider: provider, positions: positions)
        defer { recycle(&logits) }
        let width = vocabularySize
        let temperature = Double(parameters.temperature)
        var slotOfRow: [Int: Int] = [:]
        for (slot, row) in rows.enumerated() { slotOfRow[row] = slot }
        var proposals: [(token: Int32, confidence: Double)] = []
        proposals.reserveCapacity(positions.count)
        try logits.withUnsafeBufferPointer { buffer in
            for position in positions {
                let row = row(for: position)
                let slot = slotOfRow[row]!
                let values = UnsafeBufferPointer(rebasing: buffer[(slot * width)..<((slot + 1) * width)])
                guard let maximum = Self.finiteMaximum(values) else { throw SamplerError.invalidLogits(row: row) }
                let token = temperature == 0 ? Self.firstArgmax(values) : Self.gumbelArgmax(values, temperature: temperature, random: &random)
                var confidence = 0.0
                if !randomOrder {
                    var total = 0.0
                    for value in values where value.isFinite { total += Foundation.exp(Double(value - maximum)) }
                    confidence = values[token].isFinite ? Foundation.exp(Double(values[token] - maximum)) / total : 0
                }
                proposals.append((Int32(token), confidence))
            }
        }
        if randomOrder {
            for index in proposals.indices { proposals[index].confidence = Double(Float(random.nextUniform())) }
        }
        return proposals
    }

    /// The largest finite value, if any.
    static func finiteMaximum(_ values: UnsafeBufferPointer<Float>) -> Float? {
        var maximum: Float? = nil
        for value in values where value.isFinite && value > (maximum ?? -.infinity) { maximum = value }
        return maximum
    }

    /// The first index of the largest value (NaN never wins).
    static func firstArgmax(_ values: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for index in values.indices where values[index] > values[best] || values[best].isNaN { best = index }
        return best
    }

    /// `argmax exp(logit) / (−log u)^temperature` in Double with one uniform per entry, ascending (the
    /// reference's `add_gumbel_noise` in float64); the first index wins ties.
    static func gumbelArgmax<Random: RandomSource>(_ values: UnsafeBufferPointer<Float>, temperature: Double, random: inout Random) -> Int {
        var best = 0
        var bestScore = -Double.infinity
        for index in values.indices {
            let noise = Foundation.pow(-Foundation.log(random.nextUniform()), temperature)
            let score = Foundation.exp(Double(values[index])) / noise
            if score > bestScore {
                best = index
                bestScore = score
            }
        }
        return best
    }
}

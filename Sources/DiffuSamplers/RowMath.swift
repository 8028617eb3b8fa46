import Foundation

/// Per-row arithmetic of the samplers: temperature, nucleus/top-k filtering, softmax, draws and the
/// confidence measures. One row is `vocabularySize` contiguous `Float` logits. Scratch buffers are
/// reused across rows (one workspace per generation).
struct RowWorkspace {
    /// exp(z − max z) per token after filtering (0 = filtered out); length = vocabulary size.
    var weights: [Float]
    /// Scratch: candidate token indices for the nucleus and top-k filters.
    var order: [Int32] = []
    /// Scratch: saved weights of the kept tokens.
    var saved: [Float] = []

    init(vocabularySize: Int) {
        weights = Array(repeating: 0, count: vocabularySize)
    }

    /// Fills ``weights`` with exp(z − max z) for z = row / temperature (temperature 0 or 1 leaves the
    /// logits unscaled) and returns (max z, Σ weights). Throws when the row has no finite maximum.
    mutating func exponentiate(_ row: UnsafeBufferPointer<Float>, temperature: Float, rowIndex: Int) throws -> (maximum: Float, total: Double) {
        let scale = temperature > 0 && temperature != 1
        var maximum = -Float.infinity
        for value in row {
            let scaled = scale ? value / temperature : value
            if scaled > maximum { maximum = scaled }
        }
        guard maximum.isFinite else { throw SamplerError.invalidLogits(row: rowIndex) }
        var total = 0.0
        weights.withUnsafeMutableBufferPointer { output in
            for index in 0..<row.count {
                let scaled = scale ? row[index] / temperature : row[index]
                let weight = expf(scaled - maximum)
                output[index] = weight
                total += Double(weight)
            }
        }
        return (maximum, total)
    }

    /// The reference's nucleus filter on ``weights``: tokens sorted by descending probability are kept
    /// while the cumulative probability *before* them is ≤ p (so the token that crosses p is kept, and
    /// the top-1 always is); the others get weight 0. Returns the kept sum.
    ///
    /// Only tokens above a cutoff are sorted; the cutoff is lowered until the nucleus closes inside
    /// the sorted set, which gives the same result as sorting the whole vocabulary.
    mutating func applyTopP(_ p: Float, total: Double) -> Double {
        let limit = Double(p)
        var cutoff: Float = 0x1.0p-12  // relative to the top weight, which is exp(0) = 1
        var positiveCount = 0
        for weight in weights where weight > 0 { positiveCount += 1 }
        var keptCount = 0
        var keptSum = 0.0
        while true {
            order.removeAll(keepingCapacity: true)
            weights.withUnsafeBufferPointer { buffer in
                for index in 0..<buffer.count where buffer[index] >= cutoff && buffer[index] > 0 {
                    order.append(Int32(index))
                }
            }
            let candidates = weights.withUnsafeBufferPointer { buffer in
                order.sorted { left, right in
                    let a = buffer[Int(left)], b = buffer[Int(right)]
                    return a != b ? a > b : left < right
                }
            }
            order = candidates
            var running = 0.0
            keptCount = 0
            var closed = false
            for index in order {
                if keptCount > 0 && running / total > limit { closed = true; break }
                running += Double(weights[Int(index)])
                keptCount += 1
            }
            keptSum = running
            let everythingSorted = cutoff == 0 || order.count == positiveCount
            if closed || everythingSorted { break }
            cutoff = cutoff > 0x1.0p-100 ? cutoff * 0x1.0p-12 : 0
        }
        if keptCount < order.count || order.count < weights.count {
            saved.removeAll(keepingCapacity: true)
            for index in order.prefix(keptCount) { saved.append(weights[Int(index)]) }
            weights.withUnsafeMutableBufferPointer { buffer in
                for index in 0..<buffer.count { buffer[index] = 0 }
            }
            for (slot, index) in order.prefix(keptCount).enumerated() { weights[Int(index)] = saved[slot] }
        }
        return keptSum
    }

    /// Dream's top-k filter on the tokens still kept: drops every kept token whose weight is below
    /// the k-th largest kept weight (ties with it stay). Returns the kept sum.
    mutating func applyTopK(_ k: Int, total: Double) -> Double {
        saved.removeAll(keepingCapacity: true)
        for weight in weights where weight > 0 { saved.append(weight) }
        guard saved.count > k else { return total }
        saved.sort(by: >)
        let threshold = saved[k - 1]
        var keptSum = 0.0
        weights.withUnsafeMutableBufferPointer { buffer in
            for index in 0..<buffer.count {
                if buffer[index] < threshold { buffer[index] = 0 } else { keptSum += Double(buffer[index]) }
            }
        }
        return keptSum
    }

    /// Index of the largest weight (the first on ties).
    func argmax() -> Int {
        var best = 0
        var bestWeight = -Float.infinity
        for index in 0..<weights.count where weights[index] > bestWeight {
            best = index
            bestWeight = weights[index]
        }
        return best
    }

    /// One categorical draw over ``weights``.
    func draw<Random: RandomSource>(_ random: inout Random) -> Int {
        weights.withUnsafeBufferPointer { random.nextCategorical(probabilities: $0) }
    }

    /// The DiffuLLaMA samplers' per-row step: logits/temperature, optional nucleus, then argmax
    /// (greedy or temperature 0) or one categorical draw. Returns the token and its log-probability
    /// under the (filtered) distribution — the reference's `x0_scores`.
    mutating func drawReference<Random: RandomSource>(
        _ row: UnsafeBufferPointer<Float>, rowIndex: Int, temperature: Float, topP: Float?, greedy: Bool,
        random: inout Random
    ) throws -> (token: Int32, logProbability: Double) {
        let (_, total) = try exponentiate(row, temperature: temperature, rowIndex: rowIndex)
        if greedy || temperature == 0 {
            let token = argmax()
            return (Int32(token), log(Double(weights[token]) / total))
        }
        var kept = total
        if let topP, topP < 1 { kept = applyTopP(topP, total: total) }
        let token = draw(&random)
        return (Int32(token), log(Double(weights[token]) / kept))
    }

    /// Dream's `sample_tokens` for one row: logits/temperature (when > 0), top-p (when < 1), top-k,
    /// softmax; a draw when temperature > 0, else argmax. The confidence is the drawn token's
    /// probability (origin, maskgit-plus), top1 − top2 probability (topk-margin) or Σ p·log(p + 1e-10)
    /// (entropy), all after filtering.
    mutating func drawDream<Random: RandomSource>(
        _ row: UnsafeBufferPointer<Float>, rowIndex: Int, parameters: SamplingParameters, random: inout Random
    ) throws -> (token: Int32, confidence: Float) {
        let (_, total) = try exponentiate(row, temperature: parameters.temperature, rowIndex: rowIndex)
        var kept = total
        if let topP = parameters.topP, topP < 1 { kept = applyTopP(topP, total: kept) }
        if let topK = parameters.topK { kept = applyTopK(topK, total: kept) }
        let token = parameters.temperature > 0 ? draw(&random) : argmax()
        switch parameters.algorithm {
        case .topkMargin:
            var first: Float = 0, second: Float = 0
            for weight in weights where weight > second {
                if weight > first { second = first; first = weight } else { second = weight }
            }
            return (Int32(token), Float((Double(first) - Double(second)) / kept))
        case .entropy:
            var sum = 0.0
            for weight in weights where weight > 0 {
                let probability = Double(weight) / kept
                sum += probability * log(probability + 1e-10)
            }
            return (Int32(token), Float(sum))
        default:
            return (Int32(token), Float(Double(weights[token]) / kept))
        }
    }
}

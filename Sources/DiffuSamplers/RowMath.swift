import Foundation

/// The per-row summary left by ``RowPreparer/prepare(_:rowIndex:)`` next to the row's weights.
struct PreparedRow: Sendable {
    /// Σ weights after filtering (the softmax denominator of the kept tokens).
    var kept: Double = 1
    /// Index of the largest weight (first on ties): the greedy token.
    var argmax: Int = 0
    /// top1 − top2 probability after filtering (Dream's `topk_margin`).
    var margin: Float = 0
    /// Σ p·log(p + 1e-10) after filtering (Dream's `entropy` confidence).
    var negativeEntropy: Float = 0
}

/// Per-row arithmetic of the samplers, in place on one logits row (`vocabularySize` contiguous
/// floats): z = logits / temperature (unscaled at temperature 0 or 1), weights = exp(z − max z) in
/// float32 (the single-precision `exponential`), then the nucleus (top-p) and top-k filters set dropped
/// weights to 0. The probability of a
/// token is weight / ``PreparedRow/kept``. Rows are independent, so many rows are prepared in
/// parallel; the draws that follow are sequential (one random source).
struct RowPreparer {
    /// Temperature (0 = greedy, no scaling).
    let temperature: Float
    /// Nucleus parameter; `nil` or ≥ 1 disables it.
    let topP: Float?
    /// Top-k parameter; `nil` disables it.
    let topK: Int?
    /// Whether to compute Dream's margin and entropy confidences.
    let wantsMargin: Bool
    let wantsEntropy: Bool
    /// Scratch: candidate token indices for the filters.
    var order: [Int32] = []
    /// Scratch: saved weights of kept tokens.
    var saved: [Float] = []

    init(temperature: Float, topP: Float?, topK: Int?, wantsMargin: Bool = false, wantsEntropy: Bool = false) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.wantsMargin = wantsMargin
        self.wantsEntropy = wantsEntropy
    }

    /// Below this, `eˣ` is under the smallest normal Float (2⁻¹²⁶) and the weight is 0: such a token is
    /// below the top token by a factor of 2¹²⁶, beneath the resolution of every double-precision sum and
    /// draw that follows, so no result can depend on it.
    static let lowestExponent: Float = -87.336_54

    /// `eˣ` in single precision for x ≤ 0: 0 below ``lowestExponent``, NaN for NaN; within 8.2e-8
    /// relative error of the exact value on [−87.34, 0] (under one unit in the last place), equal to the
    /// correctly rounded `Float(exp(Double(x)))` for 99.16 % of all Floats in [−87.34, 0] and one unit off for
    /// the rest (checked over every one of them: `tools/reference/check_sampler_exponential.swift`) — the rounding the f32
    /// weights of the reference's own softmax carry.
    ///
    /// Method (Cephes' `expf`): `x = n·ln2 + r` with the Cody–Waite split of ln2 (`0.693359375` exact in
    /// 9 bits, so `n·ln2_hi` is exact), `eʳ ≈ 1 + r + r²·p(r)` with `p` of degree 5 on |r| ≤ ln2/2, `2ⁿ`
    /// from exponent bits. Plain multiplies and adds (no fused multiply-add: the portable build has none),
    /// and no branch, so the loop of ``exponentials(_:count:maximum:)`` vectorizes at the build's full
    /// width (8 lanes with AVX2: `vmulps ymm`).
    @inline(__always)
    static func exponential(_ x: Float) -> Float {
        // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low mantissa bits.
        let magic: Float = 12_582_912
        let shifted = x * 1.442_695_04 + magic
        let n = shifted - magic
        let r = (x - n * 0.693_359_375) - n * -2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let power = p * (r * r) + r + 1
        let exponent = Int32(bitPattern: shifted.bitPattern) &- Int32(bitPattern: magic.bitPattern)
        let scale = Float(bitPattern: UInt32(bitPattern: (exponent &+ 127) &<< 23))
        return x < lowestExponent ? 0 : power * scale
    }

    /// `row[i] = eˣ` with `x = row[i] − maximum` (``exponential(_:)``, one vectorized pass), then returns
    /// Σ weights in double precision (a second pass over the row, now in cache: two partial sums of four
    /// lanes, added at the end).
    static func exponentials(_ row: UnsafeMutablePointer<Float>, count: Int, maximum: Float) -> Double {
        for index in 0..<count { row[index] = exponential(row[index] - maximum) }
        var totalLow = SIMD4<Double>(), totalHigh = SIMD4<Double>()
        var index = 0
        while index + 8 <= count {
            let weights = UnsafeRawPointer(row + index).loadUnaligned(as: SIMD8<Float>.self)
            totalLow += SIMD4<Double>(weights.lowHalf)
            totalHigh += SIMD4<Double>(weights.highHalf)
            index += 8
        }
        var total = (totalLow + totalHigh).sum()
        while index < count { total += Double(row[index]); index += 1 }
        return total
    }

    /// The largest value of the row and the first index holding it (NaN values are skipped, as a
    /// `value > maximum` scan skips them); `-∞` when no value is larger than `-∞`.
    static func maximumAndIndex(_ row: UnsafeMutablePointer<Float>, count: Int) -> (Float, Int) {
        var lanes = SIMD8<Float>(repeating: -.infinity)
        var index = 0
        while index + 8 <= count {
            let values = UnsafeRawPointer(row + index).loadUnaligned(as: SIMD8<Float>.self)
            lanes = lanes.replacing(with: values, where: lanes .< values)
            index += 8
        }
        var maximum = lanes.max()
        while index < count {
            if row[index] > maximum { maximum = row[index] }
            index += 1
        }
        guard maximum > -.infinity else { return (maximum, 0) }
        for position in 0..<count where row[position] == maximum { return (maximum, position) }
        return (maximum, 0)
    }

    /// Turns `row` (logits) into filtered weights in place and summarises it.
    /// Throws when the row has no finite maximum (all NaN or −∞).
    mutating func prepare(_ row: UnsafeMutableBufferPointer<Float>, rowIndex: Int) throws -> PreparedRow {
        guard let base = row.baseAddress else { throw SamplerError.invalidLogits(row: rowIndex) }
        if temperature > 0 && temperature != 1 {
            let divisor = temperature
            let divisors = SIMD8<Float>(repeating: divisor)
            var index = 0
            while index + 8 <= row.count {
                let raw = UnsafeMutableRawPointer(base + index)
                raw.storeBytes(of: raw.loadUnaligned(as: SIMD8<Float>.self) / divisors, as: SIMD8<Float>.self)
                index += 8
            }
            while index < row.count { row[index] = row[index] / divisor; index += 1 }
        }
        let (maximum, argmax) = Self.maximumAndIndex(base, count: row.count)
        guard maximum.isFinite else { throw SamplerError.invalidLogits(row: rowIndex) }
        let total = Self.exponentials(base, count: row.count, maximum: maximum)
        var summary = PreparedRow(kept: total, argmax: argmax)
        if let topP, topP < 1 { summary.kept = applyTopP(row, topP: topP, total: total) }
        if let topK { summary.kept = applyTopK(row, k: topK, kept: summary.kept) }
        if wantsMargin {
            var first: Float = 0, second: Float = 0
            for weight in row where weight > second {
                if weight > first { second = first; first = weight } else { second = weight }
            }
            summary.margin = Float((Double(first) - Double(second)) / summary.kept)
        }
        if wantsEntropy {
            var sum = 0.0
            for weight in row where weight > 0 {
                let probability = Double(weight) / summary.kept
                sum += probability * log(probability + 1e-10)
            }
            summary.negativeEntropy = Float(sum)
        }
        return summary
    }

    /// The reference's nucleus filter: tokens sorted by descending probability are kept while the
    /// cumulative probability *before* them is ≤ p (the token that crosses p is kept, and the top-1
    /// always is); the others get weight 0. Returns the kept sum.
    ///
    /// Exact without sorting the vocabulary: weights are bucketed by their float exponent (every
    /// weight in a higher bucket is larger than every weight in a lower one); whole buckets are kept
    /// while the mass before them stays ≤ p, and only the bucket where the nucleus closes is sorted.
    mutating func applyTopP(_ row: UnsafeMutableBufferPointer<Float>, topP: Float, total: Double) -> Double {
        let limit = Double(topP)
        let bucketMass = Self.bucketMasses(row)
        // Find the bucket in which the nucleus closes.
        var before = 0.0
        var closing = -1
        var keptAny = false
        for bucket in stride(from: 255, through: 0, by: -1) where bucketMass[bucket] > 0 {
            if keptAny && before / total > limit { break }  // this whole bucket and all below: dropped
            if (before + bucketMass[bucket]) / total > limit {
                closing = bucket
                break
            }
            before += bucketMass[bucket]
            keptAny = true
        }
        guard closing >= 0 else {
            // The nucleus ends exactly at a bucket boundary (or covers everything): drop lower buckets.
            let floor = lowestKeptBucket(bucketMass, total: total, limit: limit)
            var kept = 0.0
            for index in 0..<row.count {
                if row[index] > 0 && Int(row[index].bitPattern >> 23) < floor { row[index] = 0 } else { kept += Double(row[index]) }
            }
            return kept
        }
        // Sort the closing bucket and walk it with the mass of the higher buckets already counted.
        order.removeAll(keepingCapacity: true)
        for index in 0..<row.count where row[index] > 0 && Int(row[index].bitPattern >> 23) == closing {
            order.append(Int32(index))
        }
        order.sort { left, right in
            let a = row[Int(left)], b = row[Int(right)]
            return a != b ? a > b : left < right
        }
        var running = before
        var keptInBucket = 0
        for index in order {
            if (keptAny || keptInBucket > 0) && running / total > limit { break }
            running += Double(row[Int(index)])
            keptInBucket += 1
        }
        // Zero the lower buckets (one branch-free pass, vectorized) and the dropped tail of the closing bucket.
        Self.zeroBuckets(below: closing, row)
        for index in order.dropFirst(keptInBucket) { row[Int(index)] = 0 }
        return running
    }

    /// Sets every positive weight whose bucket (`bitPattern >> 23`) is below `bucket` to 0; other values
    /// (higher buckets, zeros, NaN) stay. Branch-free, so LLVM vectorizes it at the build's width.
    static func zeroBuckets(below bucket: Int, _ row: UnsafeMutableBufferPointer<Float>) {
        guard let values = row.baseAddress else { return }
        let limit = UInt32(clamping: bucket)
        for index in 0..<row.count {
            let weight = values[index]
            values[index] = weight > 0 && weight.bitPattern >> 23 < limit ? 0 : weight
        }
    }

    /// Σ weights per float exponent (bucket `bitPattern >> 23`) over the positive weights of `row`, in
    /// four interleaved histograms added at the end: consecutive weights mostly share a bucket, and one
    /// histogram would chain every addition through the same memory slot.
    static func bucketMasses(_ row: UnsafeMutableBufferPointer<Float>) -> [Double] {
        var masses = [Double](repeating: 0, count: 4 * 256)
        masses.withUnsafeMutableBufferPointer { histogram in
            let h = histogram.baseAddress!, count = row.count, values = row.baseAddress!
            // A weight that is not positive (0, or NaN) adds +0 to bucket 0, which changes no mass.
            @inline(__always) func add(_ value: Float, _ copy: Int) {
                let weight: Float = value > 0 ? value : 0
                h[copy &* 256 &+ Int(weight.bitPattern >> 23)] += Double(weight)
            }
            var index = 0
            while index + 4 <= count {
                add(values[index], 0); add(values[index + 1], 1); add(values[index + 2], 2); add(values[index + 3], 3)
                index += 4
            }
            while index < count { add(values[index], 0); index += 1 }
            for bucket in 0..<256 { h[bucket] = (h[bucket] + h[256 + bucket]) + (h[512 + bucket] + h[768 + bucket]) }
        }
        return Array(masses.prefix(256))
    }

    /// The lowest bucket still kept when the nucleus closes on a bucket boundary.
    private func lowestKeptBucket(_ bucketMass: [Double], total: Double, limit: Double) -> Int {
        var before = 0.0
        var lowest = 255
        var keptAny = false
        for bucket in stride(from: 255, through: 0, by: -1) where bucketMass[bucket] > 0 {
            if keptAny && before / total > limit { break }
            before += bucketMass[bucket]
            lowest = bucket
            keptAny = true
        }
        return lowest
    }

    /// Dream's top-k on the tokens still kept: drops every kept token whose weight is below the k-th
    /// largest kept weight (ties with it stay). Returns the kept sum.
    mutating func applyTopK(_ row: UnsafeMutableBufferPointer<Float>, k: Int, kept: Double) -> Double {
        saved.removeAll(keepingCapacity: true)
        for weight in row where weight > 0 { saved.append(weight) }
        guard saved.count > k else { return kept }
        saved.sort(by: >)
        let threshold = saved[k - 1]
        var keptSum = 0.0
        for index in 0..<row.count {
            if row[index] < threshold { row[index] = 0 } else { keptSum += Double(row[index]) }
        }
        return keptSum
    }
}

/// Prepares every row of a `[rows × vocabularySize]` logits buffer in place, rows split over up to
/// `threads` threads (fork-join).
func prepareRows(_ logits: inout [Float], rows: [Int], vocabularySize: Int, threads: Int,
                 preparer: RowPreparer) throws -> [PreparedRow] {
    let rowCount = rows.count
    guard rowCount > 0 else { return [] }
    var summaries = [PreparedRow](repeating: PreparedRow(), count: rowCount)
    let chunks = max(1, min(threads, rowCount))
    var failures = [SamplerError?](repeating: nil, count: chunks)
    logits.withUnsafeMutableBufferPointer { buffer in
        summaries.withUnsafeMutableBufferPointer { summaryBuffer in
            failures.withUnsafeMutableBufferPointer { failureBuffer in
                nonisolated(unsafe) let values = buffer
                nonisolated(unsafe) let output = summaryBuffer
                nonisolated(unsafe) let errors = failureBuffer
                let work: @Sendable (Int) -> Void = { chunk in
                    var local = preparer
                    let start = chunk * rowCount / chunks
                    let end = (chunk + 1) * rowCount / chunks
                    for slot in start..<end {
                        let row = UnsafeMutableBufferPointer(rebasing: values[(slot * vocabularySize)..<((slot + 1) * vocabularySize)])
                        do {
                            output[slot] = try local.prepare(row, rowIndex: rows[slot])
                        } catch let error as SamplerError {
                            errors[chunk] = error
                            return
                        } catch {
                            return
                        }
                    }
                }
                if chunks == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: work) }
            }
        }
    }
    if let failure = failures.compactMap({ $0 }).first { throw failure }
    return summaries
}

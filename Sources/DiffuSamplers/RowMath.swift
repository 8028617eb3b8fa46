import DiffuKernels
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
    /// Scratch: the indices of the nucleus candidates (weights at or above the floor of ``nucleusFloorBucket(topP:count:)``).
    var large: [Int32] = []
    /// How many of `large` hold, ascending, every weight the last ``applyTopP(_:topP:total:)`` kept (0: it did not
    /// narrow the row to its candidates, and the kept weights are found by scanning the row).
    var keptCandidates = 0
    /// Scratch: saved weights of kept tokens.
    var saved: [Float] = []

    init(temperature: Float, topP: Float?, topK: Int?, wantsMargin: Bool = false, wantsEntropy: Bool = false) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.wantsMargin = wantsMargin
        self.wantsEntropy = wantsEntropy
    }

    /// The largest value of `row` (`count` contiguous Floats); NaN values are skipped, as a `value > maximum`
    /// scan skips them; `-∞` when no value is larger than `-∞`.
    static func maximum(_ row: UnsafeMutablePointer<Float>, count: Int) -> Float {
        fourAccumulatorMaximum(row, count: count) { $0.loadUnaligned(as: SIMD8<Float>.self) }
    }

    /// `row[i] /= divisor` for every i (the temperature), and the largest quotient, in one pass: the
    /// division and the maximum of ``maximum(_:count:)`` fused (the row is read and written once).
    static func divideAndMaximum(_ row: UnsafeMutablePointer<Float>, count: Int, divisor: Float) -> Float {
        let divisors = SIMD8<Float>(repeating: divisor)
        for tail in (count - count % 32)..<count { row[tail] = row[tail] / divisor }  // what the 32-wide loop leaves
        return fourAccumulatorMaximum(row, count: count) { vector in
            let quotient = vector.loadUnaligned(as: SIMD8<Float>.self) / divisors
            vector.storeBytes(of: quotient, as: SIMD8<Float>.self)
            return quotient
        }
    }

    /// The maximum of `load(v)` over the row's 8-lane vectors `v`, 32 floats per step in four accumulators (one
    /// accumulator leaves the compare-and-select chain waiting on its own latency), then of the scalar tail
    /// `row[count − count % 32 ..< count]` as it stands. `load` may rewrite its vector (the temperature).
    @inline(__always)
    private static func fourAccumulatorMaximum(_ row: UnsafeMutablePointer<Float>, count: Int,
                                               _ load: (UnsafeMutableRawPointer) -> SIMD8<Float>) -> Float {
        var first = SIMD8<Float>(repeating: -.infinity), second = first, third = first, fourth = first
        var index = 0
        while index + 32 <= count {
            let raw = UnsafeMutableRawPointer(row + index)
            let a = load(raw), b = load(raw + 32), c = load(raw + 64), d = load(raw + 96)
            first = first.replacing(with: a, where: first .< a)
            second = second.replacing(with: b, where: second .< b)
            third = third.replacing(with: c, where: third .< c)
            fourth = fourth.replacing(with: d, where: fourth .< d)
            index += 32
        }
        let pair = first.replacing(with: second, where: first .< second)
        let other = third.replacing(with: fourth, where: third .< fourth)
        var maximum = pair.replacing(with: other, where: pair .< other).max()
        for tail in index..<count where row[tail] > maximum { maximum = row[tail] }
        return maximum
    }

    /// The first index whose value equals `value`, or `count` when none does: 8 lanes per compare, stopping
    /// at the first vector that holds it (after ``maximum(_:count:)`` the row is in cache).
    static func firstIndex(of value: Float, _ row: UnsafeMutablePointer<Float>, count: Int) -> Int {
        let target = SIMD8<Float>(repeating: value)
        var index = 0
        while index + 8 <= count {
            if any(UnsafeRawPointer(row + index).loadUnaligned(as: SIMD8<Float>.self) .== target) { break }
            index += 8
        }
        while index < count && row[index] != value { index += 1 }
        return index
    }

    /// Turns `row` (logits) into filtered weights in place and summarises it.
    /// Throws when the row has no finite maximum (all NaN or −∞).
    mutating func prepare(_ row: UnsafeMutableBufferPointer<Float>, rowIndex: Int) throws -> PreparedRow {
        guard let base = row.baseAddress else { throw SamplerError.invalidLogits(row: rowIndex) }
        let maximum = temperature > 0 && temperature != 1
            ? Self.divideAndMaximum(base, count: row.count, divisor: temperature)
            : Self.maximum(base, count: row.count)
        guard maximum.isFinite else { throw SamplerError.invalidLogits(row: rowIndex) }
        let argmax = Self.firstIndex(of: maximum, base, count: row.count)
        let total = LogitsRow.exponentials(base, count: row.count, maximum: maximum)
        var summary = PreparedRow(kept: total, argmax: argmax)
        keptCandidates = 0
        if let topP, topP < 1 { summary.kept = applyTopP(row, topP: topP, total: total) }
        if let topK { summary.kept = applyTopK(row, k: topK, kept: summary.kept) }
        if wantsMargin {
            // The two largest weights (values only: the order they are met in does not matter), from the candidates
            // when the nucleus filter left every kept weight among them.
            var first: Float = 0, second: Float = 0
            @inline(__always) func visit(_ weight: Float) {
                guard weight > second else { return }
                if weight > first { second = first; first = weight } else { second = weight }
            }
            if keptCandidates > 0 {
                for index in large[0..<keptCandidates] { visit(row[Int(index)]) }
            } else {
                for weight in row { visit(weight) }
            }
            summary.margin = Float((Double(first) - Double(second)) / summary.kept)
        }
        if wantsEntropy {
            summary.negativeEntropy = keptCandidates > 0
                ? large.withUnsafeBufferPointer {
                    Self.negativeEntropy(base, candidates: UnsafeBufferPointer(rebasing: $0[0..<keptCandidates]), kept: summary.kept)
                }
                : Self.negativeEntropy(base, count: row.count, kept: summary.kept)
        }
        return summary
    }

    /// Dream's entropy confidence Σ p·log(p + 1e-10) over the positive weights of `row`, p = weight / `kept`, summed in
    /// ascending index order. After top-p most weights are 0: 8-lane compares skip the all-zero vectors, and only a
    /// vector holding a positive weight is walked (the same additions in the same order as a plain scan).
    static func negativeEntropy(_ row: UnsafeMutablePointer<Float>, count: Int, kept: Double) -> Float {
        var sum = 0.0
        @inline(__always) func add(_ weight: Float) { if weight > 0 { sum += entropyTerm(weight, kept: kept) } }
        let zero = SIMD8<Float>(repeating: 0)
        var index = 0
        while index + 8 <= count {
            if any(UnsafeRawPointer(row + index).loadUnaligned(as: SIMD8<Float>.self) .> zero) {
                for lane in index..<(index + 8) { add(row[lane]) }
            }
            index += 8
        }
        while index < count { add(row[index]); index += 1 }
        return Float(sum)
    }

    /// ``negativeEntropy(_:count:kept:)`` over the weights at `candidates` (ascending indices that include every positive
    /// weight of the row, as the nucleus filter's candidates do): the same additions in the same order, without the scan.
    static func negativeEntropy(_ row: UnsafeMutablePointer<Float>, candidates: UnsafeBufferPointer<Int32>, kept: Double) -> Float {
        var sum = 0.0
        for index in candidates where row[Int(index)] > 0 { sum += entropyTerm(row[Int(index)], kept: kept) }
        return Float(sum)
    }

    /// One positive weight's term p·log(p + 1e-10) of Dream's entropy confidence, p = weight / `kept`.
    @inline(__always)
    static func entropyTerm(_ weight: Float, kept: Double) -> Double {
        let probability = Double(weight) / kept
        return probability * log(probability + 1e-10)
    }

    /// The reference's nucleus filter: tokens sorted by descending probability are kept while the
    /// cumulative probability *before* them is ≤ p (the token that crosses p is kept, and the top-1
    /// always is); the others get weight 0. Returns the kept sum.
    ///
    /// Exact without sorting the vocabulary: weights are bucketed by their float exponent (every
    /// weight in a higher bucket is larger than every weight in a lower one); whole buckets are kept
    /// while the mass before them stays ≤ p; the bucket where the nucleus closes is split the same way by
    /// its next 8 mantissa bits, and only the sub-bucket where it closes is sorted.
    ///
    /// Only the buckets from the top down to the closing one matter, and the closing one lies at or above the floor
    /// of ``nucleusFloorBucket(topP:count:)``: the buckets are first built from the weights at or above that floor
    /// alone (one compress pass, then a few thousand additions instead of one per vocabulary entry), with the same
    /// additions in the same order as the full histogram, so their masses are the same bits. The full histogram is
    /// built instead for a flat row (most weights above the floor) and, as a safety net for rounding, when the walk
    /// finds no closing bucket above the floor.
    mutating func applyTopP(_ row: UnsafeMutableBufferPointer<Float>, topP: Float, total: Double) -> Double {
        let limit = Double(topP)
        var before = 0.0
        var keptAny = false
        let floor = Self.nucleusFloorBucket(topP: topP, count: row.count)
        // A flat row (most weights at or above the floor, as at temperature 1 on a small model) goes straight to the
        // plain pass over the row: the faster way to the same masses there. Which path runs changes no result.
        var largeCount = 0
        var membersFromCandidates = false
        var bucketMass: [Double]
        if Self.sampledFraction(atOrAbove: floor, row) > 0.25 {
            bucketMass = Self.bucketMasses(row)
        } else {
            if large.count < row.count + 16 { large = [Int32](repeating: 0, count: row.count + 16) }
            largeCount = large.withUnsafeMutableBufferPointer { output in
                LogitsRow.indices(inBuckets: floor..<255, row.baseAddress!, count: row.count, into: output.baseAddress!)
            }
            bucketMass = large.withUnsafeBufferPointer { Self.bucketMasses(row, members: UnsafeBufferPointer(rebasing: $0[0..<largeCount])) }
            membersFromCandidates = true
        }
        var walk = Self.walkBuckets(bucketMass, total: total, limit: limit, before: &before, keptAny: &keptAny)
        if walk.closing == nil && membersFromCandidates {
            // The nucleus reaches below the floor (or ends on a bucket boundary): every bucket's mass is needed.
            before = 0
            keptAny = false
            bucketMass = Self.bucketMasses(row)
            walk = Self.walkBuckets(bucketMass, total: total, limit: limit, before: &before, keptAny: &keptAny)
            membersFromCandidates = false
        }
        if membersFromCandidates { keptCandidates = largeCount }
        guard let closing = walk.closing else {
            // The nucleus ends exactly at a bucket boundary (or covers everything): drop lower buckets.
            Self.zeroBuckets(below: walk.lowestKept, row)
            return bucketMass[walk.lowestKept...].reduce(0, +)
        }
        // The closing bucket's tokens, then its sub-buckets (the next 8 mantissa bits: again, every weight in
        // a higher sub-bucket is larger than every weight in a lower one) walked the same way, so that only
        // the sub-bucket where the nucleus closes is sorted (a few tokens instead of hundreds).
        let members = membersFromCandidates
            ? Self.filterBucket(closing, row, candidates: large, count: largeCount, into: &order)
            : Self.collectBucket(closing, row, into: &order)
        var subMasses = [Double](repeating: 0, count: 256)
        for index in order[0..<members] {
            let weight = row[Int(index)]
            subMasses[Self.subBucket(weight)] += Double(weight)
        }
        let closingSub = Self.walkBuckets(subMasses, total: total, limit: limit, before: &before, keptAny: &keptAny).closing ?? -1
        // Zero the sub-buckets below the closing one and keep the closing one's tokens at the front of
        // `order`, in index order (no closing sub-bucket: the whole bucket is kept).
        var candidates = 0
        for position in 0..<members {  // branch-free, as in `collectBucket`
            let index = order[position]
            let weight = row[Int(index)]
            let sub = Self.subBucket(weight)
            row[Int(index)] = sub < closingSub ? 0 : weight
            order[candidates] = index
            candidates &+= Self.oneIf(sub == closingSub)
        }
        order[0..<candidates].sort { left, right in
            let a = row[Int(left)], b = row[Int(right)]
            return a != b ? a > b : left < right
        }
        var running = before
        var kept = 0
        for index in order[0..<candidates] {
            if (keptAny || kept > 0) && running / total > limit { break }
            running += Double(row[Int(index)])
            kept += 1
        }
        // Zero the lower buckets (one branch-free pass, vectorized) and the dropped tail of the closing sub-bucket.
        Self.zeroBuckets(below: closing, row)
        for index in order[kept..<candidates] { row[Int(index)] = 0 }
        return running
    }

    /// The lowest exponent bucket that can hold the nucleus's closing token of a row of `count` weights whose largest
    /// is 1 (the weights of ``prepare(_:rowIndex:)``, so their sum is at least 1), with a bucket to spare for rounding:
    /// every weight below bucket `b` is under 2^(b − 127), so the weights below the floor add up to less than
    /// `count` · 2^(floor − 127) ≤ (1 − p) / 2, and the mass at or above it exceeds p of the total. (The caller still
    /// checks: a walk that finds no closing bucket above the floor falls back to every bucket.)
    static func nucleusFloorBucket(topP: Float, count: Int) -> Int {
        let bound = (1 - Double(topP)) / Double(max(count, 1))
        guard bound > 0, bound.isFinite else { return 1 }
        return min(254, max(1, Int(bound.exponent) + 127 - 1))
    }

    /// The fraction of every 64th weight of `row` (from the first) that lies at or above exponent bucket `floor`: a
    /// cheap look at how flat the row is (768 loads for a 49 152-token vocabulary).
    static func sampledFraction(atOrAbove floor: Int, _ row: UnsafeMutableBufferPointer<Float>) -> Double {
        let first = UInt32(clamping: floor) << 23
        var above = 0, sampled = 0
        for index in stride(from: 0, to: row.count, by: 64) {
            above &+= Self.oneIf(row[index].bitPattern >= first && row[index].bitPattern < 255 << 23)
            sampled += 1
        }
        return Double(above) / Double(max(sampled, 1))
    }

    /// The members of `bucket` among the first `count` indices of `candidates` (ascending), written in order to the
    /// front of `order`; returns how many. Branch-free, as ``collectBucket(_:_:into:)``.
    static func filterBucket(_ bucket: Int, _ row: UnsafeMutableBufferPointer<Float>, candidates: [Int32], count: Int,
                             into order: inout [Int32]) -> Int {
        if order.count < count { order = [Int32](repeating: 0, count: count) }
        let first = UInt32(clamping: bucket) << 23
        return order.withUnsafeMutableBufferPointer { output in
            candidates.withUnsafeBufferPointer { indices in
                var found = 0
                for position in 0..<count {
                    let index = indices[position]
                    output[found] = index
                    found &+= Self.oneIf(row[Int(index)].bitPattern &- first < 1 << 23)
                }
                return found
            }
        }
    }

    /// 1 for `true`, 0 for `false`, as a zero-extended byte: LLVM keeps `count += oneIf(c)` branch-free,
    /// where it turns `count += c ? 1 : 0` into a conditional jump (measured on x86-64).
    @inline(__always)
    static func oneIf(_ condition: Bool) -> Int { Int(unsafeBitCast(condition, to: UInt8.self)) }

    /// The sub-bucket of a positive weight inside its exponent bucket: the 8 mantissa bits below the exponent.
    @inline(__always)
    static func subBucket(_ weight: Float) -> Int { Int((weight.bitPattern >> 15) & 0xFF) }

    /// Writes the indices of the weights in `bucket` (`bitPattern >> 23`, 1 ... 254: exactly the positive
    /// normal floats of that exponent) to the front of `order`, ascending, and returns how many there are
    /// (``LogitsRow/indices(inBuckets:_:count:into:variant:)``: compress-stores with AVX-512, else branch-free).
    static func collectBucket(_ bucket: Int, _ row: UnsafeMutableBufferPointer<Float>, into order: inout [Int32]) -> Int {
        if order.count < row.count + 16 { order = [Int32](repeating: 0, count: row.count + 16) }
        return order.withUnsafeMutableBufferPointer { output in
            LogitsRow.indices(inBuckets: bucket..<(bucket + 1), row.baseAddress!, count: row.count, into: output.baseAddress!)
        }
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
    /// eight interleaved histograms (8 × 256 doubles, 16 KiB: inside L1) added at the end: consecutive
    /// weights mostly share a bucket, and fewer histograms would chain the additions through the same memory
    /// slot (a store-to-load round trip each).
    static func bucketMasses(_ row: UnsafeMutableBufferPointer<Float>) -> [Double] {
        interleavedHistograms { h in
            let count = row.count, values = row.baseAddress!
            // A weight that is not positive (0, or NaN) adds +0 to bucket 0, which changes no mass.
            @inline(__always) func add(_ value: Float, _ copy: Int) {
                let weight: Float = value > 0 ? value : 0
                h[copy &* 256 &+ Int(weight.bitPattern >> 23)] += Double(weight)
            }
            var index = 0
            while index + histogramCopies <= count {
                for copy in 0..<histogramCopies { add(values[index + copy], copy) }
                index += histogramCopies
            }
            while index < count { add(values[index], 0); index += 1 }
        }
    }

    /// ``bucketMasses(_:)`` restricted to the weights at `members` (ascending indices of positive normal weights): every
    /// member's weight goes to the same one of the eight histograms, in the same order, as in the full pass (index
    /// `i` to histogram `i % 8`, the last `count % 8` indices to histogram 0), so each bucket that holds only members
    /// gets the same mass, bit for bit.
    static func bucketMasses(_ row: UnsafeMutableBufferPointer<Float>, members: UnsafeBufferPointer<Int32>) -> [Double] {
        let whole = row.count - row.count % histogramCopies
        return interleavedHistograms { h in
            let values = row.baseAddress!
            for member in members {
                let index = Int(member)
                let weight = values[index]
                let copy = index < whole ? index % histogramCopies : 0
                h[copy &* 256 &+ Int(weight.bitPattern >> 23)] += Double(weight)
            }
        }
    }

    /// The interleaved histograms of ``bucketMasses(_:)``: fewer would chain the additions through one memory slot.
    static let histogramCopies = 8

    /// Runs `fill` on ``histogramCopies`` zeroed histograms of 256 doubles (copy `c`, bucket `b` at `c * 256 + b`), then
    /// returns each bucket's sum over the copies, added in copy order.
    static func interleavedHistograms(_ fill: (UnsafeMutablePointer<Double>) -> Void) -> [Double] {
        var masses = [Double](repeating: 0, count: histogramCopies * 256)
        masses.withUnsafeMutableBufferPointer { histogram in
            let h = histogram.baseAddress!
            fill(h)
            for bucket in 0..<256 {
                var sum = 0.0
                for copy in 0..<histogramCopies { sum += h[copy * 256 + bucket] }
                h[bucket] = sum
            }
        }
        return Array(masses.prefix(256))
    }

    /// The nucleus walk over 256 buckets from the highest down (every weight in a higher bucket larger than every
    /// weight in a lower one), skipping empty ones: a bucket is kept whole while the mass before it and its own stay
    /// ≤ p of `total`. Returns the bucket whose mass takes the nucleus past p (`nil` when it ends on a bucket
    /// boundary or covers everything) and the lowest bucket kept whole (255 when none is). `before` (the mass kept)
    /// and `keptAny` (whether a token is kept) carry on from an outer walk and are updated.
    static func walkBuckets(_ masses: [Double], total: Double, limit: Double, before: inout Double,
                            keptAny: inout Bool) -> (closing: Int?, lowestKept: Int) {
        var lowest = 255
        for bucket in stride(from: 255, through: 0, by: -1) where masses[bucket] > 0 {
            if keptAny && before / total > limit { break }  // this whole bucket and all below: dropped
            if (before + masses[bucket]) / total > limit { return (bucket, lowest) }
            before += masses[bucket]
            lowest = bucket
            keptAny = true
        }
        return (nil, lowest)
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

import DiffuModels
import Foundation
import Testing

/// The approximate KV cache's forward passes against Hugging Face transformers' logits (the fixtures of
/// tools/fixtures/make_model_fixtures.py): the filling pass is the exact pass, and a windowed pass over the
/// canvas the cache was filled from reproduces the full forward's rows (the one moment the cache is
/// exact under bidirectional attention). Under causal attention the prefix's keys/values do not depend
/// on later tokens, so a windowed pass after the window's tokens changed must still match transformers.
@Suite struct KeyValueCacheTests {
    /// The sequences of a fixture with their reference logits rows (`[count × vocab]` each).
    static func cases(_ fixture: ModelFixture, causal: Bool) throws -> [(tokens: [Int32], reference: [Float])] {
        let sequences = try fixture.sequences()
        let reference = try fixture.npy(causal ? "logits_causal.npy" : "logits_bidirectional.npy").values
        let vocabulary = try fixture.configuration().vocabularySize
        var start = 0
        return sequences.map { sequence in
            defer { start += sequence.count * vocabulary }
            return (sequence, Array(reference[start..<(start + sequence.count * vocabulary)]))
        }
    }

    static func rows(_ logits: [Float], _ rows: Range<Int>, vocabulary: Int) -> [Float] {
        Array(logits[(rows.lowerBound * vocabulary)..<(rows.upperBound * vocabulary)])
    }

    /// Windows at the start, in the middle, at the end, one row, and the whole canvas.
    static func windows(length: Int) -> [Range<Int>] {
        [0..<3, 2..<5, (length - 4)..<length, (length / 2)..<(length / 2 + 1), 0..<length]
    }

    @Test(arguments: ModelFixture.names)
    func fillingPassIsTheExactPass(name: String) throws {
        let fixture = ModelFixture(name)
        let model = try TransformerModel(configuration: fixture.configuration(), weights: fixture.weights(storage: .f32))
        for causal in [false, true] {
            for (tokens, _) in try Self.cases(fixture, causal: causal) {
                let exact = try model.forward(tokens: tokens, causal: causal, threads: 2)
                let cache = KeyValueCache()
                let filled = try model.forward(tokens: tokens, causal: causal, threads: 2, fillingCache: cache)
                #expect(filled == exact, "\(name) causal=\(causal): the filling pass must not change the logits")
                #expect(cache.tokens == tokens)
                let configuration = model.configuration
                #expect(cache.allocatedByteCount == KeyValueCache.byteCount(configuration: configuration, length: tokens.count))
                #expect(cache.allocatedByteCount == configuration.layerCount * tokens.count * configuration.keyValueHeadCount
                        * configuration.headDimension * 2 * 4)
            }
        }
    }

    /// Cache at this canvas, then query windows of the same canvas: rows equal transformers' within the
    /// f32 tolerance of the exact path (1e-4 · max |logit|).
    @Test(arguments: ModelFixture.names)
    func windowOnTheCachedCanvasMatchesTransformers(name: String) throws {
        let fixture = ModelFixture(name)
        let model = try TransformerModel(configuration: fixture.configuration(), weights: fixture.weights(storage: .f32))
        let vocabulary = model.configuration.vocabularySize
        let workspace = ForwardWorkspace()
        for causal in [false, true] {
            for (tokens, reference) in try Self.cases(fixture, causal: causal) {
                let cache = KeyValueCache()
                _ = try model.forward(tokens: tokens, outputPositions: [0], causal: causal, threads: 2, workspace: workspace,
                                      fillingCache: cache)
                for window in Self.windows(length: tokens.count) {
                    let logits = try model.forward(tokens: tokens, window: window, outputPositions: Array(window), causal: causal,
                                                   threads: 2, workspace: workspace, cache: cache)
                    let expected = Self.rows(reference, window, vocabulary: vocabulary)
                    let (difference, scale) = Compare.maximumDifference(logits, expected)
                    #expect(difference <= 1e-4 * scale, "\(name) causal=\(causal) window \(window): max|Δ| \(difference), max|logit| \(scale)")
                }
            }
        }
    }

    /// Causal attention: fill the cache from a canvas whose tail differs, then compute the tail window on
    /// the real canvas. The cached prefix rows are exact under the causal mask, so the window's rows must
    /// match transformers on the real canvas — this checks the window's positions (RoPE / learned
    /// offsets), its causal offset and that its fresh keys/values replace the stale ones.
    @Test(arguments: ModelFixture.names)
    func causalPrefixCacheIsExactAfterTheTailChanges(name: String) throws {
        let fixture = ModelFixture(name)
        let model = try TransformerModel(configuration: fixture.configuration(), weights: fixture.weights(storage: .f32))
        let vocabulary = model.configuration.vocabularySize
        for (tokens, reference) in try Self.cases(fixture, causal: true) {
            let start = tokens.count / 2
            var stale = tokens
            for position in start..<tokens.count { stale[position] = Int32((Int(tokens[position]) + 7) % vocabulary) }
            let cache = KeyValueCache()
            _ = try model.forward(tokens: stale, outputPositions: [], causal: true, threads: 2, fillingCache: cache)
            let window = start..<tokens.count
            let logits = try model.forward(tokens: tokens, window: window, outputPositions: Array(window), causal: true,
                                           threads: 2, cache: cache)
            let (difference, scale) = Compare.maximumDifference(logits, Self.rows(reference, window, vocabulary: vocabulary))
            #expect(difference <= 1e-4 * scale, "\(name): max|Δ| \(difference), max|logit| \(scale)")
            #expect(cache.tokens == tokens, "the window's rows now hold the real canvas")
            // A second window over the prefix alone now reads the refreshed tail rows: still exact.
            let head = 0..<start
            let again = try model.forward(tokens: tokens, window: head, outputPositions: Array(head), causal: true, threads: 2,
                                          cache: cache)
            let (headDifference, headScale) = Compare.maximumDifference(again, Self.rows(reference, head, vocabulary: vocabulary))
            #expect(headDifference <= 1e-4 * headScale, "\(name) head: max|Δ| \(headDifference)")
        }
    }

    /// Bidirectional attention is where the cache approximates: after the window's tokens change, the
    /// rows outside it keep keys/values that saw the old tokens, so the window's logits move away from
    /// transformers' on the new canvas; refilling from the new canvas makes them match again.
    @Test func bidirectionalCacheIsStaleUntilRefilled() throws {
        let fixture = ModelFixture("llama_sharded_bf16")
        let model = try TransformerModel(configuration: fixture.configuration(), weights: fixture.weights(storage: .f32))
        let vocabulary = model.configuration.vocabularySize
        let (tokens, reference) = try Self.cases(fixture, causal: false)[1]
        var before = tokens
        let window = 4..<8
        for position in window { before[position] = Int32((Int(tokens[position]) + 3) % vocabulary) }
        let cache = KeyValueCache()
        _ = try model.forward(tokens: before, outputPositions: [], threads: 2, fillingCache: cache)
        let approximate = try model.forward(tokens: tokens, window: window, outputPositions: Array(window), threads: 2, cache: cache)
        let expected = Self.rows(reference, window, vocabulary: vocabulary)
        let (staleDifference, scale) = Compare.maximumDifference(approximate, expected)
        #expect(staleDifference > 1e-3 * scale, "outside rows must still carry the old tokens' keys/values")
        _ = try model.forward(tokens: tokens, outputPositions: [], threads: 2, fillingCache: cache)
        let refreshed = try model.forward(tokens: tokens, window: window, outputPositions: Array(window), threads: 2, cache: cache)
        let (difference, _) = Compare.maximumDifference(refreshed, expected)
        #expect(difference <= 1e-4 * scale)
    }

    @Test func invalidCachedPassesThrowTypedErrors() throws {
        let fixture = ModelFixture("qwen2_gqa_f32")
        let model = try TransformerModel(configuration: fixture.configuration(), weights: fixture.weights(storage: .f32))
        let tokens = try fixture.sequences()[0]
        let cache = KeyValueCache()
        #expect(throws: ModelError.cacheNotFilled(cached: 0, length: tokens.count)) {
            try model.forward(tokens: tokens, window: 0..<2, outputPositions: [0], cache: cache)
        }
        _ = try model.forward(tokens: tokens, outputPositions: [], fillingCache: cache)
        #expect(throws: ModelError.invalidWindow(window: 3..<3, length: tokens.count)) {
            try model.forward(tokens: tokens, window: 3..<3, outputPositions: [], cache: cache)
        }
        #expect(throws: ModelError.invalidWindow(window: 2..<(tokens.count + 1), length: tokens.count)) {
            try model.forward(tokens: tokens, window: 2..<(tokens.count + 1), outputPositions: [2], cache: cache)
        }
        #expect(throws: ModelError.outputPositionOutsideWindow(position: 1, window: 2..<4)) {
            try model.forward(tokens: tokens, window: 2..<4, outputPositions: [1], cache: cache)
        }
        #expect(throws: ModelError.cacheNotFilled(cached: tokens.count, length: tokens.count + 1)) {
            try model.forward(tokens: tokens + [0], window: 0..<2, outputPositions: [0], cache: cache)
        }
        #expect(KeyValueCache.byteCount(configuration: model.configuration, length: Int.max / 2) == nil)
    }
}

import DiffuTestSupport
import Foundation
import Testing
import Diffu
import DiffuConversion

/// What the CLI used to do around the facade and now asks it for: repeated forward passes, FLOP counts,
/// the file's recipe, tokenizers by path, the kernel benchmarks.
@Suite struct FacadeDoorTests {
    @Test func forwardSessionMatchesOneShotLogits() throws {
        let (model, directory) = try EndToEndTests.convertedModel("llama_sharded_bf16", recipe: .f32)
        defer { try? FileManager.default.removeItem(at: directory) }
        let session = try ForwardSession(model: model, threads: 2)
        let tokens: [Int32] = [1, 5, 9, 3, 7]
        for positions in [nil, [4], [0, 2]] as [[Int]?] {
            for causal in [false, true] {
                let expected = try model.logits(tokens: tokens, positions: positions, causal: causal, threads: 2)
                #expect(try session.logits(tokens: tokens, positions: positions, causal: causal) == expected)
            }
        }
        #expect(session.forwardPasses == 6)
        // A longer sequence after shorter ones grows the reused scratch.
        let long = (0..<40).map { Int32($0 % 100) }
        #expect(try session.logits(tokens: long, positions: [39]) == model.logits(tokens: long, positions: [39], threads: 2))
        #expect(throws: DiffuError.invalidRequest("threads must be at least 1 (got 0)")) { _ = try ForwardSession(model: model, threads: 0) }
    }

    /// Hand-computed: 2 per multiply-add of q/k/v/o, the feed-forward matrices (GPT-2: 2, LLaMA: 3), the
    /// scores and value sums (2·2·L²·q), and the head for the logit rows.
    @Test func forwardFLOPsFollowTheArchitecture() throws {
        let (llama, llamaDirectory) = try EndToEndTests.convertedModel("llama_sharded_bf16", recipe: .f32)
        defer { try? FileManager.default.removeItem(at: llamaDirectory) }
        // hidden 32, 4 heads × 16 (q = kv = 64), intermediate 64, 2 layers, vocabulary 100; L = 4, 1 row:
        // per layer 2·4·(32·64 + 2·32·64 + 64·32 + 3·32·64) + 4·16·64 = 118784; head 2·32·100 = 6400.
        #expect(llama.forwardFLOPs(tokens: 4, logitRows: 1) == 2 * 118_784 + 6400)
        let (gpt2, gpt2Directory) = try EndToEndTests.convertedModel("gpt2_plain_f32", recipe: .q8)
        defer { try? FileManager.default.removeItem(at: gpt2Directory) }
        // hidden 32, 2 heads × 16 (q = kv = 32), inner 128, 2 layers, vocabulary 80; L = 4, 4 rows:
        // per layer 2·4·(32·32 + 2·32·32 + 32·32 + 2·32·128) + 4·16·32 = 100352; head 2·4·32·80 = 20480.
        #expect(gpt2.forwardFLOPs(tokens: 4, logitRows: 4) == 2 * 100_352 + 20480)
        #expect(gpt2.quantization == QuantizationRecipe.q8.summary)
        #expect(llama.quantization == QuantizationRecipe.f32.summary)
    }

    @Test func tokenizerByPathChoosesTheLoader() throws {
        let fixtures = TestFixtures.url("tokenizers/gpt2")
        let folder = try Tokenizer.load(path: fixtures.path)
        let text = "Hello world, again"
        let expected = folder.encode(text, addSpecialTokens: false)
        #expect(!expected.isEmpty)
        // A file of the folder loads the folder.
        #expect(try Tokenizer.load(path: fixtures.appendingPathComponent("vocab.json").path).encode(text, addSpecialTokens: false) == expected)
        // A .diffu file: its embedded tokenizer (the converter embeds the same gpt2 files).
        let (directory, path) = try EndToEndTests.convertedFile("gpt2_plain_f32", recipe: .f32)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try Tokenizer.load(path: path).encode(text, addSpecialTokens: false) == expected)
        #expect(throws: DiffuError.noSuchFile("/nonexistent/tokenizer")) { _ = try Tokenizer.load(path: "/nonexistent/tokenizer") }
        let other = TestFixtures.url("models/gpt2_plain_f32/config.json").path
        #expect(throws: DiffuError.unrecognizedTokenizerPath(other)) { _ = try Tokenizer.load(path: other) }
    }

    @Test func kernelBenchmarksCheckTheirArgumentsAndTimeEveryRun() throws {
        #expect(KernelBenchmark.matrixStorageNames == ["f32", "f16", "bf16", "q8", "q4"])
        #expect(throws: DiffuError.invalidRequest("unknown storage 'bytes' (f32, f16, bf16, q8, q4)")) {
            try KernelBenchmark.checkMatrixMultiply(rows: 1, inputs: 32, outputs: 16, storage: "bytes")
        }
        #expect(throws: DiffuError.invalidRequest("rows, inputs and outputs must be positive")) {
            try KernelBenchmark.checkMatrixMultiply(rows: 0, inputs: 32, outputs: 16, storage: "q8")
        }
        #expect(throws: DiffuError.invalidRequest("the matrix \(Int.max) × 32 is too large")) {
            try KernelBenchmark.checkMatrixMultiply(rows: 1, inputs: 32, outputs: .max, storage: "q8")
        }
        let product = try KernelBenchmark.matrixMultiply(rows: 3, inputs: 64, outputs: 32, storage: "q4", threads: 1, repetitions: 3)
        #expect(product.wallSeconds.count == 3 && product.cpuSeconds.count == 3)
        #expect(product.wallSeconds == product.wallSeconds.sorted() && product.minimumSeconds <= product.medianSeconds)
        let (variant, attention) = try KernelBenchmark.attention(tokens: 5, heads: 2, keyValueHeads: 1, dimension: 8, causal: true,
                                                                 threads: 1, repetitions: 2)
        #expect(KernelVariant.supported.contains(variant))
        #expect(attention.wallSeconds.count == 2)
        #expect(throws: DiffuError.invalidRequest("the key/value heads must divide the heads")) {
            _ = try KernelBenchmark.attention(tokens: 5, heads: 3, keyValueHeads: 2, dimension: 8, causal: false, threads: 1, repetitions: 1)
        }
    }
}

// Sampler overhead per step on synthetic logits (no model): how long DiffuSamplers itself takes
// between forward passes, for realistic vocabularies and canvas lengths, with the kernel variant the
// package chooses for this CPU (DIFFU_KERNELS=avx2 … forces one). Not part of CI. Run from the repository root:
//   swift run -c release SamplerBenchmark [NAME ...] [--only SAMPLER]
// NAME: SmolLM2, DiffuGPT, DiffuLLaMA, Dream (all when none); SAMPLER: random-keep, confidence or entropy (all when
// not given; one alone is what a profiler should see).
import DiffuKernels
import DiffuSamplers
import Foundation

/// Pre-computed logits with a long-tailed shape (a few strong tokens, many weak ones), served for any row.
final class SyntheticLogits: LogitsProvider, @unchecked Sendable {
    let vocabularySize: Int
    let table: [Float]  // 64 distinct rows, reused
    /// CPU seconds spent inside `logits` (copying rows), to subtract from the sampler's time.
    var providerSeconds = 0.0
    init(vocabularySize: Int) {
        self.vocabularySize = vocabularySize
        var generator = SeededRandomSource(seed: 1)
        var table: [Float] = []
        table.reserveCapacity(64 * vocabularySize)
        for _ in 0..<(64 * vocabularySize) {
            let u = generator.nextUniform()
            table.append(Float(12 * pow(u, 6)))  // most logits near 0, a few up to 12
        }
        self.table = table
    }
    func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
        var output: [Float] = []
        try logits(tokens: tokens, positions: positions, causal: causal, into: &output)
        return output
    }
    /// In place, as the model's provider does: the sampler hands each step's array back, so the 50 MB of a
    /// 256-row canvas are mapped once, not once per step (which would charge page faults to the sampler).
    func logits(tokens: [Int32], positions: [Int], causal: Bool, into output: inout [Float]) throws {
        let start = cpuSeconds()
        defer { providerSeconds += cpuSeconds() - start }
        output.removeAll(keepingCapacity: true)
        output.reserveCapacity(positions.count * vocabularySize)
        for position in positions {
            let row = position % 64
            output.append(contentsOf: table[(row * vocabularySize)..<((row + 1) * vocabularySize)])
        }
    }
}

/// Process CPU time (all threads), which stays meaningful on a loaded machine.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

@main
struct SamplerBenchmark {
    static func main() throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var only: String? = nil
        if let flag = arguments.firstIndex(of: "--only"), flag + 1 < arguments.count {
            only = arguments[flag + 1]
            arguments.removeSubrange(flag...(flag + 1))
        }
        let wanted = Set(arguments)
        print("kernel variant: \(KernelVariant.active)")
        let shapes = [("SmolLM2", 49152, 257), ("DiffuGPT", 50257, 512), ("DiffuLLaMA", 32000, 1024), ("Dream", 152064, 257)]
        for (name, vocabulary, length) in shapes where wanted.isEmpty || wanted.contains(name) {
            let provider = SyntheticLogits(vocabularySize: vocabulary)
            printRowKernelTimes(name: name, provider: provider)
            let canvas = try Canvas.prefix(prompt: [1], generationLength: length - 1)
            let configurations: [(String, SamplingParameters)] = [
                ("random-keep T=8 top-p 0.9", .randomKeep(maskToken: 0, steps: 8)),
                ("confidence greedy T=8", .confidence(maskToken: 0, steps: 8, greedy: true)),
                ("entropy T=8 top-p 0.95", .dream(maskToken: 0, steps: 8)),
            ]
            for (label, parameters) in configurations where only.map({ label.hasPrefix($0) }) ?? true {
                for threads in [1, ProcessInfo.processInfo.activeProcessorCount] {
                    let sampler = try DiffusionSampler(parameters: parameters, threads: threads)
                    var random = SeededRandomSource(seed: 2)
                    provider.providerSeconds = 0
                    let start = Date()
                    let cpuStart = cpuSeconds()
                    let result = try sampler.generate(canvas: canvas, provider: provider, random: &random)
                    let wall = Date().timeIntervalSince(start)
                    let cpu = cpuSeconds() - cpuStart - provider.providerSeconds
                    let steps = Double(max(result.steps, 1))
                    print(String(format: "%@ V=%d L=%d %@ threads=%d: sampler %.4f CPU-s/step, %.4f wall-s/step incl. provider (%d steps)",
                                 name, vocabulary, length, label, threads, cpu / steps, wall / steps, result.steps))
                }
            }
        }
    }
}

/// The softmax-weights kernel alone on one row already in cache (the sampler reads each row first for its
/// maximum): nanoseconds per vocabulary entry, best of 200 calls.
func printRowKernelTimes(name: String, provider: SyntheticLogits) {
    let source = Array(provider.table[0..<provider.vocabularySize])
    let maximum = source.max() ?? 0
    var row = source
    var best = Double.infinity
    for _ in 0..<200 {
        row.withUnsafeMutableBufferPointer { buffer in
            _ = buffer.initialize(from: source)
            let start = DispatchTime.now().uptimeNanoseconds
            _ = LogitsRow.exponentials(buffer.baseAddress!, count: buffer.count, maximum: maximum)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start))
        }
    }
    print(String(format: "%@ V=%d LogitsRow.exponentials: %.3f ns/entry (row in cache)", name, provider.vocabularySize,
                 best / Double(provider.vocabularySize)))
}

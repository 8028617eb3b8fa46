import ArgumentParser
import Diffu

/// Turns the facade's argument check into a usage error (exit status 64, with the usage text).
private func usageError(_ check: () throws -> Void) throws {
    do { try check() } catch DiffuError.invalidRequest(let detail) { throw ValidationError(detail) }
}

/// `diffu bench-gemm`: times `MatrixMultiply.multiply` on random weights of one storage type.
///
/// Prints the median of `--repeat` timed runs (after one warm-up run) and the GFLOP/s it implies
/// (`2·L·K·N` floating-point operations per product), and the median process CPU time per run: on a
/// shared machine, CPU time is not inflated by waiting for a core, so `cpu(1 thread) / (cpu(N) / N)`
/// estimates the N-thread speedup the kernel would get on idle cores (load imbalance excluded).
struct BenchGemmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-gemm",
        abstract: "Time the matrix-multiply kernel: y[rows × n] = x[rows × k] · Wᵀ."
    )

    @Option(help: "Activation rows L (token positions).")
    var rows: Int = 256
    @Option(help: "Inputs K (weight columns).")
    var k: Int = 576
    @Option(help: "Outputs N (weight rows).")
    var n: Int = 1536
    @Option(help: "Weight storage: \(KernelBenchmark.matrixStorageNames.joined(separator: ", ")).")
    var storage: String = "q8"
    @Option(help: "Worker threads.")
    var threads: Int = 1
    @Option(name: .customLong("repeat"), help: "Timed runs (the median is reported).")
    var repetitions: Int = 9
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard rows > 0, k > 0, n > 0 else { throw ValidationError("--rows, --k and --n must be positive") }
        guard threads > 0, repetitions > 0 else { throw ValidationError("--threads and --repeat must be positive") }
        try usageError { try KernelBenchmark.checkMatrixMultiply(rows: rows, inputs: k, outputs: n, storage: storage) }
    }

    func run() throws {
        let timings = try KernelBenchmark.matrixMultiply(rows: rows, inputs: k, outputs: n, storage: storage, threads: threads,
                                                         repetitions: repetitions)
        let median = timings.medianSeconds
        let medianCPU = timings.medianCPUSeconds
        let flops = 2.0 * Double(rows) * Double(k) * Double(n)
        let gflops = flops / median / 1e9
        if json {
            let fields = [
                "\"rows\": \(rows)", "\"k\": \(k)", "\"n\": \(n)", "\"storage\": \"\(storage)\"",
                "\"threads\": \(threads)", "\"repeat\": \(repetitions)",
                "\"median_seconds\": \(median)", "\"min_seconds\": \(timings.minimumSeconds)", "\"gflops\": \(gflops)",
                "\"median_cpu_seconds\": \(medianCPU)",
            ]
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            let milliseconds = (median * 1e3 * 1000).rounded() / 1000
            let rate = (gflops * 10).rounded() / 10
            let cpuMilliseconds = (medianCPU * 1e3 * 1000).rounded() / 1000
            print("bench-gemm rows \(rows) k \(k) n \(n) \(storage) threads \(threads): median \(milliseconds) ms, \(rate) GFLOP/s, CPU \(cpuMilliseconds) ms")
        }
    }
}

/// `diffu bench-attention`: times `Attention.compute` (self-attention of `--tokens` rows, random
/// queries, keys and values) with the active kernel variant (`DIFFU_KERNELS` forces one).
///
/// Prints the median of `--repeat` timed runs (after one warm-up run), the GFLOP/s it implies and the
/// median process CPU time per run (see `bench-gemm`): `4·L²·heads·dimension` operations for
/// bidirectional attention (scores and value sums, 2 per multiply-add), half of that for causal attention.
struct BenchAttentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-attention",
        abstract: "Time the attention kernel: softmax(q·kᵀ/√d)·v over --tokens rows."
    )

    @Option(help: "Sequence length L (queries = keys).")
    var tokens: Int = 256
    @Option(help: "Query heads.")
    var heads: Int = 9
    @Option(name: .customLong("kv-heads"), help: "Key/value heads (divides --heads).")
    var keyValueHeads: Int = 3
    @Option(help: "Floats per head.")
    var dimension: Int = 64
    @Flag(help: "Causal attention.")
    var causal = false
    @Option(help: "Worker threads.")
    var threads: Int = 1
    @Option(name: .customLong("repeat"), help: "Timed runs (the median is reported).")
    var repetitions: Int = 9
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard tokens > 0, heads > 0, keyValueHeads > 0, dimension > 0 else {
            throw ValidationError("--tokens, --heads, --kv-heads and --dimension must be positive")
        }
        guard heads % keyValueHeads == 0 else { throw ValidationError("--kv-heads must divide --heads") }
        guard threads > 0, repetitions > 0 else { throw ValidationError("--threads and --repeat must be positive") }
        let (size, overflow) = tokens.multipliedReportingOverflow(by: heads * dimension)
        guard !overflow, size <= 1 << 28 else { throw ValidationError("--tokens × --heads × --dimension is too large") }
    }

    func run() throws {
        let (variant, timings) = try KernelBenchmark.attention(
            tokens: tokens, heads: heads, keyValueHeads: keyValueHeads, dimension: dimension, causal: causal, threads: threads,
            repetitions: repetitions)
        let median = timings.medianSeconds
        let medianCPU = timings.medianCPUSeconds
        let operations = 4.0 * Double(tokens) * Double(tokens) * Double(heads) * Double(dimension) * (causal ? 0.5 : 1)
        let gflops = operations / median / 1e9
        if json {
            let fields = [
                "\"tokens\": \(tokens)", "\"heads\": \(heads)", "\"kv_heads\": \(keyValueHeads)", "\"dimension\": \(dimension)",
                "\"causal\": \(causal)", "\"threads\": \(threads)", "\"kernel_variant\": \"\(variant)\"",
                "\"median_seconds\": \(median)", "\"min_seconds\": \(timings.minimumSeconds)", "\"gflops\": \(gflops)",
                "\"median_cpu_seconds\": \(medianCPU)", "\"gflops_per_cpu_second\": \(operations / medianCPU / 1e9)",
            ]
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            let milliseconds = (median * 1e6).rounded() / 1e3
            print("bench-attention \(variant) L \(tokens) heads \(heads)/\(keyValueHeads) d \(dimension)\(causal ? " causal" : "") threads \(threads): median \(milliseconds) ms, \((gflops * 10).rounded() / 10) GFLOP/s, CPU \((medianCPU * 1e6).rounded() / 1e3) ms (\((operations / medianCPU / 1e8).rounded() / 10) GFLOP per CPU second)")
        }
    }
}

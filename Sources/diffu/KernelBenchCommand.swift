import ArgumentParser
import CDiffuSystem
import DiffuKernels
import DiffuStorage
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What both kernel benchmarks share: the build's CPU check, deterministic inputs, timed runs.
enum KernelBench {
    /// Refuses to run an AVX2 build on a CPU without AVX2/FMA/F16C.
    static func checkCPU() throws {
        #if DIFFU_AVX2
        guard diffu_cpu_supports_avx2_fma() == 1 else {
            throw ValidationError("this build uses AVX2/FMA/F16C, which this CPU lacks; rebuild with DIFFU_PORTABLE=1")
        }
        #endif
    }

    /// `count` values in [-1, 1] times `scale` from a 64-bit LCG seeded with `seed` (inputs only).
    static func values(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000 * scale
        }
    }

    /// Runs `body` once to warm up, then `repetitions` times; the sorted wall-clock and process-CPU
    /// seconds of the timed runs.
    static func time(repetitions: Int, _ body: () -> Void) -> (wall: [Double], cpu: [Double]) {
        var wall: [Double] = [], cpu: [Double] = []
        for iteration in 0...repetitions {
            let cpuStart = processCPUSeconds()
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let cpuSeconds = processCPUSeconds() - cpuStart
            if iteration > 0 { wall.append(elapsed); cpu.append(cpuSeconds) }
        }
        return (wall.sorted(), cpu.sorted())
    }

    /// CPU time consumed so far by all threads of this process, in seconds.
    static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
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
    @Option(help: "Weight storage: f32, f16, bf16, q8 or q4.")
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
        guard let type = StorageType(name: storage), type != .bytes else {
            throw ValidationError("unknown --storage '\(storage)' (f32, f16, bf16, q8, q4)")
        }
        guard PanelGeometry(rows: n, columns: k, storage: type) != nil else {
            throw ValidationError("the matrix \(n) × \(k) is too large")
        }
        let (activations, overflow1) = rows.multipliedReportingOverflow(by: max(k, n))
        guard !overflow1, activations <= 1 << 31 else { throw ValidationError("--rows × max(k, n) is too large") }
    }

    func run() throws {
        try KernelBench.checkCPU()
        let type = StorageType(name: storage)!
        let geometry = PanelGeometry(rows: n, columns: k, storage: type)!
        let weightValues = KernelBench.values(n * k, seed: 0x9E37_79B9_7F4A_7C15, scale: 0.05)
        let x = KernelBench.values(rows * k, seed: 0x9E37_79B9_7F4A_7C16)
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: geometry.byteCount, alignment: 64)
        defer { payload.deallocate() }
        try weightValues.withUnsafeBufferPointer { try WeightPacking.pack($0, geometry: geometry, into: payload) }
        let matrix = WeightMatrix(geometry: geometry, base: UnsafeRawPointer(payload.baseAddress!))
        var y = [Float](repeating: 0, count: rows * n)
        let (seconds, cpuSeconds) = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                KernelBench.time(repetitions: repetitions) {
                    MatrixMultiply.multiply(xp.baseAddress!, rowCount: rows, weights: matrix, into: yp.baseAddress!, threads: threads)
                }
            }
        }
        let median = seconds[seconds.count / 2]
        let medianCPU = cpuSeconds[cpuSeconds.count / 2]
        let flops = 2.0 * Double(rows) * Double(k) * Double(n)
        let gflops = flops / median / 1e9
        if json {
            let fields = [
                "\"rows\": \(rows)", "\"k\": \(k)", "\"n\": \(n)", "\"storage\": \"\(type.name)\"",
                "\"threads\": \(threads)", "\"repeat\": \(repetitions)",
                "\"median_seconds\": \(median)", "\"min_seconds\": \(seconds[0])", "\"gflops\": \(gflops)",
                "\"median_cpu_seconds\": \(medianCPU)",
            ]
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            let milliseconds = (median * 1e3 * 1000).rounded() / 1000
            let rate = (gflops * 10).rounded() / 10
            let cpuMilliseconds = (medianCPU * 1e3 * 1000).rounded() / 1000
            print("bench-gemm rows \(rows) k \(k) n \(n) \(type.name) threads \(threads): median \(milliseconds) ms, \(rate) GFLOP/s, CPU \(cpuMilliseconds) ms")
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
        try KernelBench.checkCPU()
        let variant = try KernelVariant.requested()
        let query = KernelBench.values(tokens * heads * dimension, seed: 0x2545_F491_4F6C_DD1D)
        let key = KernelBench.values(tokens * keyValueHeads * dimension, seed: 0x2545_F491_4F6C_DD1E)
        let value = KernelBench.values(tokens * keyValueHeads * dimension, seed: 0x2545_F491_4F6C_DD1F)
        var output = [Float](repeating: 0, count: tokens * heads * dimension)
        let geometry = AttentionGeometry(queryCount: tokens, keyCount: tokens, headCount: heads, keyValueHeadCount: keyValueHeads,
                                         headDimension: dimension, causal: causal)
        let scale = Float(1 / Double(dimension).squareRoot())
        let (seconds, cpuSeconds) = KernelBench.time(repetitions: repetitions) {
            Attention.compute(query: query, key: key, value: value, output: &output, geometry: geometry, scale: scale,
                              threads: threads, variant: variant)
        }
        let median = seconds[seconds.count / 2]
        let medianCPU = cpuSeconds[cpuSeconds.count / 2]
        let operations = 4.0 * Double(tokens) * Double(tokens) * Double(heads) * Double(dimension) * (causal ? 0.5 : 1)
        let gflops = operations / median / 1e9
        if json {
            let fields = [
                "\"tokens\": \(tokens)", "\"heads\": \(heads)", "\"kv_heads\": \(keyValueHeads)", "\"dimension\": \(dimension)",
                "\"causal\": \(causal)", "\"threads\": \(threads)", "\"kernel_variant\": \"\(variant)\"",
                "\"median_seconds\": \(median)", "\"min_seconds\": \(seconds[0])", "\"gflops\": \(gflops)",
                "\"median_cpu_seconds\": \(medianCPU)", "\"gflops_per_cpu_second\": \(operations / medianCPU / 1e9)",
            ]
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            let milliseconds = (median * 1e6).rounded() / 1e3
            print("bench-attention \(variant) L \(tokens) heads \(heads)/\(keyValueHeads) d \(dimension)\(causal ? " causal" : "") threads \(threads): median \(milliseconds) ms, \((gflops * 10).rounded() / 10) GFLOP/s, CPU \((medianCPU * 1e6).rounded() / 1e3) ms (\((operations / medianCPU / 1e8).rounded() / 10) GFLOP per CPU second)")
        }
    }
}

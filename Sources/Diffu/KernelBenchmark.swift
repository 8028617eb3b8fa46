import DiffuKernels
import DiffuSamplers
import DiffuStorage
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Times the two hot kernels on deterministic inputs (`diffu bench-gemm`, `diffu bench-attention`):
/// one warm-up run, then timed runs, with the wall-clock and the process CPU time of each.
///
/// On a shared machine CPU time is not inflated by waiting for a core, so
/// `cpu(1 thread) / (cpu(N) / N)` estimates the N-thread speedup on idle cores (load imbalance excluded).
public enum KernelBenchmark {
    /// The timed runs of a benchmark, each list sorted ascending.
    public struct Timings: Sendable, Equatable {
        /// Wall-clock seconds per run.
        public let wallSeconds: [Double]
        /// Process CPU seconds (all threads) per run.
        public let cpuSeconds: [Double]
        /// The median wall-clock seconds.
        public var medianSeconds: Double { wallSeconds[wallSeconds.count / 2] }
        /// The fastest run's wall-clock seconds.
        public var minimumSeconds: Double { wallSeconds[0] }
        /// The median CPU seconds.
        public var medianCPUSeconds: Double { cpuSeconds[cpuSeconds.count / 2] }
    }

    /// The weight storage types a matrix can be stored in, by name (every ``StorageType`` with a panel
    /// layout): what ``matrixMultiply(rows:inputs:outputs:storage:threads:repetitions:)`` takes.
    public static var matrixStorageNames: [String] {
        StorageType.allCases.filter { PanelGeometry(rows: 16, columns: 32, storage: $0) != nil }.map(\.name)
    }

    /// Checks the arguments of ``matrixMultiply(rows:inputs:outputs:storage:threads:repetitions:)``.
    /// - Throws: ``DiffuError/invalidRequest(_:)`` naming the first problem.
    public static func checkMatrixMultiply(rows: Int, inputs: Int, outputs: Int, storage: String) throws {
        guard rows > 0, inputs > 0, outputs > 0 else { throw DiffuError.invalidRequest("rows, inputs and outputs must be positive") }
        guard let type = StorageType(name: storage), matrixStorageNames.contains(type.name) else {
            throw DiffuError.invalidRequest("unknown storage '\(storage)' (\(matrixStorageNames.joined(separator: ", ")))")
        }
        guard PanelGeometry(rows: outputs, columns: inputs, storage: type) != nil else {
            throw DiffuError.invalidRequest("the matrix \(outputs) × \(inputs) is too large")
        }
        let (activations, overflow) = rows.multipliedReportingOverflow(by: max(inputs, outputs))
        guard !overflow, activations <= 1 << 31 else { throw DiffuError.invalidRequest("rows × max(inputs, outputs) is too large") }
    }

    /// Times `y[rows × outputs] = x[rows × inputs] · Wᵀ` (the kernel every projection runs) with random
    /// weights in `storage`, packed into the panel layout, and the active kernel variant.
    /// - Throws: ``DiffuError`` for bad arguments (``checkMatrixMultiply(rows:inputs:outputs:storage:)``)
    ///   or a CPU this build cannot run on.
    public static func matrixMultiply(rows: Int, inputs: Int, outputs: Int, storage: String, threads: Int,
                                      repetitions: Int) throws -> Timings {
        try CPUSupport.check()
        try checkMatrixMultiply(rows: rows, inputs: inputs, outputs: outputs, storage: storage)
        try checkRuns(threads: threads, repetitions: repetitions)
        let geometry = PanelGeometry(rows: outputs, columns: inputs, storage: StorageType(name: storage)!)!
        let weightValues = values(outputs * inputs, seed: 0x9E37_79B9_7F4A_7C15, scale: 0.05)
        let x = values(rows * inputs, seed: 0x9E37_79B9_7F4A_7C16)
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: geometry.byteCount, alignment: 64)
        defer { payload.deallocate() }
        try weightValues.withUnsafeBufferPointer { try WeightPacking.pack($0, geometry: geometry, into: payload) }
        let matrix = WeightMatrix(geometry: geometry, base: UnsafeRawPointer(payload.baseAddress!))
        var y = [Float](repeating: 0, count: rows * outputs)
        return x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                time(repetitions: repetitions) {
                    MatrixMultiply.multiply(xp.baseAddress!, rowCount: rows, weights: matrix, into: yp.baseAddress!, threads: threads)
                }
            }
        }
    }

    /// Times self-attention `softmax(q·kᵀ/√d)·v` of `tokens` rows (random queries, keys and values) with
    /// the requested kernel variant (``KernelVariant/requested()``: `DIFFU_KERNELS` or the best supported).
    /// - Returns: the variant that ran and the timings.
    /// - Throws: ``DiffuError/invalidRequest(_:)`` for bad sizes, `KernelVariantError` for an unusable variant.
    public static func attention(tokens: Int, heads: Int, keyValueHeads: Int, dimension: Int, causal: Bool, threads: Int,
                                 repetitions: Int) throws -> (variant: KernelVariant, timings: Timings) {
        try CPUSupport.check()
        guard tokens > 0, heads > 0, keyValueHeads > 0, dimension > 0 else {
            throw DiffuError.invalidRequest("tokens, heads, key/value heads and dimension must be positive")
        }
        guard heads % keyValueHeads == 0 else { throw DiffuError.invalidRequest("the key/value heads must divide the heads") }
        let (size, overflow) = tokens.multipliedReportingOverflow(by: heads * dimension)
        guard !overflow, size <= 1 << 28 else { throw DiffuError.invalidRequest("tokens × heads × dimension is too large") }
        try checkRuns(threads: threads, repetitions: repetitions)
        let variant = try KernelVariant.requested()
        let query = values(tokens * heads * dimension, seed: 0x2545_F491_4F6C_DD1D)
        let key = values(tokens * keyValueHeads * dimension, seed: 0x2545_F491_4F6C_DD1E)
        let value = values(tokens * keyValueHeads * dimension, seed: 0x2545_F491_4F6C_DD1F)
        var output = [Float](repeating: 0, count: tokens * heads * dimension)
        let geometry = AttentionGeometry(queryCount: tokens, keyCount: tokens, headCount: heads, keyValueHeadCount: keyValueHeads,
                                         headDimension: dimension, causal: causal)
        let scale = Float(1 / Double(dimension).squareRoot())
        let timings = time(repetitions: repetitions) {
            Attention.compute(query: query, key: key, value: value, output: &output, geometry: geometry, scale: scale,
                              threads: threads, variant: variant)
        }
        return (variant, timings)
    }

    private static func checkRuns(threads: Int, repetitions: Int) throws {
        guard threads > 0, repetitions > 0 else { throw DiffuError.invalidRequest("threads and repetitions must be positive") }
    }

    /// `count` values in [-1, 1] times `scale` (steps of 1/1000) from ``SplitMix64`` seeded with `seed`
    /// (inputs only).
    static func values(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var generator = SplitMix64(state: seed)
        return (0..<count).map { _ in
            Float(Int64(bitPattern: generator.next() >> 11) % 2001 - 1000) / 1000 * scale
        }
    }

    /// Runs `body` once to warm up, then `repetitions` times.
    static func time(repetitions: Int, _ body: () -> Void) -> Timings {
        var wall: [Double] = [], cpu: [Double] = []
        for iteration in 0...repetitions {
            let cpuStart = processCPUSeconds()
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let cpuSeconds = processCPUSeconds() - cpuStart
            if iteration > 0 { wall.append(elapsed); cpu.append(cpuSeconds) }
        }
        return Timings(wallSeconds: wall.sorted(), cpuSeconds: cpu.sorted())
    }

    /// CPU time consumed so far by all threads of this process, in seconds.
    static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

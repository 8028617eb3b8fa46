/// Element-wise activations and residual additions over contiguous f32 buffers.
///
/// Every function treats its buffers as flat arrays of `count` values; input and output may alias.
public enum Activations {
    /// The tanh approximation of GELU (Hugging Face `gelu_new`, GPT-2):
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, evaluated as the identical `x·σ(2u)` (no cancellation).
    public static func geluTanh(_ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>, threads: Int) {
        forEachChunk(count: count, threads: threads) { start, end in
            map(input + start, end - start, output + start) { x in
                let inner = x * (SIMD8(repeating: 0.797_884_56) + SIMD8(repeating: 0.797_884_56 * 0.044715) * x * x)
                return x * FastMath.sigmoid(inner + inner)
            }
        }
    }

    /// SiLU (swish): `x·σ(x)`.
    public static func silu(_ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>, threads: Int) {
        forEachChunk(count: count, threads: threads) { start, end in
            map(input + start, end - start, output + start) { x in x * FastMath.sigmoid(x) }
        }
    }

    /// SwiGLU (LLaMA MLP): `output = silu(gate) · up`, element-wise.
    public static func swiGLU(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>, threads: Int
    ) {
        forEachChunk(count: count, threads: threads) { start, end in
            var index = start
            while index + 8 <= end {
                let g = Vector.load(gate + index)
                Vector.store(g * FastMath.sigmoid(g) * Vector.load(up + index), output + index)
                index += 8
            }
            if index < end {
                let g = Vector.loadPartial(gate + index, end - index)
                let u = Vector.loadPartial(up + index, end - index)
                Vector.storePartial(g * FastMath.sigmoid(g) * u, output + index, end - index)
            }
        }
    }

    /// `accumulator += addend`, element-wise (residual connections).
    public static func add(_ addend: UnsafePointer<Float>, into accumulator: UnsafeMutablePointer<Float>, count: Int, threads: Int) {
        forEachChunk(count: count, threads: threads) { start, end in
            var index = start
            while index + 8 <= end {
                Vector.store(Vector.load(accumulator + index) + Vector.load(addend + index), accumulator + index)
                index += 8
            }
            while index < end { accumulator[index] += addend[index]; index += 1 }
        }
    }

    @inline(__always)
    private static func map(
        _ input: UnsafePointer<Float>, _ count: Int, _ output: UnsafeMutablePointer<Float>,
        _ function: (SIMD8<Float>) -> SIMD8<Float>
    ) {
        var index = 0
        while index + 8 <= count {
            Vector.store(function(Vector.load(input + index)), output + index)
            index += 8
        }
        if index < count {
            Vector.storePartial(function(Vector.loadPartial(input + index, count - index)), output + index, count - index)
        }
    }

    /// Splits `0..<count` into chunks (multiples of 8) over workers when the buffer is large.
    static func forEachChunk(count: Int, threads: Int, _ body: (Int, Int) -> Void) {
        let workers = max(1, min(threads, count / 32_768))
        Parallel.forEach(workers) { worker in
            let start = (count * worker / workers) & ~7
            let end = worker == workers - 1 ? count : (count * (worker + 1) / workers) & ~7
            body(start, end)
        }
    }
}

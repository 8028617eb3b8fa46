import Dispatch

/// Fork-join parallelism for kernels: one `DispatchQueue.concurrentPerform` per call (≈0.4 µs).
public enum Parallel {
    /// Runs `body(i)` for every `i` in `0..<iterations`, concurrently, and returns when all are done.
    ///
    /// The closure may capture unsafe pointers: callers guarantee that iterations write disjoint memory.
    public static func forEach(_ iterations: Int, _ body: (Int) -> Void) {
        if iterations <= 0 { return }
        if iterations == 1 { body(0); return }
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendableBox(escapable)
            DispatchQueue.concurrentPerform(iterations: iterations) { box.value($0) }
        }
    }
}

/// Carries a value across a `@Sendable` boundary when the caller guarantees race freedom.
struct UncheckedSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

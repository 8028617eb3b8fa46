import CDiffuSystem
import Dispatch
import Foundation

/// Fork-join parallelism for kernels.
///
/// A forward pass forks a few hundred times, often for well under a millisecond of work. Waking a
/// sleeping thread per fork costs more than that on a VM (`concurrentPerform` gave 1.0–1.3× at 2 threads
/// for 0.5–1.7 ms products), so calls go to ``SpinningPool``: workers that keep spinning for a while
/// after each job (as OpenMP and ggml's threads do) and sleep only when the process is idle.
public enum Parallel {
    /// Runs `body(i)` for every `i` in `0..<iterations`, concurrently, and returns when all are done.
    ///
    /// The closure may capture unsafe pointers: callers guarantee that iterations write disjoint memory.
    public static func forEach(_ iterations: Int, _ body: (Int) -> Void) {
        if iterations <= 0 { return }
        if iterations == 1 { body(0); return }
        if SpinningPool.shared.run(iterations, body) { return }
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

/// A process-wide pool of `activeProcessorCount - 1` worker threads for ``Parallel/forEach(_:_:)``.
///
/// One caller at a time (others fall back to `concurrentPerform`). A job is published by storing the
/// closure, then the claim word `generation << 32 | next index` and the generation; workers and the
/// caller claim indices with compare-and-swap on the claim word, so a worker that wakes late can never
/// run an index of another job, and the closure stays valid while any claimed index of its job is
/// unfinished (the caller returns only when `done == iterations`). Workers spin on the generation for
/// ``spinDuration`` after their last job, then sleep on a semaphore; the caller wakes sleepers.
final class SpinningPool: @unchecked Sendable {
    /// The pool the kernels use.
    static let shared = SpinningPool(workerCount: max(0, ProcessInfo.processInfo.activeProcessorCount - 1))
    /// How long an idle worker spins before it sleeps.
    static let spinDuration: UInt64 = 5_000_000  // nanoseconds

    // Shared words, each on its own 64-byte line: claim, done, generation, limit (the job's iteration
    // count), then one sleeping flag per worker.
    private static let lineWords = 8
    private let words: UnsafeMutablePointer<Int>
    private var claim: UnsafeMutablePointer<Int> { words }
    private var done: UnsafeMutablePointer<Int> { words + Self.lineWords }
    private var generation: UnsafeMutablePointer<Int> { words + 2 * Self.lineWords }
    private var limit: UnsafeMutablePointer<Int> { words + 3 * Self.lineWords }
    private func sleeping(_ worker: Int) -> UnsafeMutablePointer<Int> { words + (4 + worker) * Self.lineWords }

    private let workerCount: Int
    private let semaphores: [DispatchSemaphore]
    private let owner = NSLock()
    /// The current job; written only by the owning caller before it publishes a generation.
    private var job: ((Int) -> Void)?
    private var started = false

    private init(workerCount: Int) {
        self.workerCount = workerCount
        let count = (4 + workerCount) * Self.lineWords
        words = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Int>.stride, alignment: 64)
            .initializeMemory(as: Int.self, repeating: 0, count: count)
        semaphores = (0..<workerCount).map { _ in DispatchSemaphore(value: 0) }
    }

    /// Runs the job on the pool; `false` when the pool has no workers or is busy with another caller.
    func run(_ iterations: Int, _ body: (Int) -> Void) -> Bool {
        guard workerCount > 0, iterations < 1 << 31, owner.try() else { return false }
        defer { owner.unlock() }
        if !started { start() }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            diffu_atomic_store(limit, iterations)
            diffu_atomic_store(done, 0)
            let next = diffu_atomic_load(generation) &+ 1
            diffu_atomic_store(claim, next << 32)
            diffu_atomic_store(generation, next)
            for worker in 0..<workerCount where diffu_atomic_exchange(sleeping(worker), 0) == 1 {
                semaphores[worker].signal()
            }
            work(generation: next)
            while diffu_atomic_load(done) < iterations { diffu_spin_pause() }
            job = nil
        }
        return true
    }

    /// Claims and runs indices of job `generation` until none is left.
    private func work(generation expected: Int) {
        while true {
            let word = diffu_atomic_load(claim)
            let index = word & 0xFFFF_FFFF
            guard word >> 32 == expected, index < diffu_atomic_load(limit) else { return }
            guard diffu_atomic_compare_exchange(claim, word, word &+ 1) != 0 else { continue }
            job!(index)
            _ = diffu_atomic_fetch_add(done, 1)
        }
    }

    private func start() {
        started = true
        for worker in 0..<workerCount {
            let box = UncheckedSendableBox(self)
            let thread = Thread { box.value.workerLoop(worker) }
            thread.name = "diffu-kernels-\(worker)"
            thread.start()
        }
    }

    private func workerLoop(_ worker: Int) {
        var seen = diffu_atomic_load(generation)
        while true {
            var deadline = DispatchTime.now().uptimeNanoseconds &+ Self.spinDuration
            var spins = 0
            while diffu_atomic_load(generation) == seen {
                diffu_spin_pause()
                spins &+= 1
                if spins & 1023 == 0, DispatchTime.now().uptimeNanoseconds > deadline {
                    diffu_atomic_store(sleeping(worker), 1)
                    if diffu_atomic_load(generation) != seen {
                        // A job arrived meanwhile: take the flag back, or consume the caller's signal.
                        if diffu_atomic_exchange(sleeping(worker), 0) == 0 { semaphores[worker].wait() }
                        break
                    }
                    semaphores[worker].wait()
                    deadline = DispatchTime.now().uptimeNanoseconds &+ Self.spinDuration
                }
            }
            seen = diffu_atomic_load(generation)
            work(generation: seen)
        }
    }
}

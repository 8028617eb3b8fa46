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
/// closure and resetting `done`, then ``JobClaims/publish(generation:iterations:)``, then the
/// generation; workers and the caller claim indices through ``JobClaims`` (compare-and-swap on one
/// word that carries the job's generation), so a worker that wakes late can never run an index of
/// another job, and the closure stays valid while any claimed index of its job is unfinished (the
/// caller returns only when `done == iterations`). Workers spin on the generation for
/// ``spinDuration`` after their last job, then sleep on a semaphore; the caller wakes sleepers.
final class SpinningPool: @unchecked Sendable {
    /// The pool the kernels use.
    static let shared = SpinningPool(workerCount: max(0, ProcessInfo.processInfo.activeProcessorCount - 1))
    /// How long an idle worker spins before it sleeps.
    static let spinDuration: UInt64 = 5_000_000  // nanoseconds

    // Shared words, each on its own 64-byte line: the claim word and the limit word (``JobClaims``),
    // done, generation, then one sleeping flag per worker.
    private static let lineWords = 8
    private let words: UnsafeMutablePointer<Int>
    private var claims: JobClaims { JobClaims(claim: words, limit: words + Self.lineWords) }
    private var done: UnsafeMutablePointer<Int> { words + 2 * Self.lineWords }
    private var generation: UnsafeMutablePointer<Int> { words + 3 * Self.lineWords }
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
            diffu_atomic_store(done, 0)
            let next = diffu_atomic_load(generation) &+ 1
            claims.publish(generation: next, iterations: iterations)
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
        let claims = claims
        while let index = claims.claimNext(generation: expected) {
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

/// The index claims of ``SpinningPool``'s jobs: two shared words, `claim = generation << 32 | next index`
/// and `limit = generation << 32 | iteration count` (the low 31 bits of the generation, so both words stay
/// positive; a worker would have to stall across 2³¹ jobs to confuse two). An index is claimed by
/// compare-and-swap on the claim word, only while both words carry the claimant's generation and the
/// index is below that job's count.
///
/// The limit word carries the generation so that a stale claim word can never pass against the next
/// job's count: a worker that read `(g, n)` when job `g` (n iterations) was fully claimed, and then read
/// the limit after the caller had raised it for job `g + 1` but before it replaced the claim word, would
/// otherwise win the swap `(g, n) → (g, n + 1)`, run index `n` of job `g + 1` a second time and count it
/// as done — letting the caller return while an index was still running.
struct JobClaims {
    /// The claim word: generation (high bits) and next index (low 32 bits).
    let claim: UnsafeMutablePointer<Int>
    /// The limit word: generation (high bits) and iteration count (low 32 bits).
    let limit: UnsafeMutablePointer<Int>

    /// What one claim attempt found.
    enum Attempt: Equatable {
        /// The swap won: run this index.
        case claimed(Int)
        /// The observed word belongs to another job or is past the job's count: nothing left to claim.
        case exhausted
        /// Another claimant moved the word first: read it again.
        case contended
    }

    /// The bits of a generation the words carry.
    @inline(__always)
    static func tag(_ generation: Int) -> Int { generation & 0x7FFF_FFFF }

    /// Opens job `generation` with indices `0..<iterations` (`iterations` < 2³¹): the limit word first,
    /// then the claim word, so a claimant that reads the new claim word also reads the new limit.
    func publish(generation: Int, iterations: Int) {
        precondition(iterations >= 0 && iterations < 1 << 31, "job sizes fit 31 bits")
        diffu_atomic_store(limit, Self.tag(generation) << 32 | iterations)
        diffu_atomic_store(claim, Self.tag(generation) << 32)
    }

    /// Claims the next index of job `generation`, or `nil` when that job has none left (or is no longer
    /// the current one).
    func claimNext(generation: Int) -> Int? {
        while true {
            switch attempt(observed: diffu_atomic_load(claim), generation: generation) {
            case .claimed(let index): return index
            case .exhausted: return nil
            case .contended: continue
            }
        }
    }

    /// One claim attempt from a claim word read earlier (`observed`), checked against the limit word
    /// as it is now.
    func attempt(observed word: Int, generation: Int) -> Attempt {
        let tag = Self.tag(generation)
        let index = word & 0xFFFF_FFFF
        let bound = diffu_atomic_load(limit)
        guard word >> 32 == tag, bound >> 32 == tag, index < bound & 0xFFFF_FFFF else { return .exhausted }
        return diffu_atomic_compare_exchange(claim, word, word &+ 1) != 0 ? .claimed(index) : .contended
    }
}

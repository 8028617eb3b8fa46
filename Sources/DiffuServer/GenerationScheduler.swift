import Synchronization

/// Admission control: at most `parallel` generations run at once, at most `queueCapacity` requests wait
/// for a slot, and any request beyond that is refused at once (``APIError/overloaded(retryAfter:)``).
/// Waiters are served first come, first served; a waiter whose task is cancelled (client gone, time
/// limit) leaves the queue.
public final class GenerationScheduler: Sendable {
    /// Generations that may run at once.
    public let parallel: Int
    /// Requests that may wait for a slot.
    public let queueCapacity: Int
    private let state = Mutex(State())

    private struct State {
        var running = 0
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextWaiter: UInt64 = 0
        var closed = false
    }

    /// Creates a scheduler.
    public init(parallel: Int, queueCapacity: Int) {
        precondition(parallel >= 1 && queueCapacity >= 0)
        self.parallel = parallel
        self.queueCapacity = queueCapacity
    }

    /// Generations running now.
    public var runningCount: Int { state.withLock { $0.running } }
    /// Requests waiting for a slot now.
    public var queuedCount: Int { state.withLock { $0.waiters.count } }
    /// Whether ``close()`` was called (the server is draining).
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Takes a slot, waiting in the queue when all are taken. The slot is given back when the returned
    /// ``GenerationSlot`` is released or goes away.
    /// - Throws: ``APIError/overloaded(retryAfter:)`` when the queue is full, ``APIError/shuttingDown``
    ///   after ``close()``, `CancellationError` when cancelled while waiting.
    public func acquire() async throws -> GenerationSlot {
        enum Admission { case admitted, queued(UInt64), refused(APIError) }
        let admission: Admission = state.withLock { state in
            if state.closed { return .refused(.shuttingDown) }
            if state.running < parallel {
                state.running += 1
                return .admitted
            }
            guard state.waiters.count < queueCapacity else { return .refused(.overloaded(retryAfter: 1)) }
            state.nextWaiter += 1
            return .queued(state.nextWaiter)
        }
        switch admission {
        case .admitted: return GenerationSlot(scheduler: self)
        case .refused(let error): throw error
        case .queued(let id):
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let cancelled = state.withLock { state -> Bool in
                        if Task.isCancelled { return true }
                        state.waiters.append((id, continuation))
                        return false
                    }
                    if cancelled { continuation.resume(throwing: CancellationError()) }
                }
            } onCancel: {
                cancelWaiter(id)
            }
            return GenerationSlot(scheduler: self)
        }
    }

    /// Hands a slot to the first waiter, or frees it.
    fileprivate func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            if state.waiters.isEmpty {
                state.running -= 1
                return nil
            }
            return state.waiters.removeFirst().continuation  // the slot passes on: `running` is unchanged
        }
        next?.resume()
    }

    private func cancelWaiter(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index).continuation
        }
        waiter?.resume(throwing: CancellationError())
    }

    /// Refuses new work and fails every waiter with ``APIError/shuttingDown`` (running generations go on).
    public func close() {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: APIError.shuttingDown) }
    }
}

/// One generation slot of a ``GenerationScheduler``, given back once: by ``release()`` or, failing that,
/// when the last reference goes (a response that was never written must not keep its slot).
public final class GenerationSlot: Sendable {
    private let scheduler: GenerationScheduler
    private let released = Atomic(false)

    fileprivate init(scheduler: GenerationScheduler) {
        self.scheduler = scheduler
    }

    /// Gives the slot back (later calls do nothing).
    public func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { scheduler.release() }
    }

    deinit { release() }
}

/// A one-way signal that in-flight generations must stop (the server's drain time is over). Waiting is
/// cancellable: a waiter whose task is cancelled returns at once.
public final class StopSignal: Sendable {
    private let state = Mutex(State())

    private struct State {
        var stopped = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    /// Creates a signal that has not fired.
    public init() {}

    /// Whether the signal fired.
    public var isStopped: Bool { state.withLock { $0.stopped } }

    /// Fires the signal: every waiter returns.
    public func stop() {
        let waiters = state.withLock { state in
            state.stopped = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when the signal fires, or when the calling task is cancelled.
    public func wait() async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.stopped || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

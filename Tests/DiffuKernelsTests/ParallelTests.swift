import CDiffuSystem
@testable import DiffuKernels
import Foundation
import Testing

/// Two claim words on their own allocation, as `SpinningPool` lays them out.
private final class ClaimWords {
    let words = UnsafeMutablePointer<Int>.allocate(capacity: 16)
    init() { words.initialize(repeating: 0, count: 16) }
    deinit { words.deallocate() }
    var claims: JobClaims { JobClaims(claim: words, limit: words + 8) }
}

@Suite struct ParallelTests {
    /// The interleaving that let a worker run an index of the next job twice: it reads the claim word of a
    /// fully claimed job, the caller publishes a larger job, and the worker's swap must then fail.
    @Test func staleClaimWordCannotClaimInTheNextJob() {
        let words = ClaimWords()
        let claims = words.claims
        claims.publish(generation: 7, iterations: 2)
        #expect(claims.claimNext(generation: 7) == 0)
        #expect(claims.claimNext(generation: 7) == 1)
        #expect(claims.claimNext(generation: 7) == nil)
        let stale = diffu_atomic_load(claims.claim)  // (7, 2): read by a worker that then stalls
        // The caller raises the limit for job 8 before it replaces the claim word.
        diffu_atomic_store(claims.limit, JobClaims.tag(8) << 32 | 5)
        #expect(claims.attempt(observed: stale, generation: 7) == .exhausted)
        #expect(diffu_atomic_load(claims.claim) == stale)  // the swap never happened
        claims.publish(generation: 8, iterations: 5)
        #expect(claims.attempt(observed: stale, generation: 7) == .exhausted)
        #expect(claims.attempt(observed: stale, generation: 8) == .exhausted)
        #expect((0..<5).map { _ in claims.claimNext(generation: 8) } == [0, 1, 2, 3, 4])
        #expect(claims.claimNext(generation: 8) == nil)
    }

    /// A claim word read before another claimant's swap loses and is read again.
    @Test func contendedClaimIsRetried() {
        let words = ClaimWords()
        let claims = words.claims
        claims.publish(generation: 1, iterations: 3)
        let observed = diffu_atomic_load(claims.claim)
        #expect(claims.claimNext(generation: 1) == 0)
        #expect(claims.attempt(observed: observed, generation: 1) == .contended)
        #expect(claims.claimNext(generation: 1) == 1)
    }

    /// Generations wrap at 31 bits without colliding with the words' sign or with the previous job.
    @Test func generationTagsWrap() {
        let words = ClaimWords()
        let claims = words.claims
        let last = 0x7FFF_FFFF
        claims.publish(generation: last, iterations: 1)
        #expect(claims.claimNext(generation: last) == 0)
        claims.publish(generation: last + 1, iterations: 2)
        #expect(diffu_atomic_load(claims.claim) >= 0 && diffu_atomic_load(claims.limit) >= 0)
        #expect(claims.claimNext(generation: last) == nil)
        #expect(claims.claimNext(generation: last + 1) == 0)
    }

    /// Many small jobs of alternating sizes (the larger after the smaller, where a stale claim once won):
    /// every index runs exactly once per job, and all have finished when `forEach` returns. Before the
    /// claim words carried the generation, this crashed within 2 M jobs on every run here (the
    /// `withoutActuallyEscaping` check caught a worker still inside the closure after `forEach` returned).
    @Test func everyIndexRunsOncePerJob() {
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 8)
        defer { counts.deallocate() }
        var failures = 0
        for job in 0..<1_000_000 {
            let iterations = 2 + job % 3
            counts.initialize(repeating: 0, count: 8)
            nonisolated(unsafe) let slots = counts
            Parallel.forEach(iterations) { index in _ = diffu_atomic_fetch_add(slots + index, 1) }
            for index in 0..<8 where diffu_atomic_load(counts + index) != (index < iterations ? 1 : 0) { failures += 1 }
        }
        #expect(failures == 0)
    }
}

/// The scratch owners' layout rule: regions in order, each starting on a 16-float (64-byte) boundary, none
/// overlapping the next, the total covering the last.
@Suite struct AlignedRegionsTests {
    @Test func regionsAreAlignedOrderedAndDisjoint() {
        let counts = [1, 0, 16, 17, 1000, 3]
        let layout = AlignedRegions(counts: counts)
        #expect(layout.offsets == [0, 16, 16, 32, 64, 1072])
        #expect(layout.totalCount == 1088)
        for (index, count) in counts.enumerated() {
            #expect(layout.offsets[index] % 16 == 0)
            let end = layout.offsets[index] + count
            #expect(end <= (index + 1 < counts.count ? layout.offsets[index + 1] : layout.totalCount))
        }
        #expect(AlignedRegions(counts: []).totalCount == 0)
    }
}

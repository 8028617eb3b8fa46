import DiffuSamplers
import Testing

/// The package's one mixing generator against the published SplitMix64 outputs (Vigna's reference
/// `splitmix64.c`), so that `SeededRandomSource`'s seeding and every test's data stay what they were.
@Test func splitMix64MatchesTheReferenceOutputs() {
    var zero = SplitMix64(state: 0)
    #expect((0..<3).map { _ in zero.next() } == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    var seeded = SplitMix64(state: 1_234_567)
    #expect((0..<3).map { _ in seeded.next() } == [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423])
}

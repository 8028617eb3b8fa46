// The tests' deterministic generator is the package's one: DiffuSamplers' SplitMix64 (the generator that
// seeds SeededRandomSource), re-exported so every test target names it through DiffuTestSupport.
@_exported import struct DiffuSamplers.SplitMix64

extension SplitMix64 {
    /// A float in [-1, 1) from the top 53 bits of `next()` (test data).
    public mutating func nextSignedUnit() -> Float {
        Float(Double(next() >> 11) / Double(1 << 53)) * 2 - 1
    }
}

/// SplitMix64 (Steele, Lea and Flood, 2014): the small deterministic generator every test target uses
/// for reproducible data, so that a failure reproduces from its seed. Test support only, not a product.
public struct SplitMix64: RandomNumberGenerator {
    /// The generator's whole state; the seed is its initial value.
    public var state: UInt64

    /// Starts the sequence at `state`.
    public init(state: UInt64) { self.state = state }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    /// A float in [-1, 1) from the top 53 bits of `next()`.
    public mutating func nextSignedUnit() -> Float {
        Float(Double(next() >> 11) / Double(1 << 53)) * 2 - 1
    }
}

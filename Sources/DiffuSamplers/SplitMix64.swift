/// SplitMix64 (Steele, Lea and Flood, 2014): the package's one 64-bit mixing generator. It seeds
/// ``SeededRandomSource``'s xoshiro256** state, makes the kernel benchmark's inputs and the tests'
/// reproducible data. The same state gives the same sequence on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's whole state; the seed is its initial value.
    public var state: UInt64

    /// Starts the sequence at `state` (any value, zero included).
    public init(state: UInt64) { self.state = state }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

import DiffuTestSupport
import Foundation
import DiffuSamplers

/// The fake logits function of `tools/reference/fake_logits.py`, bit for bit: SplitMix64-style hashes of
/// the whole sequence (or its prefix, causal) and the (row, token) pair, mapped to [0, 8) in float32;
/// the mask token's logit is −8.
final class FakeLogitsProvider: LogitsProvider, @unchecked Sendable {
    let vocabularySize: Int
    let maskToken: Int32?
    /// Every request: the rows asked for, and the attention mode.
    private(set) var requests: [(positions: [Int], causal: Bool)] = []

    init(vocabularySize: Int, maskToken: Int32?) {
        self.vocabularySize = vocabularySize
        self.maskToken = maskToken
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z ^= z >> 30
        z = z &* 0xBF58_476D_1CE4_E5B9
        z ^= z >> 27
        z = z &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
        requests.append((positions, causal))
        var prefix: [UInt64] = []
        var hash: UInt64 = 0x243F_6A88_85A3_08D3
        for token in tokens {
            hash = Self.mix(hash ^ UInt64(Int64(token) + 1))
            prefix.append(hash)
        }
        var output: [Float] = []
        output.reserveCapacity(positions.count * vocabularySize)
        for row in positions {
            let context = causal ? prefix[row] : prefix[prefix.count - 1]
            let seed = Self.mix(context ^ Self.mix(UInt64(row + 1) &* 0x9E37_79B9_7F4A_7C15))
            for token in 0..<vocabularySize {
                if let maskToken, token == Int(maskToken) {
                    output.append(-8)
                    continue
                }
                let bits = Self.mix(seed ^ (UInt64(token + 1) &* 0xD1B5_4A32_D192_ED03)) >> 40
                output.append(Float(bits) * 0x1.0p-21)
            }
        }
        return output
    }
}

/// The fixtures written by `tools/fixtures/make_sampler_fixtures.py` (from `tools/reference/samplers.py`).
struct SamplerFixtures: Decodable {
    struct Parameters: Decodable {
        var algorithm: String
        var maskToken: Int32
        var steps: Int
        var temperature: Float
        var topP: Float?
        var topK: Int?
        var greedy: Bool?
        var epsilon: Double?
        var algorithmTemperature: Float?
        var blockLength: Int?
        var confidenceThreshold: Float?
        var shiftLogits: Bool?
        var causal: Bool?
        var guidanceScale: Float?
    }
    struct LogitsEntry: Decodable {
        var tokens: [Int32]
        var causal: Bool
        var logits: [Float]
    }
    struct Case: Decodable {
        var logitsTable: [LogitsEntry]?
        var name: String
        var vocabularySize: Int
        var parameters: Parameters
        var tokens: [Int32]
        var fixed: [Bool]
        var uniforms: [Double]
        var categoricals: [Int]
        var checks: [[Double]]
        var rows: [[Int]]
        var revealed: [[Int]]
        var expected: [Int32]
    }
    struct Xoshiro: Decodable {
        var seed: UInt64
        var values: [String]
    }
    struct Timesteps: Decodable {
        var steps: Int
        var epsilon: Double
        var values: [Float]
    }
    var cases: [Case]
    var xoshiro: Xoshiro?
    var timesteps: [Timesteps]?

    static func load(_ name: String = "cases.json") throws -> SamplerFixtures {
        try JSONDecoder().decode(SamplerFixtures.self, from: TestFixtures.data("samplers/\(name)"))
    }
}

/// Serves recorded model logits: the rows of the exact sequence the reference saw; an unknown
/// sequence (the sampler diverged) is an error.
final class TableLogitsProvider: LogitsProvider, @unchecked Sendable {
    struct UnknownSequence: Error { var tokens: [Int32] }
    let vocabularySize: Int
    let table: [SequenceKey: [Float]]
    private(set) var requests: [(positions: [Int], causal: Bool)] = []

    struct SequenceKey: Hashable {
        var tokens: [Int32]
        var causal: Bool
    }

    init(vocabularySize: Int, entries: [SamplerFixtures.LogitsEntry]) {
        self.vocabularySize = vocabularySize
        var table: [SequenceKey: [Float]] = [:]
        for entry in entries { table[SequenceKey(tokens: entry.tokens, causal: entry.causal)] = entry.logits }
        self.table = table
    }

    func logits(tokens: [Int32], positions: [Int], causal: Bool) throws -> [Float] {
        requests.append((positions, causal))
        guard let all = table[SequenceKey(tokens: tokens, causal: causal)] else { throw UnknownSequence(tokens: tokens) }
        return positions.flatMap { all[($0 * vocabularySize)..<(($0 + 1) * vocabularySize)] }
    }
}

extension SamplerFixtures.Parameters {
    func samplingParameters() throws -> SamplingParameters {
        guard let algorithm = SamplerAlgorithm(rawValue: algorithm) else {
            throw FixtureError.malformed("unknown sampler algorithm \(self.algorithm)")
        }
        return SamplingParameters(
            algorithm: algorithm, maskToken: maskToken, steps: steps, temperature: temperature, topP: topP,
            topK: topK, greedy: greedy ?? false, epsilon: epsilon ?? 1e-3,
            algorithmTemperature: algorithmTemperature ?? 0, blockLength: blockLength,
            confidenceThreshold: confidenceThreshold, shiftLogits: shiftLogits ?? true, causal: causal ?? false,
            guidanceScale: guidanceScale ?? 0)
    }
}

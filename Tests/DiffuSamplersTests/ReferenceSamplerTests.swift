import Foundation
import Testing
import DiffuSamplers

/// Token-exact agreement with the numpy reference (`tools/reference/samplers.py`): greedy runs
/// directly, sampled runs with the reference's recorded draws injected.
@Suite struct ReferenceSamplerTests {
    static let fixtures: SamplerFixtures? = try? SamplerFixtures.load()
    static let modelFixtures: SamplerFixtures? = try? SamplerFixtures.load("cases_tiny_gpt2.json")

    @Test func fixturesLoad() throws {
        let fixtures = try SamplerFixtures.load()
        #expect(fixtures.cases.count >= 20)
    }

    static let lladaFixtures: SamplerFixtures? = try? SamplerFixtures.load("cases_llada.json")

    @Test(arguments: (try? SamplerFixtures.load().cases.map(\.name)) ?? ["<fixtures missing>"])
    func matchesReference(caseName: String) throws {
        let fixtures = try #require(Self.fixtures, "Tests/Fixtures/samplers/cases.json is missing or unreadable")
        try Self.expectReference(try #require(fixtures.cases.first { $0.name == caseName }))
    }

    /// LLaDA's `generate.py` (low-confidence / random remasking, Gumbel-max in float64, cfg) against its
    /// numpy re-implementation with injected draws.
    @Test(arguments: (try? SamplerFixtures.load("cases_llada.json").cases.map(\.name)) ?? ["<fixtures missing>"])
    func matchesLLaDAReference(caseName: String) throws {
        let fixtures = try #require(Self.lladaFixtures, "Tests/Fixtures/samplers/cases_llada.json is missing or unreadable")
        #expect(fixtures.cases.count >= 10)
        try Self.expectReference(try #require(fixtures.cases.first { $0.name == caseName }))
    }

    /// Runs one fake-logits case with its recorded draws and checks tokens, reveals, draws and rows.
    static func expectReference(_ fixture: SamplerFixtures.Case) throws {
        let parameters = try fixture.parameters.samplingParameters()
        let sampler = try DiffusionSampler(parameters: parameters)
        let canvas = try Canvas(tokens: fixture.tokens, isFixed: fixture.fixed)
        let provider = FakeLogitsProvider(vocabularySize: fixture.vocabularySize, maskToken: parameters.maskToken)
        let checks = fixture.checks.map { RecordedRandomSource.CategoricalCheck(probability: $0[0], supportSize: Int($0[1])) }
        var random = RecordedRandomSource(uniforms: fixture.uniforms, categoricals: fixture.categoricals, checks: checks)
        var steps: [SamplerStep] = []
        let result = try sampler.generate(canvas: canvas, provider: provider, random: &random) { step in
            steps.append(step)
            return .proceed
        }
        #expect(result.tokens == fixture.expected, "final tokens")
        #expect(steps.map(\.revealed) == fixture.revealed, "positions revealed per step")
        #expect(result.steps == fixture.revealed.count)
        #expect(!result.stopped)
        #expect(random.consumedExactly, "draws consumed: \(random.uniformsConsumed)/\(fixture.uniforms.count) uniforms, \(random.categoricalsConsumed)/\(fixture.categoricals.count) categoricals")
        #expect(random.mismatches.isEmpty, "\(random.mismatches.prefix(5))")
        // Efficiency: exactly the rows each step needs, nothing more.
        #expect(provider.requests.map(\.positions) == fixture.rows.filter { !$0.isEmpty })
        #expect(provider.requests.allSatisfy { $0.causal == parameters.causal })
        // Fixed positions never change, and every generated position was revealed.
        for position in 0..<canvas.count where canvas.isFixed[position] {
            #expect(result.tokens[position] == canvas.tokens[position])
        }
        #expect(!result.generatedTokens.contains(parameters.maskToken))
    }

    /// The same samplers over a tiny transformers GPT-2 with the causal mask removed (recorded logits).
    @Test(arguments: (try? SamplerFixtures.load("cases_tiny_gpt2.json").cases.map(\.name)) ?? ["<fixtures missing>"])
    func matchesReferenceOnModelLogits(caseName: String) throws {
        let fixtures = try #require(Self.modelFixtures, "Tests/Fixtures/samplers/cases_tiny_gpt2.json is missing or unreadable")
        let fixture = try #require(fixtures.cases.first { $0.name == caseName })
        let parameters = try fixture.parameters.samplingParameters()
        let sampler = try DiffusionSampler(parameters: parameters)
        let canvas = try Canvas(tokens: fixture.tokens, isFixed: fixture.fixed)
        let provider = TableLogitsProvider(vocabularySize: fixture.vocabularySize, entries: try #require(fixture.logitsTable))
        let checks = fixture.checks.map { RecordedRandomSource.CategoricalCheck(probability: $0[0], supportSize: Int($0[1])) }
        var random = RecordedRandomSource(uniforms: fixture.uniforms, categoricals: fixture.categoricals, checks: checks)
        var revealed: [[Int]] = []
        let result = try sampler.generate(canvas: canvas, provider: provider, random: &random) { step in
            revealed.append(step.revealed)
            return .proceed
        }
        #expect(result.tokens == fixture.expected)
        #expect(revealed == fixture.revealed)
        #expect(random.consumedExactly)
        #expect(random.mismatches.isEmpty, "\(random.mismatches.prefix(5))")
        #expect(provider.requests.map(\.positions) == fixture.rows.filter { !$0.isEmpty })
    }

    @Test func dreamTimestepsMatchTorchLinspace() throws {
        let fixtures = try SamplerFixtures.load()
        for table in try #require(fixtures.timesteps) {
            #expect(dreamTimesteps(steps: table.steps, epsilon: table.epsilon) == table.values, "T=\(table.steps)")
        }
    }

    @Test func seededSourceMatchesReferenceXoshiro() throws {
        let fixtures = try SamplerFixtures.load()
        let xoshiro = try #require(fixtures.xoshiro)
        var source = SeededRandomSource(seed: xoshiro.seed)
        let values = (0..<xoshiro.values.count).map { _ in String(source.next()) }
        #expect(values == xoshiro.values)
    }
}

import DiffuSamplers
import DiffuTestSupport
import Foundation
import Testing
import Diffu
import DiffuConversion

/// LLaDA end to end: the tiny LLaDA-layout checkpoint converted by `DiffuModel.convert` (recognised by its
/// config: mask 95 from config.json, no shift, generate.py's defaults) generates through the facade
/// exactly what the numpy re-implementation of `generate.py` over the numpy forward of
/// `modeling_llada.py` produces with the same seeded draws (`tools/reference/samplers.py`,
/// `cases_llada_model.json`).
@Suite struct LLaDAGenerationTests {
    struct Case: Decodable {
        var name: String
        var model: String
        var prompt: [Int32]
        var length: Int
        var steps: Int
        var blockLength: Int
        var temperature: Float
        var guidanceScale: Float
        var sampler: String
        var seed: UInt64
        var expected: [Int32]
    }
    struct Cases: Decodable { var cases: [Case] }

    static let cases: [Case] = {
        let url = TestFixtures.url("samplers/cases_llada_model.json")
        return (try? JSONDecoder().decode(Cases.self, from: Data(contentsOf: url)))?.cases ?? []
    }()

    /// The fixture converted at f32 without `--mask-id` (LLaDA's facts come from its config).
    static func converted() throws -> (DiffuModel, URL) {
        let directory = try EndToEndTests.checkpoint("llada_gqa_bf16")
        let path = directory.appendingPathComponent("llada.diffu").path
        try DiffuModel.convert(source: directory.path, destination: path, recipe: .f32)
        return (try DiffuModel.open(path: path), directory)
    }

    @Test func convertedFileCarriesLLaDAFacts() throws {
        let (model, directory) = try Self.converted()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(model.maskToken == 95)
        #expect(!model.diffusion.shiftLogits)
        let defaults = model.defaultParameters
        #expect(defaults.sampler == .lowConfidence)
        #expect(defaults.steps == 128 && defaults.length == 128 && defaults.blockLength == 32)
        #expect(defaults.temperature == 0 && defaults.topP == nil && defaults.guidanceScale == 0)
        #expect(!model.samplingParameters(defaults).shiftLogits)
        // Choosing another sampler drops the defaults it does not take instead of failing on them.
        let randomKeep = model.defaultParameters(sampler: .randomKeep)
        #expect(randomKeep.blockLength == nil && randomKeep.sampler == .randomKeep)
    }

    @Test(arguments: cases.map(\.name).isEmpty ? ["<cases_llada_model.json missing>"] : cases.map(\.name))
    func facadeMatchesGenerateReference(caseName: String) throws {
        let fixture = try #require(Self.cases.first { $0.name == caseName }, "Tests/Fixtures/samplers/cases_llada_model.json")
        let (model, directory) = try Self.converted()
        defer { try? FileManager.default.removeItem(at: directory) }
        var parameters = model.defaultParameters(sampler: try #require(SamplerAlgorithm(rawValue: fixture.sampler)))
        parameters.length = fixture.length
        parameters.steps = fixture.steps
        parameters.blockLength = fixture.blockLength
        parameters.temperature = fixture.temperature
        parameters.guidanceScale = fixture.guidanceScale
        parameters.seed = fixture.seed
        parameters.threads = 2
        let result = try model.generateSynchronously(.tokens(fixture.prompt), parameters: parameters)
        #expect(result.generatedTokens == fixture.expected, "\(caseName)")
        #expect(Array(result.tokens.prefix(fixture.prompt.count)) == fixture.prompt)
        let passes = fixture.steps * (fixture.guidanceScale > 0 ? 2 : 1)
        #expect(result.forwardPasses <= passes)
    }
}

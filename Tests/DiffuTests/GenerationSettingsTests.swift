import DiffuTestSupport
import Foundation
import Testing
import Diffu
import DiffuConversion

/// The facade's defaulting rules (`GenerationSettings` → `GenerationParameters`), stop sequences and
/// finish reasons, on the server's tiny ChatML model (`tools/fixtures/make_server_fixture.py`: byte-level
/// vocabulary, so any text encodes).
@Suite struct GenerationSettingsTests {
    /// The server fixture converted once per test into a scratch file (removed by the caller).
    static func chatModel() throws -> (DiffuModel, URL) {
        let source = TestFixtures.url("server/tiny-chatml.gguf")
        let directory = try TemporaryDirectory.make(prefix: "diffu-settings")
        let path = directory.appendingPathComponent("tiny-chatml.diffu").path
        try DiffuModel.convert(source: source.path, destination: path, recipe: .f32, maskTokenId: 262)
        return (try DiffuModel.open(path: path), directory)
    }

    @Test func settingsOverrideTheModelDefaults() throws {
        let (model, directory) = try Self.chatModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        let defaults = model.defaultParameters
        #expect(model.parameters(GenerationSettings()) == {
            var expected = defaults
            expected.cache = .none
            return expected
        }())
        let custom = model.parameters(GenerationSettings(length: 7, steps: 3, sampler: .entropy, blockLength: 4, temperature: 0.5,
                                                         topP: 0.8, topK: 5, seed: 9, threads: 2, stopSequences: ["x"]))
        #expect(custom.length == 7 && custom.steps == 3 && custom.sampler == .entropy && custom.blockLength == 4)
        #expect(custom.temperature == 0.5 && custom.topP == 0.8 && custom.topK == 5 && custom.seed == 9 && custom.threads == 2)
        #expect(custom.stopSequences == ["x"])
        // top-p 1 disables the filter; the confidence sampler drops the file's top-p unless one is given.
        #expect(model.parameters(GenerationSettings(topP: 1)).topP == nil)
        #expect(defaults.topP != nil)
        #expect(model.parameters(GenerationSettings(sampler: .confidence)).topP == nil)
        #expect(model.parameters(GenerationSettings(sampler: .confidence, topP: 0.5)).topP == 0.5)
        // AR mode: length 64, greedy, no filter, unless given.
        let autoregressive = model.parameters(GenerationSettings(autoregressive: true))
        #expect(autoregressive.autoregressive && autoregressive.length == 64 && autoregressive.temperature == 0 && autoregressive.topP == nil)
        #expect(model.parameters(GenerationSettings(length: 5, autoregressive: true)).length == 5)
    }

    @Test func finishedTextCutsAtEndOfSequenceAndStopSequences() throws {
        let (model, directory) = try Self.chatModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokens = model.tokenizer.encode("hello there world")
        let eos = try #require(model.diffusion.eosTokenID.map(Int32.init))
        let whole = model.finishedText(tokens, stopSequences: [])
        #expect(whole == FinishedText(text: "hello there world", tokenCount: tokens.count, reason: .length))
        let ended = model.finishedText(tokens + [eos] + model.tokenizer.encode("ignored"), stopSequences: [])
        #expect(ended == FinishedText(text: "hello there world", tokenCount: tokens.count, reason: .endOfSequence))
        // The earliest stop sequence wins; the answer's token count covers the token where it begins.
        let stopped = model.finishedText(tokens, stopSequences: ["world", "ere"])
        #expect(stopped.text == "hello th" && stopped.reason == .stopSequence)
        let covering = stopped.tokenCount
        #expect(model.tokenizer.decode(Array(tokens[..<covering])).hasPrefix("hello th"))
        #expect(!model.tokenizer.decode(Array(tokens[..<(covering - 1)])).hasPrefix("hello th"))
        // A stop sequence after the end of sequence does not count.
        let late = model.finishedText(tokens + [eos] + model.tokenizer.encode("zzz"), stopSequences: ["zzz"])
        #expect(late.reason == .endOfSequence)
    }

    @Test func generationAppliesStopSequencesAndTheChatEndOfTurn() throws {
        let (model, directory) = try Self.chatModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        var parameters = model.parameters(GenerationSettings(length: 24, steps: 6, sampler: .confidence, temperature: 0, threads: 1))
        let plain = try model.generateSynchronously(.text("The fox"), parameters: parameters)
        #expect(plain.text == model.finishedText(plain.generatedTokens, stopSequences: []).text)
        #expect(plain.promptTokenCount == model.tokenizer.encode("The fox", addSpecialTokens: true).count)
        let stop = String(plain.text.dropFirst(4).prefix(2))
        parameters.stopSequences = [stop]
        let stopped = try model.generateSynchronously(.text("The fox"), parameters: parameters)
        #expect(stopped.generatedTokens == plain.generatedTokens)  // the whole span is still generated
        #expect(stopped.text == String(plain.text[..<plain.text.range(of: stop)!.lowerBound]))
        #expect(stopped.finishReason == .stopSequence && stopped.answerTokenCount < plain.answerTokenCount)
        parameters.stopSequences = [""]
        #expect(throws: DiffuError.invalidRequest("a stop sequence is empty")) {
            try model.generateSynchronously(.text("The fox"), parameters: parameters)
        }
        parameters.stopSequences = []
        let chat: Prompt = .chat([ChatMessage(role: "user", content: "hi")])
        #expect(model.stopSequences(for: chat, parameters: parameters) == [ChatTemplate.endOfTurn])
        #expect(model.stopSequences(for: .text("hi"), parameters: parameters) == [])
    }
}

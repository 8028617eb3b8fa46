import ArgumentParser
import Diffu
import Foundation

extension SamplerAlgorithm: ExpressibleByArgument {}
extension CacheMode: ExpressibleByArgument {}

/// Sampler options shared by `generate`, `infill` and `chat`.
struct SamplerOptions: ParsableArguments {
    @Option(help: "Generated positions (default: the model's reference length, or 64 in AR mode).")
    var length: Int?

    @Option(help: "Denoising steps T (default: the model's reference setting).")
    var steps: Int?

    @Option(help: "Sampler: \(SamplerAlgorithm.allCases.map(\.rawValue).joined(separator: "|")).")
    var sampler: SamplerAlgorithm?

    @Option(help: "Semi-autoregressive block length (Dream and LLaDA samplers; default: the model's, or one block).")
    var blockLength: Int?

    @Option(help: "Classifier-free guidance scale (LLaDA samplers; the prompt-masked pass): 0 disables it.")
    var cfgScale: Float?

    @Option(help: "Softmax temperature; 0 is greedy.")
    var temperature: Float?

    @Option(help: "Nucleus (top-p) filter; 1 disables it.")
    var topP: Float?

    @Option(help: "Top-k filter (Dream samplers and AR mode).")
    var topK: Int?

    @Option(help: "Dream's alg_temp.")
    var algorithmTemperature: Float?

    @Option(help: "Threshold parallel decoding (Fast-dLLM): reveal every masked position whose confidence exceeds this. Changes results.")
    var threshold: Float?

    @Option(help: "Approximate KV cache refreshed per block (Fast-dLLM): none|prefix|dual. Use with --block-length. Changes results.")
    var cache: CacheMode = .none

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(help: "Autoregressive mode: causal attention, one token per step, left to right (for AR models such as SmolLM2).")
    var autoregressive = false

    @Flag(help: "Causal attention in diffusion mode.")
    var causal = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print {\"ids\": [...], \"text\": \"...\", \"steps\", \"forward_passes\", \"seconds\"} (ids = generated positions only; seconds = sampling wall time, model opening excluded).")
    var json = false

    @Flag(help: "Plain output even on a terminal (no live view).")
    var plain = false

    func parameters(for model: DiffuModel) -> GenerationParameters {
        model.parameters(GenerationSettings(
            length: length, steps: steps, sampler: sampler, blockLength: blockLength, guidanceScale: cfgScale,
            temperature: temperature, topP: topP, topK: topK, algorithmTemperature: algorithmTemperature,
            confidenceThreshold: threshold, cache: cache, seed: seed, autoregressive: autoregressive, causal: causal,
            threads: threads))
    }
}

/// Runs a generation with the live view on a terminal, and prints the result.
func runGeneration(model: DiffuModel, prompt: Prompt, options: SamplerOptions) async throws {
    var parameters = options.parameters(for: model)
    let live = !options.plain && !options.json && isatty(STDOUT_FILENO) != 0
    parameters.decodeSteps = false
    let view = LiveView(model: model, enabled: live)
    var final: GenerationResult?
    for try await event in model.generate(prompt, parameters: parameters) {
        switch event {
        case .step(let step): view.draw(step)
        case .finished(let result): final = result
        }
    }
    guard let result = final else { throw DiffuError.cancelled }
    view.finish(result)
    if options.json {
        let object: [String: Any] = ["ids": result.generatedTokens.map(Int.init), "text": result.text, "steps": result.steps,
                                     "forward_passes": result.forwardPasses, "seconds": result.seconds]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    } else {
        print(result.text)
        let rate = Double(result.generatedTokens.count) / max(result.seconds, 1e-9)
        FileHandle.standardError.write(Data(String(
            format: "[%d tokens, %d steps, %d forward passes, %.2f s, %.1f tokens/s]\n",
            result.generatedTokens.count, result.steps, result.forwardPasses, result.seconds, rate).utf8))
    }
}

/// `diffu generate FILE`: unconditional or prompt-conditioned generation.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text by denoising masks (or left to right with --autoregressive).")

    @Argument(help: "A .diffu model file.")
    var file: String

    @Option(help: "Prompt text (a prefix).")
    var prompt: String?

    @Option(help: "Prompt as comma-separated token ids.")
    var promptIds: String?

    @Flag(help: "Use the instruction layout [BOS] prompt [SEP] of the fine-tuned checkpoints.")
    var instruction = false

    @OptionGroup var options: SamplerOptions

    func run() async throws {
        let model = try DiffuModel.open(path: file)
        let request: Prompt
        if let promptIds {
            request = .tokens(try parseIds(promptIds))
        } else if let prompt {
            request = instruction ? .instruction(prompt) : .text(prompt)
        } else {
            request = .none
        }
        try await runGeneration(model: model, prompt: request, options: options)
    }
}

/// `diffu infill FILE --prefix … --suffix …`: fill a middle of a chosen length.
struct InfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infill",
        abstract: "Generate the middle between a fixed prefix and suffix.")

    @Argument(help: "A .diffu model file.")
    var file: String

    @Option(help: "Text before the gap.")
    var prefix: String

    @Option(help: "Text after the gap.")
    var suffix: String

    @OptionGroup var options: SamplerOptions

    func run() async throws {
        let model = try DiffuModel.open(path: file)
        try await runGeneration(model: model, prompt: .infill(prefix: prefix, suffix: suffix), options: options)
    }
}

/// `diffu chat FILE`: an interactive chat for models with a ChatML template.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with a model that has a chat template (reads lines from standard input).")

    @Argument(help: "A .diffu model file.")
    var file: String

    @Option(help: "System message (default: the template's).")
    var system: String?

    @OptionGroup var options: SamplerOptions

    func run() async throws {
        let model = try DiffuModel.open(path: file)
        var messages: [ChatMessage] = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
        let interactive = isatty(STDIN_FILENO) != 0
        while true {
            if interactive { FileHandle.standardError.write(Data("> ".utf8)) }
            guard let line = readLine() else { break }
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            messages.append(ChatMessage(role: "user", content: line))
            var parameters = options.parameters(for: model)
            parameters.decodeSteps = false
            let view = LiveView(model: model, enabled: !options.plain && isatty(STDOUT_FILENO) != 0)
            var reply = ""
            for try await event in model.generate(.chat(messages), parameters: parameters) {
                switch event {
                case .step(let step): view.draw(step)
                case .finished(let result):
                    view.finish(result)
                    reply = result.text  // ends before the template's end of turn
                }
            }
            print(reply)
            messages.append(ChatMessage(role: "assistant", content: reply))
        }
    }
}

/// Parses `1,2,3` into token ids.
func parseIds(_ text: String) throws -> [Int32] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
    var ids: [Int32] = []
    for part in parts {
        guard let id = Int32(part), id >= 0 else { throw ValidationError("not a token id: '\(part)'") }
        ids.append(id)
    }
    guard !ids.isEmpty else { throw ValidationError("no token ids given") }
    return ids
}

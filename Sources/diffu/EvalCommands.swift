import ArgumentParser
import Diffu
import Foundation

extension ChoiceRanking: ExpressibleByArgument {}

/// Options shared by `eval` and `score`.
struct LikelihoodOptions: ParsableArguments {
    @Option(help: "Monte Carlo samples of the diffusion bound (LLaDA's evaluation uses 128).")
    var samples: Int = 128

    @Option(help: "Random seed of the masking times and masks.")
    var seed: UInt64 = 0

    @Flag(help: "The exact autoregressive value instead: causal attention, next-token cross-entropy.")
    var autoregressive = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print JSON.")
    var json = false

    var parameters: LikelihoodParameters {
        LikelihoodParameters(samples: samples, seed: seed, autoregressive: autoregressive,
                             threads: threads ?? DiffuModel.defaultThreadCount)
    }
}

/// Prints a JSON object on one line, keys sorted.
private func printSortedJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// `diffu eval FILE --text FILE`: the diffusion likelihood bound (or AR perplexity) of a text.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "The diffusion NLL bound of a text in nats per token (Monte Carlo over t and masks), or its AR perplexity.")

    @Argument(help: "A .diffu model file.")
    var file: String

    @Option(help: "A UTF-8 text file to score.")
    var text: String

    @Option(help: "Score a text longer than the model's context in consecutive windows of this many tokens (each given the token before it).")
    var window: Int?

    @OptionGroup var options: LikelihoodOptions

    func run() async throws {
        let content = try Self.readText(path: text)
        let model = try DiffuModel.open(path: file)
        var parameters = options.parameters
        parameters.window = window
        let result = try model.likelihood(text: content, parameters: parameters)
        let estimate = result.estimate
        if options.json {
            try printSortedJSON([
                "nll_per_token": estimate.negativeLogLikelihoodPerToken, "perplexity": estimate.perplexity,
                "nll": estimate.negativeLogLikelihood, "standard_error": estimate.standardErrorPerToken,
                "tokens": estimate.scoredTokens, "sequence_tokens": result.sequenceTokens, "samples": estimate.samples, "windows": result.windows,
                "forward_passes": estimate.forwardPasses, "seconds": result.seconds,
                "mode": options.autoregressive ? "autoregressive" : "diffusion-bound", "seed": options.seed,
            ])
        } else {
            let kind = options.autoregressive ? "AR NLL" : "diffusion NLL bound"
            let spread = options.autoregressive ? "" : String(format: " ± %.4f (%d samples, seed %llu)", estimate.standardErrorPerToken,
                                                               estimate.samples, options.seed)
            print(String(format: "%@: %.4f nats/token%@, perplexity %.3f over %d tokens, %.2f s", kind,
                         estimate.negativeLogLikelihoodPerToken, spread, estimate.perplexity, estimate.scoredTokens, result.seconds))
        }
    }
}

extension EvalCommand {
    /// The largest text file read (the model's context is far smaller; this only bounds memory).
    static let maximumTextBytes = 256 << 20

    /// The contents of a UTF-8 text file, or an error naming what is wrong with it.
    static func readText(path: String) throws -> String {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = attributes[.size] as? Int, attributes[.type] as? FileAttributeType == .typeRegular else {
            throw ValidationError("cannot read the text file \(path)")
        }
        guard size <= maximumTextBytes else {
            throw ValidationError("the text file \(path) has \(size) bytes, more than \(maximumTextBytes)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read the text file \(path)") }
        guard let content = String(data: data, encoding: .utf8) else { throw ValidationError("\(path) is not valid UTF-8") }
        return content
    }
}

/// `diffu score FILE --context TEXT --choice A --choice B …`: continuations ranked by their conditional likelihood.
struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Rank continuations of a context by the conditional diffusion likelihood bound (only the continuation masked and scored), best first.")

    @Argument(help: "A .diffu model file.")
    var file: String

    @Option(help: "The context (never masked).")
    var context: String

    @Option(name: .customLong("choice"), help: "A continuation (repeat for each choice).")
    var choices: [String] = []

    @Option(help: "Order: total (lowest total NLL first, LLaDA / lm-eval acc) or per-token (lowest NLL per token first).")
    var rank: ChoiceRanking = .total

    @OptionGroup var options: LikelihoodOptions

    func validate() throws {
        guard !choices.isEmpty else { throw ValidationError("give at least one --choice") }
    }

    func run() async throws {
        let model = try DiffuModel.open(path: file)
        let scores = try model.score(context: context, choices: choices, parameters: options.parameters, ranking: rank)
        if options.json {
            try printSortedJSON(["choices": scores.map { score -> [String: Any] in
                [
                    "text": score.text, "index": score.index, "nll": score.estimate.negativeLogLikelihood,
                    "nll_per_token": score.estimate.negativeLogLikelihoodPerToken, "tokens": score.estimate.scoredTokens,
                    "standard_error": score.estimate.standardErrorPerToken,
                ]
            }, "ranking": rank.rawValue, "samples": options.autoregressive ? 0 : options.samples])
        } else {
            for score in scores {
                print(String(format: "%10.4f nats (%.4f/token over %d tokens)  %@", score.estimate.negativeLogLikelihood,
                             score.estimate.negativeLogLikelihoodPerToken, score.estimate.scoredTokens, score.text))
            }
        }
    }
}

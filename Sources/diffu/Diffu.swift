import ArgumentParser
import Diffu

/// The `diffu` command: convert, inspect, verify, run and benchmark diffusion language models.
@main
struct DiffuCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffu",
        abstract: "A pure-Swift CPU runtime for diffusion language models.",
        subcommands: [TokenizeCommand.self, DetokenizeCommand.self, TokenizerBenchCommand.self]
    )
}

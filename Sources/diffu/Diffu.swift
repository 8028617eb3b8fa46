import ArgumentParser
import Diffu
import Foundation

/// The `diffu` command: convert, inspect, verify, run and benchmark diffusion language models.
@main
struct DiffuCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffu",
        abstract: "A pure-Swift CPU runtime for diffusion language models.",
        subcommands: [
            GenerateCommand.self, InfillCommand.self, ChatCommand.self,
            ConvertCommand.self, InspectCommand.self, VerifyCommand.self,
            LogitsCommand.self, BenchCommand.self, BenchGemmCommand.self, BenchAttentionCommand.self,
            TokenizeCommand.self, DetokenizeCommand.self, TokenizerBenchCommand.self, ServeCommand.self,
            EvalCommand.self, ScoreCommand.self,
        ]
    )

    /// Refuses to start an AVX2 build on a CPU without AVX2/FMA/F16C (the check itself is compiled for
    /// the baseline ISA), then runs the command.
    static func main() async {
        if CPUSupport.builtForAVX2 && !CPUSupport.cpuHasAVX2 {
            FileHandle.standardError.write(Data("error: \(DiffuError.unsupportedCPU)\n".utf8))
            Foundation.exit(1)
        }
        // A model file truncated while mapped faults on the next read: say so instead of dying silently.
        CPUSupport.installMappedFileFaultHandler()
        await main(nil)
    }
}

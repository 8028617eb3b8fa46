import ArgumentParser
import DiffuConversion
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `diffu convert SRC -o OUT.diffu --quant …`: packs a Hugging Face directory or a GGUF file into a
/// `.diffu` file.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a Hugging Face model directory or a GGUF file into a .diffu file.",
        discussion: """
        SRC is a directory with config.json, model.safetensors (or shards + model.safetensors.index.json) and \
        tokenizer files, or a .gguf file (llama / qwen2 / dream / llada architecture; F32, F16, BF16, Q8_0, Q4_0, Q4_1, \
        Q5_0, Q5_1, Q4_K, Q5_K, Q6_K tensors; Q8_0/Q4_0 blocks are copied unchanged where the stored type matches).
        Known diffusion models (DiffuGPT-S/M, DiffuLLaMA, Dream/DiffuCoder, LLaDA) get their mask token, shift rule \
        (LLaDA: none) and sampler defaults automatically. Any other model — for example an autoregressive GGUF such as SmolLM2 — needs \
        --mask-id: the id of an existing token to use as MASK (the logit shift rule is recorded as on, as for \
        every AR-adapted model); --shift on|off overrides the recorded rule (logits at i-1 predict token i, or at i).
        Quantization recipes: f32, f16, bf16, q8, q4, q4e (q4, with token embedding and LM head at q8, the mix \
        of llama.cpp's Q4_0 files) and q4m (q4, with token embedding, LM head, attention \
        value and FFN down projections kept at q8). Norm weights, biases and GPT-2's position table stay f32.
        The output is written to a temporary file next to OUT and renamed into place only when complete.
        """
    )

    @Argument(help: "Hugging Face model directory or .gguf file.")
    var source: String

    @Option(name: [.short, .customLong("output")], help: "The .diffu file to write.")
    var output: String?

    @Option(name: .customLong("quant"), help: "Quantization recipe: f32, f16, bf16, q8, q4, q4e, q4m.")
    var quantization: String = "q8"

    @Flag(help: "Overwrite OUT if it exists.")
    var force = false

    @Option(name: .customLong("mask-id"), help: "Mask token id (required for models Diffu does not recognise).")
    var maskID: Int?

    @Option(name: .customLong("shift"), help: "Logit shift rule to record: on (logits at i-1 predict token i) or off (at i); default: the model's own.")
    var shift: String?

    @Option(name: .customLong("zstd"), help: "zstd per tensor: auto (compress where it saves enough) or none.")
    var zstd: String = "auto"

    @Option(help: "Encoding threads (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("dump-canonical"), help: ArgumentHelp(
        "Write the canonical tensors decoded to f32 (canonical.json + canonical.bin) into this directory instead of a .diffu file.",
        visibility: .hidden))
    var dumpDirectory: String?

    mutating func validate() throws {
        guard QuantizationRecipe(rawValue: quantization) != nil else {
            throw ValidationError("unknown --quant '\(quantization)' (\(QuantizationRecipe.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard zstd == "auto" || zstd == "none" else { throw ValidationError("--zstd must be auto or none") }
        guard output != nil || dumpDirectory != nil else { throw ValidationError("missing -o OUT.diffu") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let maskID, maskID < 0 { throw ValidationError("--mask-id must be non-negative") }
        if let shift, shift != "on" && shift != "off" { throw ValidationError("--shift must be on or off") }
    }

    func run() throws {
        var options = ConversionOptions(recipe: QuantizationRecipe(rawValue: quantization)!, maskTokenId: maskID,
                                        overwrite: force, compress: zstd == "auto")
        if let threads { options.threadCount = threads }
        options.shiftOverride = shift.map { $0 == "on" }
        let reporter = ProgressReporter(terminal: isatty(STDERR_FILENO) != 0)
        let started = Date()
        let summary: ConversionSummary
        do {
            if let dumpDirectory {
                let prepared = try Converter.prepare(source: source, maskTokenId: maskID, shiftOverride: options.shiftOverride)
                summary = try Converter.write(prepared, into: try CanonicalDumpSink(directory: dumpDirectory),
                                              options: options, progress: reporter.update)
            } else {
                let destination = output!
                InterruptCleanup.install()
                summary = try Converter.convert(
                    source: source, destination: destination, options: options,
                    makeSink: { destination, overwrite in
                        let sink = try DiffuFileSink(destination: destination, overwrite: overwrite, compress: options.compress)
                        InterruptCleanup.temporaryPath = sink.temporaryPath
                        return sink
                    },
                    progress: reporter.update)
                InterruptCleanup.temporaryPath = nil
            }
        } catch {
            reporter.finishLine()
            InterruptCleanup.temporaryPath = nil
            var standardError = StandardError()
            print("error: \(error)", to: &standardError)
            throw ExitCode.failure
        }
        reporter.finishLine()
        let seconds = Date().timeIntervalSince(started)
        let megabytes = Double(summary.sourceBytes) / 1e6
        let stored = summary.bytesByStorage.sorted { $0.key.rawValue < $1.key.rawValue }
            .map { "\($0.key) \(String(format: "%.1f", Double($0.value) / 1e6)) MB" }.joined(separator: ", ")
        print("wrote \(dumpDirectory ?? output!): \(summary.tensorCount) tensors, \(String(format: "%.1f", Double(summary.payloadBytes) / 1e6)) MB of payloads (\(stored))")
        print(String(format: "source %.1f MB in %.1f s (%.0f MB/s)", megabytes, seconds, seconds > 0 ? megabytes / seconds : 0))
    }
}

/// Writes to standard error.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) { FileHandle.standardError.write(Data(string.utf8)) }
}

/// Removes the writer's temporary file when the user interrupts a conversion (SIGINT/SIGTERM), so that
/// nothing is left behind — the destination itself is only ever created by the final rename.
enum InterruptCleanup {
    nonisolated(unsafe) static var temporaryPath: String?
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    static func install() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if let path = temporaryPath { unlink(path) }
                FileHandle.standardError.write(Data("\ninterrupted: no output written\n".utf8))
                _exit(130)
            }
            source.resume()
            sources.append(source)
        }
    }
}

/// Renders conversion progress: a redrawn bar on a terminal, a plain line per phase and per 10 % otherwise.
final class ProgressReporter: @unchecked Sendable {
    private let terminal: Bool
    private var lastDraw = Date.distantPast
    private var lastPhase: ConversionProgress.Phase?
    private var lastDecile = -1
    private var phaseStart = Date()
    private var drewBar = false

    init(terminal: Bool) { self.terminal = terminal }

    func update(_ progress: ConversionProgress) {
        let now = Date()
        if progress.phase != lastPhase {
            if drewBar { finishLine() }
            lastPhase = progress.phase
            lastDecile = -1
            phaseStart = now
        }
        let fraction = progress.total > 0 ? min(1, Double(progress.completed) / Double(progress.total)) : 1
        if terminal {
            guard now.timeIntervalSince(lastDraw) > 0.1 || fraction >= 1 else { return }
            lastDraw = now
            let width = 30, filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let item = progress.item.count > 40 ? "…" + progress.item.suffix(39) : progress.item
            let line = String(format: "\r%@ %@ %3.0f%%  %@", progress.phase.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0), bar, fraction * 100, item)
            FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
            drewBar = true
        } else {
            let decile = Int(fraction * 10)
            guard decile != lastDecile else { return }
            lastDecile = decile
            FileHandle.standardError.write(Data("\(progress.phase.rawValue): \(decile * 10)% \(progress.item)\n".utf8))
        }
    }

    func finishLine() {
        if terminal && drewBar { FileHandle.standardError.write(Data("\n".utf8)) }
        drewBar = false
    }
}

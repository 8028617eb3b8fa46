import ArgumentParser
import Diffu
import DiffuServer
import Foundation

extension ServerLogLevel: ExpressibleByArgument {}

/// `diffu serve FILE`: the OpenAI-compatible HTTP server.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over an OpenAI-compatible HTTP API (completions, chat, streamed denoising steps).")

    @Argument(help: "A .diffu model file.")
    var file: String

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port (0 picks a free one; the port is printed).")
    var port = 8080

    @Option(help: "Generations run at once.")
    var parallel = 1

    @Option(help: "Requests that may wait for a slot; beyond them the server answers 503 with Retry-After.")
    var queue = 8

    @Option(help: "Kernel threads per generation (default: all cores divided by --parallel).")
    var threads: Int?

    @Option(help: "Largest max_tokens a request may ask for.")
    var maxTokens = 1024

    @Option(help: "Largest steps a request may ask for.")
    var maxSteps = 1024

    @Option(help: "Largest canvas (prompt + max_tokens) in tokens.")
    var maxContext = 4096

    @Option(help: "Largest request body in bytes.")
    var maxBodyBytes = 1 << 20

    @Option(help: "Seconds a request may take, queue wait included.")
    var timeout: Double = 300

    @Option(help: "On SIGTERM/SIGINT: seconds in-flight requests may take to finish before they are cancelled.")
    var drain: Double = 10

    @Option(help: "Log level: trace|debug|info|notice|warning|error|critical.")
    var logLevel: ServerLogLevel = .info

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        guard queue >= 0 else { throw ValidationError("--queue must not be negative") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard maxTokens >= 1, maxSteps >= 1, maxContext >= 2, maxBodyBytes >= 1 else {
            throw ValidationError("--max-tokens, --max-steps, --max-context and --max-body-bytes must be positive")
        }
        guard timeout > 0, drain >= 0 else { throw ValidationError("--timeout must be positive and --drain not negative") }
    }

    func run() async throws {
        DiffuHTTPServer.logToStandardError(level: logLevel)
        let model = try DiffuModel.open(path: file)
        let limits = RequestLimits(maximumBodyBytes: maxBodyBytes, maximumTokens: maxTokens, maximumSteps: maxSteps,
                                   maximumContextTokens: maxContext, requestTimeout: timeout)
        let configuration = ServerConfiguration(
            host: host, port: port, parallel: parallel, queueCapacity: queue,
            threads: threads ?? max(1, DiffuModel.defaultThreadCount / parallel), limits: limits, drainSeconds: drain)
        let modelID = DiffuHTTPServer.modelID(forPath: file)
        let server = DiffuHTTPServer(model: model, modelID: modelID, configuration: configuration, logLabel: "diffu.serve")
        let host = self.host
        try await server.run { port in
            let line = "diffu serve: \(modelID) on http://\(host):\(port) (parallel \(configuration.parallel), queue \(configuration.queueCapacity), \(configuration.threads) threads each)\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
    }
}

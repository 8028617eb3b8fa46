import Diffu
import Foundation
import Logging

/// The server's work without HTTP: parse a request body, admit it, run the generation and produce the
/// OpenAI answer (one JSON value, or a stream of server-sent events). ``DiffuHTTPServer`` adapts it to
/// Hummingbird; the tests drive it directly.
public final class GenerationService: Sendable {
    /// The one model, loaded once.
    public let model: DiffuModel
    /// The id clients name the model by.
    public let modelID: String
    /// Per-request limits.
    public let limits: RequestLimits
    /// Kernel threads per generation.
    public let threads: Int
    /// Admission control.
    public let scheduler: GenerationScheduler
    /// Metrics.
    public let metrics: ServerMetrics
    /// Request log (one line per request).
    public let logger: Logger
    /// Fired when the server's drain time is over: in-flight generations stop between two steps.
    public let stopSignal = StopSignal()
    /// Unix seconds the service started (the model's `created`).
    public let startTime: Int
    private let parser: RequestParser

    /// Creates the service around a loaded model.
    public init(model: DiffuModel, modelID: String, limits: RequestLimits, threads: Int, parallel: Int, queueCapacity: Int,
                logger: Logger) {
        self.model = model
        self.modelID = modelID
        self.limits = limits
        self.threads = threads
        self.scheduler = GenerationScheduler(parallel: parallel, queueCapacity: queueCapacity)
        self.metrics = ServerMetrics()
        self.logger = logger
        self.startTime = Int(Date().timeIntervalSince1970)
        self.parser = RequestParser(modelID: modelID, vocabularySize: model.configuration.vocabularySize, limits: limits)
    }

    /// A request ready to run: what was asked, the library's parameters, the prompt size.
    public struct PreparedRequest: Sendable {
        /// The validated request.
        public let request: GenerationRequest
        /// The generation parameters (model defaults, then the request's settings).
        public let parameters: GenerationParameters
        /// Stop sequences the answer ends at (the request's and the chat template's end of turn).
        public let stopSequences: [String]
        /// Prompt tokens on the canvas.
        public let promptTokens: Int
        /// The response id.
        public let id: String
        /// When the request arrived (for its time limit).
        public let arrival: ContinuousClock.Instant
    }

    /// Parses and validates a body: fields, sampler combination, chat template, canvas size.
    public func prepare(_ body: some Collection<UInt8>, endpoint: Endpoint) throws(APIError) -> PreparedRequest {
        let arrival = ContinuousClock.now
        let request = try parser.parse(body, endpoint: endpoint)
        var parameters = model.parameters(request.settings)
        parameters.threads = threads
        if parameters.length > limits.maximumTokens {  // the model's default length, when max_tokens is absent
            parameters.length = limits.maximumTokens
        }
        do {
            try model.samplingParameters(parameters).validate()
        } catch {
            throw .invalid("\(error)", code: "invalid_value")
        }
        let canvas: Canvas
        do {
            canvas = try model.canvas(for: request.prompt, length: parameters.length)
        } catch {
            throw APIError.from(generationError: error)
        }
        let promptTokens = canvas.count - canvas.generatedPositions.count
        let vocabulary = model.configuration.vocabularySize
        if let token = canvas.tokens.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw .invalid("the prompt holds token \(token), outside the model's vocabulary of \(vocabulary) (its tokenizer is larger than the model)",
                           param: endpoint == .completions ? "prompt" : "messages", code: "invalid_value")
        }
        guard canvas.count <= limits.maximumContextTokens else {
            throw .invalid("prompt (\(promptTokens) tokens) + max_tokens (\(parameters.length)) = \(canvas.count) exceeds this server's context of \(limits.maximumContextTokens) tokens",
                           param: endpoint == .completions ? "prompt" : "messages", code: "context_length_exceeded")
        }
        if let limit = model.configuration.learnedPositionLimit, canvas.count > limit {
            throw .invalid("prompt + max_tokens = \(canvas.count) tokens exceeds the model's \(model.configuration.maximumPositions) positions",
                           param: "max_tokens", code: "context_length_exceeded")
        }
        let prefix = endpoint == .completions ? "cmpl-" : "chatcmpl-"
        return PreparedRequest(request: request, parameters: parameters,
                               stopSequences: model.stopSequences(for: request.prompt, parameters: parameters),
                               promptTokens: promptTokens, id: prefix + UUID().uuidString.lowercased(), arrival: arrival)
    }

    /// Waits for a generation slot within the request's time limit.
    public func admit(_ prepared: PreparedRequest) async throws -> GenerationSlot {
        do {
            return try await withTimeLimit(remaining(prepared)) { try await self.scheduler.acquire() }
        } catch {
            updateLoad()
            throw error
        }
    }

    /// Runs a non-streamed request in its slot: the OpenAI answer, or the error it ends with.
    public func complete(_ prepared: PreparedRequest, slot: GenerationSlot) async -> (status: Int, body: JSONValue) {
        defer { slot.release() }
        updateLoad()
        defer { updateLoad() }
        let encoder = encoder(for: prepared)
        do {
            let result = try await withTimeLimit(remaining(prepared)) {
                try await self.generate(prepared) { _ in }
            }
            log(prepared, status: 200, result: result)
            return (200, encoder.completion(result))
        } catch {
            let apiError = failure(error)
            log(prepared, status: apiError.status, result: nil, error: apiError)
            return (apiError.status, apiError.body)
        }
    }

    /// Runs a streamed request in its slot, writing server-sent events: text deltas (and `diffu.step`
    /// events when asked), the final chunk with its finish reason, the usage chunk when asked, then
    /// `data: [DONE]`. A failure after the stream began is sent as an `{"error": …}` event. Stops when
    /// `write` throws (the client is gone) or the task is cancelled.
    public func stream(_ prepared: PreparedRequest, slot: GenerationSlot, write: @escaping @Sendable ([UInt8]) async throws -> Void) async {
        defer { slot.release() }
        updateLoad()
        defer { updateLoad() }
        let encoder = encoder(for: prepared)
        let state = StreamState(streamer: TextStreamer(model: model, stopSequences: prepared.stopSequences))
        let diffuSteps = prepared.request.diffuSteps
        let model = self.model
        do {
            try await write(ResponseEncoder.event(encoder.chunk(text: "", first: true)))
            let result = try await withTimeLimit(remaining(prepared)) {
                try await self.generate(prepared) { step in
                    if diffuSteps {
                        try await write(ResponseEncoder.event(encoder.step(step, maskToken: model.maskToken, piece: { model.tokenizer.decode([$0]) })))
                    }
                    let delta = state.delta(after: step)
                    if !delta.isEmpty { try await write(ResponseEncoder.event(encoder.chunk(text: delta))) }
                }
            }
            let rest = state.finish(result)
            try await write(ResponseEncoder.event(encoder.chunk(text: rest, finishReason: result.finishReason)))
            if prepared.request.includeUsage { try await write(ResponseEncoder.event(encoder.usageChunk(result))) }
            try await write(ResponseEncoder.done)
            log(prepared, status: 200, result: result)
        } catch {
            let apiError = failure(error)
            log(prepared, status: apiError.status, result: nil, error: apiError)
            try? await write(ResponseEncoder.event(apiError.body))
            try? await write(ResponseEncoder.done)
        }
    }

    /// Runs the generation, calling `onStep` after every step (in order); records step metrics.
    func generate(_ prepared: PreparedRequest, onStep: @Sendable (GenerationStep) async throws -> Void) async throws -> GenerationResult {
        var previous = 0.0
        for try await event in model.generate(prepared.request.prompt, parameters: prepared.parameters) {
            switch event {
            case .step(let step):
                metrics.recordStep(seconds: step.elapsed - previous)
                previous = step.elapsed
                try await onStep(step)
            case .finished(let result):
                metrics.recordTokens(prompt: result.promptTokenCount, completion: result.answerTokenCount)
                return result
            }
        }
        throw CancellationError()  // the stream ended without a result: this task was cancelled
    }

    /// The error a failed or cancelled request answers with.
    func failure(_ error: any Error) -> APIError {
        if let error = error as? APIError { return error }
        if error is CancellationError || (error as? DiffuError) == .cancelled {
            return APIError(status: 499, message: "the request was cancelled (client gone or server stopping)", type: "server_error",
                            code: "cancelled")
        }
        return APIError.from(generationError: error)
    }

    /// Seconds left of the request's time limit.
    func remaining(_ prepared: PreparedRequest) -> Double {
        let elapsed = ContinuousClock.now - prepared.arrival
        return limits.requestTimeout - Double(elapsed.components.seconds) - Double(elapsed.components.attoseconds) / 1e18
    }

    /// Runs `operation`, cancelling it when `seconds` pass (``APIError/timedOut(seconds:)``) or the
    /// server stops (``APIError/shuttingDown``).
    func withTimeLimit<Value: Sendable>(_ seconds: Double, _ operation: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let limit = limits.requestTimeout
        guard seconds > 0 else { throw APIError.timedOut(seconds: limit) }
        return try await withThrowingTaskGroup(of: Value.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                throw APIError.timedOut(seconds: limit)
            }
            group.addTask { [stopSignal] in
                await stopSignal.wait()
                try Task.checkCancellation()
                throw APIError.shuttingDown
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func encoder(for prepared: PreparedRequest) -> ResponseEncoder {
        ResponseEncoder(id: prepared.id, model: modelID, created: Int(Date().timeIntervalSince1970), endpoint: prepared.request.endpoint)
    }

    /// Publishes the scheduler's state to the metrics.
    func updateLoad() {
        metrics.setLoad(running: scheduler.runningCount, queued: scheduler.queuedCount)
    }

    /// The request's log line: id, endpoint, status, prompt and answer tokens, steps, seconds.
    func log(_ prepared: PreparedRequest, status: Int, result: GenerationResult?, error: APIError? = nil) {
        let elapsed = ContinuousClock.now - prepared.arrival
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var line = "\(prepared.id) \(prepared.request.endpoint == .completions ? "/v1/completions" : "/v1/chat/completions") \(status)"
        line += " stream=\(prepared.request.stream) prompt_tokens=\(prepared.promptTokens)"
        if let result {
            line += " completion_tokens=\(result.answerTokenCount) steps=\(result.steps) finish=\(result.finishReason.rawValue)"
        }
        line += String(format: " seconds=%.3f", seconds)
        if let error { line += " error=\(error.code ?? error.type)" }
        if status == 200 { logger.info("\(line)") } else { logger.warning("\(line)") }
    }
}

/// The mutable part of one stream (its text streamer), used from the step callback.
final class StreamState: @unchecked Sendable {
    private let lock = NSLock()
    private var streamer: TextStreamer

    init(streamer: TextStreamer) {
        self.streamer = streamer
    }

    func delta(after step: GenerationStep) -> String { lock.withLock { streamer.delta(after: step) } }
    func finish(_ result: GenerationResult) -> String { lock.withLock { streamer.finish(result) } }
}

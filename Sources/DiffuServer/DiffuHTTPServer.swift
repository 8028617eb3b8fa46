import Diffu
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// How `diffu serve` runs.
public struct ServerConfiguration: Sendable {
    /// Address to bind (loopback by default).
    public var host: String
    /// Port; 0 picks a free one (the chosen port is logged and printed).
    public var port: Int
    /// Generations run at once.
    public var parallel: Int
    /// Requests waiting for a slot beyond those; more are refused with 503 and `Retry-After`.
    public var queueCapacity: Int
    /// Kernel threads per generation.
    public var threads: Int
    /// Per-request limits.
    public var limits: RequestLimits
    /// On SIGTERM/SIGINT: seconds in-flight requests may take to finish before they are cancelled.
    public var drainSeconds: Double

    /// Creates a configuration.
    public init(host: String = "127.0.0.1", port: Int = 8080, parallel: Int = 1, queueCapacity: Int = 8,
                threads: Int = DiffuModel.defaultThreadCount, limits: RequestLimits = RequestLimits(), drainSeconds: Double = 10) {
        self.host = host
        self.port = port
        self.parallel = parallel
        self.queueCapacity = queueCapacity
        self.threads = threads
        self.limits = limits
        self.drainSeconds = drainSeconds
    }
}

/// `diffu serve`: the OpenAI-compatible HTTP server (Hummingbird) around one ``GenerationService``.
///
/// Routes: `POST /v1/completions`, `POST /v1/chat/completions`, `GET /v1/models`, `GET /health`,
/// `GET /metrics`, `GET /` (the live denoising page). Every error is answered in OpenAI's error schema.
public struct DiffuHTTPServer: Sendable {
    /// The generation service.
    public let service: GenerationService
    /// The configuration.
    public let configuration: ServerConfiguration

    /// Creates a server for a loaded model.
    public init(model: DiffuModel, modelID: String, configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.service = GenerationService(model: model, modelID: modelID, limits: configuration.limits, threads: configuration.threads,
                                         parallel: configuration.parallel, queueCapacity: configuration.queueCapacity, logger: logger)
    }

    /// The model id of a file: its name without the `.diffu` extension.
    public static func modelID(forPath path: String) -> String {
        let name = URL(fileURLWithPath: path).lastPathComponent
        return name.hasSuffix(".diffu") ? String(name.dropLast(6)) : name
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting connections, lets in-flight requests finish
    /// for ``ServerConfiguration/drainSeconds`` and cancels what is left (between two steps).
    /// - Parameter onListening: called with the bound port once the server accepts connections.
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let logger = service.logger
        let application = Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "diffu"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        // Shut down in reverse order: the drain first (the queue closes, /health says "draining", running
        // generations get the drain time, then stop with an error event), then the HTTP server.
        let drain = DrainService(service: service, seconds: configuration.drainSeconds)
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: application), .init(service: drain)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .milliseconds(Int64(configuration.drainSeconds * 1000) + 10_000)
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: groupConfiguration).run()
        logger.info("diffu serve: stopped")
    }

    /// The routes.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let service = self.service
        router.add(middleware: ErrorMiddleware(metrics: service.metrics))
        router.post("/v1/completions") { request, _ in try await Self.generate(request, endpoint: .completions, service: service) }
        router.post("/v1/chat/completions") { request, _ in try await Self.generate(request, endpoint: .chatCompletions, service: service) }
        router.get("/v1/models") { _, _ in
            Self.json(200, ResponseEncoder.models(id: service.modelID, created: service.startTime))
        }
        router.get("/health") { _, _ in
            Self.json(service.scheduler.isClosed ? 503 : 200, .object([
                "status": .string(service.scheduler.isClosed ? "draining" : "ok"), "model": .string(service.modelID),
                                    "running": .integer(service.scheduler.runningCount), "queued": .integer(service.scheduler.queuedCount)]))
        }
        router.get("/metrics") { _, _ in
            service.updateLoad()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: service.metrics.exposition())))
        }
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: WebPage.html)))
        }
        return router
    }

    /// A generation endpoint: read the body (bounded), validate, admit, then answer. A non-streamed
    /// generation is cancelled when the client closes the connection; a streamed one too, or at the
    /// latest when the next event cannot be written. Hummingbird closes a connection whose inbound side
    /// was watched this way once the response is written, so these answers say `Connection: close`: a
    /// keep-alive client that reused the connection would race the close and see it drop unanswered.
    static func generate(_ request: Request, endpoint: Endpoint, service: GenerationService) async throws -> Response {
        var request = request
        let limit = service.limits.maximumBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw APIError.bodyTooLarge(limit: limit) }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.bodyTooLarge(limit: limit)
        }
        let prepared = try service.prepare(body.readableBytesView, endpoint: endpoint)
        let collected = request
        if prepared.request.stream {
            let slot = try await service.admit(prepared)
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .connection: "close"],
                body: ResponseBody { writer in
                    let sink = EventSink(writer: writer)
                    _ = try? await collected.body.consumeWithCancellationOnInboundClose { _ in
                        await service.stream(prepared, slot: slot) { bytes in try await sink.write(bytes) }
                    }
                    try await sink.finish()
                })
        }
        let (status, answer) = try await collected.body.consumeWithCancellationOnInboundClose { _ in
            let slot = try await service.admit(prepared)
            return await service.complete(prepared, slot: slot)
        }
        return json(status, answer, headers: [.connection: "close"])
    }

    /// A JSON response.
    static func json(_ status: Int, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: HTTPResponse.Status(code: status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: ResponseEncoder.bytes(value))))
    }
}

/// Waits for the graceful shutdown (SIGTERM/SIGINT), then closes the queue, lets running generations go
/// on for the drain time and stops what is left.
struct DrainService: Service {
    let service: GenerationService
    let seconds: Double

    func run() async throws {
        try? await gracefulShutdown()
        service.logger.info("diffu serve: shutting down; draining for \(seconds) s")
        service.scheduler.close()
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while service.scheduler.runningCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        service.stopSignal.stop()
        while service.scheduler.runningCount > 0 { try? await Task.sleep(for: .milliseconds(20)) }
    }
}

/// The response body writer of a stream, shared with the step callback (writes happen one at a time,
/// in order: the generation awaits each).
final class EventSink: @unchecked Sendable {
    private var writer: any ResponseBodyWriter

    init(writer: any ResponseBodyWriter) {
        self.writer = writer
    }

    func write(_ bytes: [UInt8]) async throws {
        try await writer.write(ByteBuffer(bytes: bytes))
    }

    func finish() async throws {
        try await writer.finish(nil)
    }
}

/// Answers every error in OpenAI's schema (``APIError``; Hummingbird's own, such as an unknown route,
/// mapped to it), and counts every request in the metrics.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = Self.response(error)
        } catch let error as HTTPError {
            let apiError = error.status == .notFound
                ? APIError.notFound(request.uri.path)
                : APIError(status: Int(error.status.code), message: error.body ?? error.status.reasonPhrase, type: "invalid_request_error")
            response = Self.response(apiError)
        } catch {
            response = Self.response(APIError.internalError(error))
        }
        let elapsed = ContinuousClock.now - start
        let route = Self.knownRoutes.contains(request.uri.path) ? request.uri.path : "other"
        metrics.recordRequest(endpoint: route, status: Int(response.status.code),
                              seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        return response
    }

    static let knownRoutes: Set<String> = ["/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics", "/"]

    static func response(_ error: APIError) -> Response {
        var headers: HTTPFields = [:]
        if let retryAfter = error.retryAfter { headers[.retryAfter] = String(retryAfter) }
        return DiffuHTTPServer.json(error.status, error.body, headers: headers)
    }
}

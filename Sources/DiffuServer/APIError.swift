import Diffu

/// An error answered in OpenAI's error schema: `{"error": {"message", "type", "param", "code"}}`, with
/// its HTTP status (and `Retry-After` seconds for an overloaded server).
public struct APIError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The HTTP status code.
    public let status: Int
    /// A sentence that names the problem.
    public let message: String
    /// OpenAI's error type (`invalid_request_error`, `server_error`, …).
    public let type: String
    /// The request field at fault, when one is.
    public let param: String?
    /// A machine-readable code (`model_not_found`, `server_overloaded`, …), when there is one.
    public let code: String?
    /// Seconds after which the client may retry (sent as `Retry-After`).
    public let retryAfter: Int?

    /// Creates an error.
    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    /// 400: the request is malformed or a field is missing, mistyped or out of range.
    public static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// 400: a field has the wrong JSON type.
    public static func wrongType(_ param: String, expected: String) -> APIError {
        invalid("'\(param)' must be \(expected)", param: param, code: "invalid_type")
    }

    /// 400: a field's value is outside its accepted range.
    public static func outOfRange(_ param: String, _ detail: String) -> APIError {
        invalid("'\(param)' \(detail)", param: param, code: "invalid_value")
    }

    /// 413: the request body exceeds the server's limit.
    public static func bodyTooLarge(limit: Int) -> APIError {
        APIError(status: 413, message: "the request body exceeds \(limit) bytes", type: "invalid_request_error",
                 code: "request_too_large")
    }

    /// 404: no such route.
    public static func notFound(_ path: String) -> APIError {
        APIError(status: 404, message: "no route \(path)", type: "invalid_request_error", code: "not_found")
    }

    /// 503: every generation slot and queue place is taken.
    public static func overloaded(retryAfter: Int) -> APIError {
        APIError(status: 503, message: "the server is at capacity (all generation slots and queue places taken); retry later",
                 type: "server_error", code: "server_overloaded", retryAfter: retryAfter)
    }

    /// 503: the server is shutting down.
    public static let shuttingDown = APIError(status: 503, message: "the server is shutting down", type: "server_error",
                                              code: "shutting_down", retryAfter: 1)

    /// 408: the request ran past the server's time limit.
    public static func timedOut(seconds: Double) -> APIError {
        APIError(status: 408, message: "the generation ran past the server's limit of \(seconds) s", type: "server_error",
                 code: "timeout")
    }

    /// 500: an unexpected failure inside the runtime.
    public static func internalError(_ error: any Error) -> APIError {
        APIError(status: 500, message: "generation failed: \(error)", type: "server_error", code: "internal_error")
    }

    /// The error of a library failure caused by the request (bad sampler combination, no chat template, …)
    /// as a 400; anything else as a 500.
    public static func from(generationError error: any Error) -> APIError {
        if let error = error as? APIError { return error }
        if let error = error as? SamplerError { return invalid("\(error)", code: "invalid_value") }
        if let error = error as? DiffuError, case .invalidRequest = error { return invalid("\(error)", code: "invalid_value") }
        return internalError(error)
    }

    /// The error body in OpenAI's schema.
    public var body: JSONValue {
        .object(["error": .object([
            "message": .string(message),
            "type": .string(type),
            "param": param.map(JSONValue.string) ?? .null,
            "code": code.map(JSONValue.string) ?? .null,
        ])])
    }

    /// A one-line description.
    public var description: String { "\(status) \(code ?? type): \(message)" }
}

import Diffu
import Logging

/// How much the server logs, least to most severe: swift-log's levels by name, so that a program can
/// choose one without importing swift-log.
public enum ServerLogLevel: String, Sendable, CaseIterable {
    /// Everything, per request and per step.
    case trace
    /// Diagnostics.
    case debug
    /// Start, stop, one line per request (the default of `diffu serve`).
    case info
    /// Notable events.
    case notice
    /// Recoverable problems.
    case warning
    /// Failed requests.
    case error
    /// Failures that stop the server.
    case critical

    /// The swift-log level.
    var level: Logger.Level {
        switch self {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
    }
}

extension DiffuHTTPServer {
    /// Sends the process's log lines at `level` or above to standard error (swift-log's stream handler).
    /// Call it once, before the first logger is made: swift-log's bootstrap may run only once per process.
    public static func logToStandardError(level: ServerLogLevel) {
        let threshold = level.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = threshold
            return handler
        }
    }

    /// Creates a server that logs through the process's logging system under `logLabel`.
    public init(model: DiffuModel, modelID: String, configuration: ServerConfiguration, logLabel: String) {
        self.init(model: model, modelID: modelID, configuration: configuration, logger: Logger(label: logLabel))
    }
}

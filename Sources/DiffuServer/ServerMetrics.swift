import Prometheus

/// The server's Prometheus metrics (`GET /metrics`, text exposition format): requests by endpoint and
/// status, tokens, generations running and queued, and the latency of a denoising step.
public final class ServerMetrics: Sendable {
    /// The registry the metrics are emitted from.
    public let registry = PrometheusCollectorRegistry()
    private let promptTokens: Counter
    private let completionTokens: Counter
    private let steps: Counter
    private let running: Gauge
    private let queued: Gauge
    private let stepSeconds: ValueHistogram
    private let requestSeconds: ValueHistogram

    /// Step latency buckets, seconds (a tiny model's step is sub-millisecond; a 7B model's, seconds).
    static let stepBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Request duration buckets, seconds.
    static let requestBuckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

    /// Creates the metrics.
    public init() {
        promptTokens = registry.makeCounter(descriptor: Self.name("prompt_tokens", "total", "Prompt tokens of finished generations."))
        completionTokens = registry.makeCounter(descriptor: Self.name("completion_tokens", "total", "Answer tokens of finished generations."))
        steps = registry.makeCounter(descriptor: Self.name("steps", "total", "Denoising steps run."))
        running = registry.makeGauge(descriptor: Self.name("generations", "running", "Generations running now."))
        queued = registry.makeGauge(descriptor: Self.name("queue", "depth", "Requests waiting for a generation slot."))
        stepSeconds = registry.makeValueHistogram(descriptor: Self.name("step", "seconds", "Wall-clock seconds of one denoising step."),
                                                  buckets: Self.stepBuckets)
        requestSeconds = registry.makeValueHistogram(
            descriptor: Self.name("request", "seconds", "Wall-clock seconds of a generation request, queue wait included."),
            buckets: Self.requestBuckets)
    }

    /// `diffu_<metric>_<unit>` with its help text.
    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "diffu", metricName: metric, unitName: unit, helpText: help)
    }

    /// Counts one answered request.
    public func recordRequest(endpoint: String, status: Int, seconds: Double) {
        registry.makeCounter(descriptor: Self.name("requests", "total", "Requests answered, by endpoint and HTTP status."),
                             labels: [("endpoint", endpoint), ("status", String(status))]).increment()
        if endpoint.hasSuffix("completions") { requestSeconds.record(seconds) }
    }

    /// Counts a finished generation's tokens.
    public func recordTokens(prompt: Int, completion: Int) {
        promptTokens.increment(by: Int64(prompt))
        completionTokens.increment(by: Int64(completion))
    }

    /// Records one denoising step's duration.
    public func recordStep(seconds: Double) {
        steps.increment()
        stepSeconds.record(seconds)
    }

    /// Sets the scheduler's state.
    public func setLoad(running: Int, queued: Int) {
        self.running.set(Double(running))
        self.queued.set(Double(queued))
    }

    /// The exposition text.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}

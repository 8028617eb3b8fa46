import Diffu
import Foundation

/// Per-request limits of a server (``ServerConfiguration``): what a client may ask for.
public struct RequestLimits: Sendable, Equatable {
    /// Largest accepted request body, in bytes.
    public var maximumBodyBytes: Int
    /// Largest `max_tokens` (generated positions).
    public var maximumTokens: Int
    /// Largest `steps`.
    public var maximumSteps: Int
    /// Largest canvas (prompt tokens + `max_tokens`): one forward pass over it is the unit that cannot be
    /// interrupted, so this bounds the time to cancel.
    public var maximumContextTokens: Int
    /// Seconds a request may run, queue wait included, before it is cancelled.
    public var requestTimeout: Double

    /// Creates limits.
    public init(maximumBodyBytes: Int = 1 << 20, maximumTokens: Int = 1024, maximumSteps: Int = 1024,
                maximumContextTokens: Int = 4096, requestTimeout: Double = 300) {
        self.maximumBodyBytes = maximumBodyBytes
        self.maximumTokens = maximumTokens
        self.maximumSteps = maximumSteps
        self.maximumContextTokens = maximumContextTokens
        self.requestTimeout = requestTimeout
    }
}

/// Which endpoint a request came to.
public enum Endpoint: String, Sendable, Equatable {
    /// `POST /v1/completions`.
    case completions
    /// `POST /v1/chat/completions`.
    case chatCompletions
}

/// A validated generation request: the library's prompt and settings plus how to answer.
public struct GenerationRequest: Sendable, Equatable {
    /// The endpoint (response schema).
    public var endpoint: Endpoint
    /// What to condition on.
    public var prompt: Prompt
    /// The generation settings (unset fields take the model's defaults).
    public var settings: GenerationSettings
    /// Answer with server-sent events.
    public var stream: Bool
    /// Streamed: end with a chunk that carries `usage` (`stream_options.include_usage`).
    public var includeUsage: Bool
    /// Streamed: one `diffu.step` event per denoising step.
    public var diffuSteps: Bool
}

/// Parses and validates OpenAI request bodies; every problem is an ``APIError`` (400) that names the field.
public struct RequestParser: Sendable {
    /// The id the server answers to (`model` must equal it when given).
    public let modelID: String
    /// The model's vocabulary size (token prompts are checked against it).
    public let vocabularySize: Int
    /// The server's limits.
    public let limits: RequestLimits

    /// Creates a parser.
    public init(modelID: String, vocabularySize: Int, limits: RequestLimits) {
        self.modelID = modelID
        self.vocabularySize = vocabularySize
        self.limits = limits
    }

    /// OpenAI fields accepted with their neutral value only (anything else is refused, not ignored).
    static let neutralFields: [String: JSONValue] = [
        "n": .integer(1), "best_of": .integer(1), "echo": .bool(false), "presence_penalty": .integer(0),
        "frequency_penalty": .integer(0), "logprobs": .bool(false), "top_logprobs": .integer(0),
    ]
    /// Fields read by ``parse(_:endpoint:)``; any other field is refused (a misspelt setting is an error,
    /// never silently ignored).
    static let commonFields: Set<String> = [
        "model", "max_tokens", "temperature", "top_p", "seed", "stop", "stream", "stream_options", "user", "logit_bias",
        "steps", "sampler", "block_length", "cfg_scale", "cache", "threshold", "top_k", "alg_temp", "autoregressive",
        "causal", "diffu_steps",
    ]

    /// Parses a request body for `endpoint`.
    public func parse(_ body: some Collection<UInt8>, endpoint: Endpoint) throws(APIError) -> GenerationRequest {
        let fields = try Fields(parsing: body)
        let specific: Set<String> = endpoint == .completions ? ["prompt", "suffix"] : ["messages", "max_completion_tokens"]
        for key in fields.object.keys.sorted() where !Self.commonFields.contains(key) && !specific.contains(key) {
            if let neutral = Self.neutralFields[key] {
                try fields.requireNeutral(key, neutral)
            } else {
                throw .invalid("unrecognized request argument '\(key)'", param: key, code: "unknown_parameter")
            }
        }
        if let model = try fields.string("model"), model != modelID {
            throw .invalid("the model '\(model)' does not exist; this server serves '\(modelID)'", param: "model",
                           code: "model_not_found")
        }
        if let bias = fields.object["logit_bias"], bias != .null, bias != .object([:]) {
            throw .invalid("'logit_bias' is not supported", param: "logit_bias", code: "unsupported_parameter")
        }
        _ = try fields.string("user")
        let prompt = endpoint == .completions ? try completionPrompt(fields) : try chatPrompt(fields)
        let settings = try self.settings(fields, endpoint: endpoint)
        let stream = try fields.bool("stream") ?? false
        let includeUsage = try streamOptions(fields, stream: stream)
        let diffuSteps = try fields.bool("diffu_steps") ?? false
        if diffuSteps && !stream {
            throw .invalid("'diffu_steps' needs 'stream': true", param: "diffu_steps", code: "invalid_value")
        }
        return GenerationRequest(endpoint: endpoint, prompt: prompt, settings: settings, stream: stream,
                                 includeUsage: includeUsage, diffuSteps: diffuSteps)
    }

    /// The sampler settings: OpenAI's fields, then Diffu's diffusion extensions.
    func settings(_ fields: Fields, endpoint: Endpoint) throws(APIError) -> GenerationSettings {
        var settings = GenerationSettings()
        var lengthKey = "max_tokens"
        if endpoint == .chatCompletions, fields.object["max_completion_tokens"].map({ $0 != .null }) == true { lengthKey = "max_completion_tokens" }
        settings.length = try fields.integer(lengthKey, in: 1...limits.maximumTokens)
        settings.temperature = try fields.number("temperature", in: 0...2).map(Float.init)
        if let topP = try fields.number("top_p", in: 0...1) {
            guard topP > 0 else { throw .outOfRange("top_p", "must be greater than 0") }
            settings.topP = Float(topP)
        }
        settings.seed = try fields.integer("seed", in: 0...Int.max).map(UInt64.init)
        settings.stopSequences = try stopSequences(fields)
        settings.steps = try fields.integer("steps", in: 1...limits.maximumSteps)
        if let name = try fields.string("sampler") {
            guard let sampler = SamplerAlgorithm(rawValue: name.replacingOccurrences(of: "_", with: "-")) else {
                throw .outOfRange("sampler", "must be one of \(SamplerAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            settings.sampler = sampler
        }
        settings.blockLength = try fields.integer("block_length", in: 1...limits.maximumTokens)
        settings.guidanceScale = try fields.number("cfg_scale", in: 0...1e6).map(Float.init)
        if let name = try fields.string("cache") {
            guard let cache = CacheMode(rawValue: name) else {
                throw .outOfRange("cache", "must be one of \(CacheMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            settings.cache = cache
        }
        settings.confidenceThreshold = try fields.number("threshold", in: -1e6...1e6).map(Float.init)
        settings.topK = try fields.integer("top_k", in: 1...vocabularySize)
        settings.algorithmTemperature = try fields.number("alg_temp", in: 0...1e6).map(Float.init)
        settings.autoregressive = try fields.bool("autoregressive") ?? false
        settings.causal = try fields.bool("causal") ?? false
        return settings
    }

    /// `stop`: null, a string, or up to 4 strings, none empty.
    func stopSequences(_ fields: Fields) throws(APIError) -> [String] {
        let stops: [String]
        switch fields.object["stop"] {
        case nil, .null?: return []
        case .string(let stop)?: stops = [stop]
        case .array(let values)?:
            var strings: [String] = []
            for value in values {
                guard case .string(let stop) = value else { throw .wrongType("stop", expected: "a string or an array of strings") }
                strings.append(stop)
            }
            stops = strings
        default: throw .wrongType("stop", expected: "a string or an array of strings")
        }
        guard stops.count <= 4 else { throw .outOfRange("stop", "holds at most 4 sequences") }
        guard !stops.contains("") else { throw .outOfRange("stop", "must not contain an empty string") }
        return stops
    }

    /// `stream_options`: only with `stream`, only `include_usage`.
    func streamOptions(_ fields: Fields, stream: Bool) throws(APIError) -> Bool {
        guard let value = fields.object["stream_options"], value != .null else { return false }
        guard stream else { throw .invalid("'stream_options' needs 'stream': true", param: "stream_options", code: "invalid_value") }
        guard case .object(let options) = value else { throw .wrongType("stream_options", expected: "an object") }
        let nested = Fields(object: options.dictionary, prefix: "stream_options.")
        for key in options.keys where key != "include_usage" {
            throw .invalid("unrecognized request argument 'stream_options.\(key)'", param: "stream_options.\(key)", code: "unknown_parameter")
        }
        return try nested.bool("include_usage") ?? false
    }

    /// `/v1/completions`: `prompt` (a string, one string in an array, token ids, or one array of token ids)
    /// and an optional `suffix` (infilling). An empty prompt without suffix is unconditional generation.
    func completionPrompt(_ fields: Fields) throws(APIError) -> Prompt {
        let suffix = try fields.string("suffix")
        switch fields.object["prompt"] {
        case nil, .null?: throw .invalid("'prompt' is required", param: "prompt", code: "missing_required_parameter")
        case .string(let text)?:
            if let suffix { return .infill(prefix: text, suffix: suffix) }
            return text.isEmpty ? .none : .text(text)
        case .array(let items)?:
            if suffix != nil { throw .invalid("'suffix' needs a text prompt", param: "suffix", code: "invalid_value") }
            if items.count == 1, case .string(let text) = items[0] { return text.isEmpty ? .none : .text(text) }
            if items.count == 1, case .array(let ids) = items[0] { return .tokens(try tokenIds(ids)) }
            if items.allSatisfy({ if case .integer = $0 { true } else { false } }) { return .tokens(try tokenIds(items)) }
            throw .invalid("'prompt' must be a string, token ids, or one of either in an array (batches are not supported)",
                           param: "prompt", code: "invalid_value")
        default: throw .wrongType("prompt", expected: "a string or an array of token ids")
        }
    }

    /// Token ids of a prompt, each inside the vocabulary.
    func tokenIds(_ values: [JSONValue]) throws(APIError) -> [Int32] {
        guard !values.isEmpty else { throw .outOfRange("prompt", "holds no tokens") }
        var ids: [Int32] = []
        for value in values {
            guard case .integer(let id) = value else { throw .wrongType("prompt", expected: "an array of integer token ids") }
            guard id >= 0, id < vocabularySize else { throw .outOfRange("prompt", "holds token \(id), outside the vocabulary of \(vocabularySize)") }
            ids.append(Int32(id))
        }
        return ids
    }

    /// `/v1/chat/completions`: `messages`, each `{role, content}` with a string content or text parts.
    func chatPrompt(_ fields: Fields) throws(APIError) -> Prompt {
        guard let value = fields.object["messages"], value != .null else {
            throw .invalid("'messages' is required", param: "messages", code: "missing_required_parameter")
        }
        guard case .array(let items) = value else { throw .wrongType("messages", expected: "an array of messages") }
        guard !items.isEmpty else { throw .outOfRange("messages", "must hold at least one message") }
        var messages: [ChatMessage] = []
        for (index, item) in items.enumerated() {
            let param = "messages[\(index)]"
            guard case .object(let object) = item else { throw .wrongType(param, expected: "an object") }
            let message = Fields(object: object.dictionary, prefix: param + ".")
            guard var role = try message.string("role") else {
                throw .invalid("'\(param).role' is required", param: param + ".role", code: "missing_required_parameter")
            }
            if role == "developer" { role = "system" }
            guard ["system", "user", "assistant"].contains(role) else {
                throw .outOfRange(param + ".role", "must be system, developer, user or assistant (got '\(role)')")
            }
            messages.append(ChatMessage(role: role, content: try content(object["content"], param: param + ".content")))
        }
        return .chat(messages)
    }

    /// A message's content: a string, or an array of `{"type": "text", "text": …}` parts (joined).
    func content(_ value: JSONValue?, param: String) throws(APIError) -> String {
        switch value {
        case .string(let text)?: return text
        case .array(let parts)?:
            var text = ""
            for (index, part) in parts.enumerated() {
                guard case .object(let object) = part, object["type"] == .string("text"), case .string(let piece)? = object["text"] else {
                    throw .invalid("'\(param)[\(index)]' must be a text part {\"type\": \"text\", \"text\": …}", param: "\(param)[\(index)]",
                                   code: "invalid_value")
                }
                text += piece
            }
            return text
        case nil, .null?: throw .invalid("'\(param)' is required", param: param, code: "missing_required_parameter")
        default: throw .wrongType(param, expected: "a string or an array of text parts")
        }
    }
}

/// Typed access to the members of a JSON object; each accessor names the field in its error.
struct Fields {
    let object: [String: JSONValue]
    let prefix: String

    init(object: [String: JSONValue], prefix: String = "") {
        self.object = object
        self.prefix = prefix
    }

    /// Parses a request body, which must be one JSON object.
    init(parsing body: some Collection<UInt8>) throws(APIError) {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(body))
        } catch {
            throw .invalid("the request body is not valid JSON", code: "invalid_json")
        }
        guard case .object(let object) = value else { throw .invalid("the request body must be a JSON object", code: "invalid_json") }
        self.init(object: object.dictionary)
    }

    /// A string member, `nil` when absent or null.
    func string(_ key: String) throws(APIError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw .wrongType(prefix + key, expected: "a string")
        }
    }

    /// A boolean member.
    func bool(_ key: String) throws(APIError) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw .wrongType(prefix + key, expected: "a boolean")
        }
    }

    /// An integer member within `range` (an integral number such as `16.0` counts).
    func integer(_ key: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        let value: Int
        switch object[key] {
        case nil, .null?: return nil
        case .integer(let integer)?: value = integer
        case .number(let number)? where number.rounded() == number && abs(number) < 9e15: value = Int(number)
        default: throw .wrongType(prefix + key, expected: "an integer")
        }
        guard range.contains(value) else { throw .outOfRange(prefix + key, "must be between \(range.lowerBound) and \(range.upperBound) (got \(value))") }
        return value
    }

    /// A finite number member within `range`.
    func number(_ key: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
        let value: Double
        switch object[key] {
        case nil, .null?: return nil
        case .integer(let integer)?: value = Double(integer)
        case .number(let number)?: value = number
        default: throw .wrongType(prefix + key, expected: "a number")
        }
        guard value.isFinite, range.contains(value) else {
            throw .outOfRange(prefix + key, "must be between \(range.lowerBound) and \(range.upperBound) (got \(value))")
        }
        return value
    }

    /// A member accepted only with its neutral value (null counts): `n` = 1, penalties = 0, …
    func requireNeutral(_ key: String, _ neutral: JSONValue) throws(APIError) {
        guard let value = object[key], value != .null, value != neutral else { return }
        if case .integer(let expected) = neutral, case .number(let number) = value, number == Double(expected) { return }
        if case .bool(false) = neutral, case .integer(0) = value { return }
        throw .invalid("'\(key)' is only supported as \(Self.describe(neutral))", param: key, code: "unsupported_parameter")
    }

    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .integer(let integer): "\(integer)"
        case .bool(let bool): "\(bool)"
        default: "its default"
        }
    }
}

import Diffu
import Foundation

/// OpenAI's response and chunk schemas, and Diffu's `diffu.step` event, as JSON values.
public struct ResponseEncoder: Sendable {
    /// The response id (`cmpl-…` or `chatcmpl-…`).
    public let id: String
    /// The model id.
    public let model: String
    /// Unix seconds of the request.
    public let created: Int
    /// The endpoint (which schema).
    public let endpoint: Endpoint

    /// Creates an encoder for one request.
    public init(id: String, model: String, created: Int, endpoint: Endpoint) {
        self.id = id
        self.model = model
        self.created = created
        self.endpoint = endpoint
    }

    /// OpenAI's `finish_reason` for the library's reason.
    public static func finishReason(_ reason: FinishReason) -> String {
        switch reason {
        case .endOfSequence, .stopSequence: "stop"
        case .length: "length"
        }
    }

    /// `usage`: prompt, completion and total tokens.
    public static func usage(prompt: Int, completion: Int) -> JSONValue {
        .object(["prompt_tokens": .integer(prompt), "completion_tokens": .integer(completion), "total_tokens": .integer(prompt + completion)])
    }

    private var header: [String: JSONValue] {
        ["id": .string(id), "created": .integer(created), "model": .string(model)]
    }

    /// The non-streamed answer (`text_completion` or `chat.completion`) with `usage` and Diffu's run
    /// figures (`diffu`: steps, forward passes, seconds).
    public func completion(_ result: GenerationResult) -> JSONValue {
        var choice: [String: JSONValue] = ["index": .integer(0), "logprobs": .null,
                                           "finish_reason": .string(Self.finishReason(result.finishReason))]
        var object = header
        switch endpoint {
        case .completions:
            object["object"] = .string("text_completion")
            choice["text"] = .string(result.text)
        case .chatCompletions:
            object["object"] = .string("chat.completion")
            choice["message"] = .object(["role": .string("assistant"), "content": .string(result.text)])
        }
        object["choices"] = .array([.object(choice)])
        object["usage"] = Self.usage(prompt: result.promptTokenCount, completion: result.answerTokenCount)
        object["diffu"] = .object(["steps": .integer(result.steps), "forward_passes": .integer(result.forwardPasses),
                                   "seconds": .number(result.seconds)])
        return .object(object)
    }

    /// One streamed chunk: a text delta (`finish_reason` null), or the last one with its finish reason.
    /// The first chat chunk carries `role`.
    public func chunk(text: String, finishReason: FinishReason? = nil, first: Bool = false) -> JSONValue {
        var choice: [String: JSONValue] = ["index": .integer(0), "logprobs": .null,
                                           "finish_reason": finishReason.map { .string(Self.finishReason($0)) } ?? .null]
        var object = header
        switch endpoint {
        case .completions:
            object["object"] = .string("text_completion")
            choice["text"] = .string(text)
        case .chatCompletions:
            object["object"] = .string("chat.completion.chunk")
            var delta: [String: JSONValue] = [:]
            if first { delta["role"] = .string("assistant") }
            if !text.isEmpty || first || finishReason == nil { delta["content"] = .string(text) }
            choice["delta"] = .object(delta)
        }
        object["choices"] = .array([.object(choice)])
        return .object(object)
    }

    /// The usage chunk a stream ends with under `stream_options.include_usage`: no choices, `usage` set.
    public func usageChunk(_ result: GenerationResult) -> JSONValue {
        var object = header
        object["object"] = .string(endpoint == .completions ? "text_completion" : "chat.completion.chunk")
        object["choices"] = .array([])
        object["usage"] = Self.usage(prompt: result.promptTokenCount, completion: result.answerTokenCount)
        return .object(object)
    }

    /// Diffu's denoising event: the canvas of generated positions after a step.
    ///
    /// `canvas` holds one entry per generated position, in order: the token's text, or `null` while it is
    /// still masked; `tokens` the ids (`null` for masks); `revealed` the indices into `canvas` revealed at
    /// this step; `masks_left` the masks remaining; `step` counts from 1.
    public func step(_ step: GenerationStep, maskToken: Int32, piece: (Int32) -> String) -> JSONValue {
        let generatedIndex = Dictionary(uniqueKeysWithValues: step.generatedPositions.enumerated().map { ($1, $0) })
        var canvas: [JSONValue] = []
        var tokens: [JSONValue] = []
        canvas.reserveCapacity(step.generatedPositions.count)
        for position in step.generatedPositions {
            let token = step.tokens[position]
            if token == maskToken {
                canvas.append(.null)
                tokens.append(.null)
            } else {
                canvas.append(.string(piece(token)))
                tokens.append(.integer(Int(token)))
            }
        }
        var object = header
        object["object"] = .string("diffu.step")
        object["step"] = .integer(step.index + 1)
        object["planned_steps"] = step.plannedSteps.map { .integer($0) } ?? .null
        object["canvas"] = .array(canvas)
        object["tokens"] = .array(tokens)
        object["revealed"] = .array(step.revealed.compactMap { generatedIndex[$0] }.sorted().map { .integer($0) })
        object["masks_left"] = .integer(step.remainingMasks)
        object["elapsed"] = .number(step.elapsed)
        return .object(object)
    }

    /// `GET /v1/models`.
    public static func models(id: String, created: Int) -> JSONValue {
        .object(["object": .string("list"), "data": .array([.object([
            "id": .string(id), "object": .string("model"), "created": .integer(created), "owned_by": .string("diffu"),
        ])])])
    }

    /// Compact JSON bytes of a value (keys sorted, slashes unescaped).
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(value))) ?? Array(#"{"error":{"message":"encoding failed","type":"server_error","param":null,"code":null}}"#.utf8)
    }

    /// One server-sent event: `data: <json>\n\n`.
    public static func event(_ value: JSONValue) -> [UInt8] {
        Array("data: ".utf8) + bytes(value) + Array("\n\n".utf8)
    }

    /// The stream's terminator, `data: [DONE]\n\n`.
    public static let done = Array("data: [DONE]\n\n".utf8)
}

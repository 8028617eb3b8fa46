import Diffu
import DiffuServer
import Foundation
import Testing

/// Request parsing and validation: every OpenAI field and Diffu extension maps to the library's
/// settings, and every malformed body is a 400 that names the field (OpenAI's error codes).
@Suite struct RequestParserTests {
    let parser = RequestParser(modelID: "tiny", vocabularySize: 100, limits: RequestLimits(maximumTokens: 64, maximumSteps: 128))

    func parse(_ json: String, _ endpoint: Endpoint = .completions) throws(APIError) -> GenerationRequest {
        try parser.parse(Array(json.utf8), endpoint: endpoint)
    }

    func expectError(_ json: String, _ endpoint: Endpoint = .completions, status: Int = 400, code: String?, param: String?,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let request = try parse(json, endpoint)
            Issue.record("accepted \(json): \(request)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.status == status, "\(json): \(error)", sourceLocation: sourceLocation)
            #expect(error.code == code, "\(json): \(error)", sourceLocation: sourceLocation)
            #expect(error.param == param, "\(json): \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func everyFieldMapsToTheSettings() throws {
        let request = try parse("""
            {"model": "tiny", "prompt": "Hi", "max_tokens": 16, "temperature": 0.5, "top_p": 0.8, "seed": 7, "stop": ["a", "b"],
             "stream": true, "stream_options": {"include_usage": true}, "steps": 32, "sampler": "maskgit_plus",
             "block_length": 8, "cache": "dual", "threshold": 0.9, "top_k": 5, "alg_temp": 0.1, "causal": false,
             "diffu_steps": true, "n": 1, "user": "u", "logit_bias": {}, "presence_penalty": 0, "logprobs": null, "cfg_scale": 1.5}
            """)
        #expect(request.prompt == .text("Hi"))
        #expect(request.stream && request.includeUsage && request.diffuSteps)
        #expect(request.settings == GenerationSettings(
            length: 16, steps: 32, sampler: .maskgitPlus, blockLength: 8, guidanceScale: 1.5, temperature: 0.5, topP: 0.8, topK: 5, algorithmTemperature: 0.1,
            confidenceThreshold: 0.9, cache: .dual, seed: 7, stopSequences: ["a", "b"]))
        let defaults = try parse(#"{"prompt": "Hi"}"#)
        #expect(defaults.settings == GenerationSettings() && !defaults.stream && !defaults.includeUsage && !defaults.diffuSteps)
    }

    @Test func promptForms() throws {
        #expect(try parse(#"{"prompt": ""}"#).prompt == .none)
        #expect(try parse(#"{"prompt": ["one"]}"#).prompt == .text("one"))
        #expect(try parse(#"{"prompt": [1, 2, 3]}"#).prompt == .tokens([1, 2, 3]))
        #expect(try parse(#"{"prompt": [[4, 5]]}"#).prompt == .tokens([4, 5]))
        #expect(try parse(#"{"prompt": "The", "suffix": " end."}"#).prompt == .infill(prefix: "The", suffix: " end."))
        #expect(try parse(#"{"prompt": "x", "stop": "y", "max_tokens": 8.0}"#).settings.stopSequences == ["y"])
        expectError(#"{"prompt": ["a", "b"]}"#, code: "invalid_value", param: "prompt")
        expectError(#"{"prompt": [1, 100]}"#, code: "invalid_value", param: "prompt")
        expectError(#"{"prompt": [1, -1]}"#, code: "invalid_value", param: "prompt")
        expectError(#"{"prompt": []}"#, code: "invalid_value", param: "prompt")
        expectError(#"{"prompt": 3}"#, code: "invalid_type", param: "prompt")
        expectError(#"{"max_tokens": 3}"#, code: "missing_required_parameter", param: "prompt")
        expectError(#"{"prompt": [1], "suffix": "x"}"#, code: "invalid_value", param: "suffix")
    }

    @Test func chatMessages() throws {
        let request = try parse("""
            {"messages": [{"role": "developer", "content": "Be brief."},
                          {"role": "user", "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]},
                          {"role": "assistant", "content": "Hi."}, {"role": "user", "content": "Again", "name": "x"}],
             "max_completion_tokens": 12}
            """, .chatCompletions)
        #expect(request.prompt == .chat([ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hello"),
                                         ChatMessage(role: "assistant", content: "Hi."), ChatMessage(role: "user", content: "Again")]))
        #expect(request.settings.length == 12)
        expectError(#"{"messages": "hi"}"#, .chatCompletions, code: "invalid_type", param: "messages")
        expectError(#"{"messages": []}"#, .chatCompletions, code: "invalid_value", param: "messages")
        expectError(#"{"messages": [3]}"#, .chatCompletions, code: "invalid_type", param: "messages[0]")
        expectError(#"{"messages": [{"content": "x"}]}"#, .chatCompletions, code: "missing_required_parameter", param: "messages[0].role")
        expectError(#"{"messages": [{"role": "tool", "content": "x"}]}"#, .chatCompletions, code: "invalid_value", param: "messages[0].role")
        expectError(#"{"messages": [{"role": "user"}]}"#, .chatCompletions, code: "missing_required_parameter", param: "messages[0].content")
        expectError(#"{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}"#, .chatCompletions, code: "invalid_value",
                    param: "messages[0].content[0]")
        // A completions-only field on the chat endpoint is unknown there.
        expectError(#"{"messages": [{"role": "user", "content": "x"}], "prompt": "x"}"#, .chatCompletions, code: "unknown_parameter", param: "prompt")
    }

    @Test func malformedBodiesAndValues() {
        expectError("{", code: "invalid_json", param: nil)
        expectError("[1]", code: "invalid_json", param: nil)
        expectError("", code: "invalid_json", param: nil)
        do {
            _ = try parser.parse([UInt8](#"{"prompt": ""#.utf8) + [0xFF, 0x22, 0x7D], endpoint: .completions)
            Issue.record("invalid UTF-8 accepted")
        } catch {
            #expect(error.code == "invalid_json")
        }
        expectError(#"{"prompt": "x", "model": "other"}"#, code: "model_not_found", param: "model")
        expectError(#"{"prompt": "x", "model": 3}"#, code: "invalid_type", param: "model")
        expectError(#"{"prompt": "x", "max_tokens": "8"}"#, code: "invalid_type", param: "max_tokens")
        expectError(#"{"prompt": "x", "max_tokens": 1.5}"#, code: "invalid_type", param: "max_tokens")
        expectError(#"{"prompt": "x", "max_tokens": 0}"#, code: "invalid_value", param: "max_tokens")
        expectError(#"{"prompt": "x", "max_tokens": 65}"#, code: "invalid_value", param: "max_tokens")
        expectError(#"{"prompt": "x", "steps": 129}"#, code: "invalid_value", param: "steps")
        expectError(#"{"prompt": "x", "temperature": 2.5}"#, code: "invalid_value", param: "temperature")
        expectError(#"{"prompt": "x", "temperature": true}"#, code: "invalid_type", param: "temperature")
        expectError(#"{"prompt": "x", "top_p": 0}"#, code: "invalid_value", param: "top_p")
        expectError(#"{"prompt": "x", "seed": -1}"#, code: "invalid_value", param: "seed")
        expectError(#"{"prompt": "x", "stream": "yes"}"#, code: "invalid_type", param: "stream")
        expectError(#"{"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}"#, code: "invalid_value", param: "stop")
        expectError(#"{"prompt": "x", "stop": [""]}"#, code: "invalid_value", param: "stop")
        expectError(#"{"prompt": "x", "stop": [1]}"#, code: "invalid_type", param: "stop")
        expectError(#"{"prompt": "x", "sampler": "best"}"#, code: "invalid_value", param: "sampler")
        expectError(#"{"prompt": "x", "cache": "all"}"#, code: "invalid_value", param: "cache")
        expectError(#"{"prompt": "x", "top_k": 0}"#, code: "invalid_value", param: "top_k")
        expectError(#"{"prompt": "x", "stepz": 4}"#, code: "unknown_parameter", param: "stepz")
        expectError(#"{"prompt": "x", "n": 2}"#, code: "unsupported_parameter", param: "n")
        expectError(#"{"prompt": "x", "echo": true}"#, code: "unsupported_parameter", param: "echo")
        expectError(#"{"prompt": "x", "logprobs": 2}"#, code: "unsupported_parameter", param: "logprobs")
        expectError(#"{"prompt": "x", "logit_bias": {"1": 5}}"#, code: "unsupported_parameter", param: "logit_bias")
        expectError(#"{"prompt": "x", "diffu_steps": true}"#, code: "invalid_value", param: "diffu_steps")
        expectError(#"{"prompt": "x", "stream_options": {"include_usage": true}}"#, code: "invalid_value", param: "stream_options")
        expectError(#"{"prompt": "x", "stream": true, "stream_options": {"x": 1}}"#, code: "unknown_parameter", param: "stream_options.x")
        expectError(#"{"prompt": "x", "stream": true, "stream_options": {"include_usage": 1}}"#, code: "invalid_type",
                    param: "stream_options.include_usage")
    }

    @Test func errorBodyFollowsOpenAISchema() throws {
        let error = APIError.wrongType("max_tokens", expected: "an integer")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ResponseEncoder.bytes(error.body))) as? [String: Any])
        let body = try #require(json["error"] as? [String: Any])
        #expect(Set(body.keys) == ["message", "type", "param", "code"])
        #expect(body["type"] as? String == "invalid_request_error" && body["param"] as? String == "max_tokens")
        let overloaded = APIError.overloaded(retryAfter: 1)
        #expect(overloaded.status == 503 && overloaded.retryAfter == 1 && overloaded.code == "server_overloaded")
        let untargeted = try #require(try JSONSerialization.jsonObject(with: Data(ResponseEncoder.bytes(APIError.shuttingDown.body))) as? [String: [String: Any]])
        #expect(untargeted["error"]?["param"] is NSNull)
    }
}

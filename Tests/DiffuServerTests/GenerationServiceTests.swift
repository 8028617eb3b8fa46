import Diffu
import DiffuConversion
import DiffuTestSupport
@testable import DiffuServer
import Foundation
import Logging
import Testing

/// The server's work without HTTP, on the tiny ChatML model (`tools/fixtures/make_server_fixture.py`): answers
/// equal the library's own generation for the same settings, streams join to the same text, step events
/// show the canvas, and admission control refuses and cancels as documented.
@Suite struct GenerationServiceTests {
    static let fixture = TestFixtures.url("server/tiny-chatml.gguf")

    /// The fixture converted into a scratch file (the directory is removed by the caller).
    static func service(parallel: Int = 1, queue: Int = 4, limits: RequestLimits = RequestLimits()) throws -> (GenerationService, URL) {
        let directory = try TemporaryDirectory.make(prefix: "diffu-server")
        let path = directory.appendingPathComponent("tiny-chatml.diffu").path
        try DiffuModel.convert(source: fixture.path, destination: path, recipe: .f32, maskTokenId: 262)
        let model = try DiffuModel.open(path: path)
        let service = GenerationService(model: model, modelID: "tiny-chatml", limits: limits, threads: 1, parallel: parallel,
                                        queueCapacity: queue, logger: Logger(label: "test"))
        return (service, directory)
    }

    /// A collector for streamed bytes.
    final class Collector: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes: [UInt8] = []
        func append(_ more: [UInt8]) { lock.withLock { bytes += more } }
        /// The `data:` payloads; asserts the SSE framing and the final `[DONE]`.
        func events() throws -> [[String: Any]] {
            let text = lock.withLock { String(decoding: bytes, as: UTF8.self) }
            let blocks = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(blocks.allSatisfy { $0.hasPrefix("data: ") })
            #expect(blocks.last == "data: [DONE]")
            return try blocks.dropLast().map { block in
                try #require(try JSONSerialization.jsonObject(with: Data(block.dropFirst(6).utf8)) as? [String: Any])
            }
        }
    }

    static func object(_ value: JSONValue) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(ResponseEncoder.bytes(value))) as? [String: Any])
    }

    let greedy = #"{"prompt": "The quick brown fox", "max_tokens": 24, "steps": 8, "sampler": "confidence", "temperature": 0"#

    @Test func completionEqualsTheLibrarysGeneration() async throws {
        let (service, directory) = try Self.service()
        defer { try? FileManager.default.removeItem(at: directory) }
        let prepared = try service.prepare(Array((greedy + "}").utf8), endpoint: .completions)
        let expected = try service.model.generateSynchronously(.text("The quick brown fox"), parameters: service.model.parameters(
            GenerationSettings(length: 24, steps: 8, sampler: .confidence, temperature: 0, threads: 1)))
        let (status, body) = await service.complete(prepared, slot: try await service.admit(prepared))
        #expect(status == 200)
        let object = try Self.object(body)
        #expect(object["object"] as? String == "text_completion" && object["model"] as? String == "tiny-chatml")
        #expect((object["id"] as? String)?.hasPrefix("cmpl-") == true)
        let choice = try #require((object["choices"] as? [[String: Any]])?.first)
        #expect(choice["text"] as? String == expected.text)
        #expect(choice["finish_reason"] as? String == ResponseEncoder.finishReason(expected.finishReason))
        #expect(choice["logprobs"] is NSNull)
        let usage = try #require(object["usage"] as? [String: Int])
        #expect(usage == ["prompt_tokens": expected.promptTokenCount, "completion_tokens": expected.answerTokenCount,
                          "total_tokens": expected.promptTokenCount + expected.answerTokenCount])
        #expect(service.scheduler.runningCount == 0)
    }

    @Test func streamJoinsToTheAnswerAndShowsTheCanvas() async throws {
        let (service, directory) = try Self.service()
        defer { try? FileManager.default.removeItem(at: directory) }
        let whole = try service.prepare(Array((greedy + "}").utf8), endpoint: .completions)
        let (_, body) = await service.complete(whole, slot: try await service.admit(whole))
        let answer = try #require(((try Self.object(body))["choices"] as? [[String: Any]])?.first?["text"] as? String)
        let ran = try #require(((try Self.object(body))["diffu"] as? [String: Any])?["steps"] as? Int)

        let prepared = try service.prepare(Array((greedy + #", "stream": true, "diffu_steps": true, "stream_options": {"include_usage": true}}"#).utf8),
                                           endpoint: .completions)
        let collector = Collector()
        await service.stream(prepared, slot: try await service.admit(prepared)) { collector.append($0) }
        let events = try collector.events()
        let steps = events.filter { $0["object"] as? String == "diffu.step" }
        let chunks = events.filter { $0["object"] as? String == "text_completion" }
        #expect(steps.count == ran)
        #expect(steps.map { $0["step"] as? Int } == Array(1...ran))
        let masks = steps.compactMap { $0["masks_left"] as? Int }
        #expect(masks == masks.sorted(by: >) && masks.last == 0)
        for step in steps {
            let canvas = try #require(step["canvas"] as? [Any])
            #expect(canvas.count == 24)
            #expect(canvas.filter { $0 is NSNull }.count == step["masks_left"] as? Int)
        }
        let texts = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["text"] as? String }
        #expect(texts.joined() == answer)
        let usage = try #require(chunks.last?["usage"] as? [String: Int])
        #expect((chunks.last?["choices"] as? [Any])?.isEmpty == true && usage["completion_tokens"] != nil)
    }

    @Test func chatStreamCarriesTheRoleFirst() async throws {
        let (service, directory) = try Self.service()
        defer { try? FileManager.default.removeItem(at: directory) }
        let body = #"{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 12, "steps": 4, "sampler": "confidence", "temperature": 0"#
        let whole = try service.prepare(Array((body + "}").utf8), endpoint: .chatCompletions)
        let (status, answer) = await service.complete(whole, slot: try await service.admit(whole))
        #expect(status == 200)
        let message = try #require(((try Self.object(answer))["choices"] as? [[String: Any]])?.first?["message"] as? [String: String])
        #expect(message["role"] == "assistant")
        #expect(whole.stopSequences == [ChatTemplate.endOfTurn])

        let prepared = try service.prepare(Array((body + #", "stream": true}"#).utf8), endpoint: .chatCompletions)
        let collector = Collector()
        await service.stream(prepared, slot: try await service.admit(prepared)) { collector.append($0) }
        let events = try collector.events()
        #expect(events.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
        let deltas = events.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: String] }
        #expect(deltas.first?["role"] == "assistant")
        #expect(deltas.compactMap { $0["content"] }.joined() == message["content"])
        #expect(((events.last?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String) != nil)
    }

    @Test func preparationRefusesWhatCannotRun() throws {
        let (service, directory) = try Self.service(limits: RequestLimits(maximumTokens: 16, maximumContextTokens: 40))
        defer { try? FileManager.default.removeItem(at: directory) }
        func code(_ json: String, _ endpoint: Endpoint = .completions) -> String? {
            do {
                _ = try service.prepare(Array(json.utf8), endpoint: endpoint)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code(#"{"prompt": "\#(String(repeating: "a ", count: 30))", "max_tokens": 16}"#) == "context_length_exceeded")
        #expect(code(#"{"prompt": "x", "max_tokens": 4, "sampler": "random-keep", "top_k": 3}"#) == "invalid_value")
        #expect(code(#"{"prompt": [1, 300], "max_tokens": 4}"#) == "invalid_value")
        #expect(code(#"{"prompt": "x", "max_tokens": 4}"#) == nil)
        // Without max_tokens the model's default length (1024) is capped by the server's limit.
        #expect(try service.prepare(Array(#"{"prompt": "x"}"#.utf8), endpoint: .completions).parameters.length == 16)
    }

    @Test func timeLimitCancelsTheGeneration() async throws {
        let (service, directory) = try Self.service(limits: RequestLimits(maximumTokens: 512, maximumSteps: 100_000,
                                                                          requestTimeout: 0.3))
        defer { try? FileManager.default.removeItem(at: directory) }
        let prepared = try service.prepare(Array(#"{"prompt": "x", "max_tokens": 500, "steps": 100000, "sampler": "confidence", "temperature": 0}"#.utf8),
                                           endpoint: .completions)
        let start = ContinuousClock.now
        let (status, body) = await service.complete(prepared, slot: try await service.admit(prepared))
        #expect(status == 408)
        #expect(((try Self.object(body))["error"] as? [String: Any])?["code"] as? String == "timeout")
        // The full generation would take hours (100 000 steps). The bound is loose because a parallel
        // `swift test` keeps the cooperative pool busy with other suites' synchronous work, which delays
        // the timer task; tools/ci/server_smoke.sh checks the time limit tightly on a running server.
        #expect(ContinuousClock.now - start < .seconds(600))
    }

    @Test func heldBackTails() {
        #expect(TextStreamer.withoutHeldBackTail("abc\u{FFFD}", stopSequences: []) == "abc")
        #expect(TextStreamer.withoutHeldBackTail("hello wo", stopSequences: ["world"]) == "hello ")
        #expect(TextStreamer.withoutHeldBackTail("hello w", stopSequences: ["xy", "wz"]) == "hello ")
        #expect(TextStreamer.withoutHeldBackTail("hello", stopSequences: ["xyz"]) == "hello")
        #expect(TextStreamer.withoutHeldBackTail("ab", stopSequences: ["abc"]) == "")
    }
}

/// Admission control: slots, the bounded queue, cancellation while queued, closing.
@Suite struct GenerationSchedulerTests {
    @Test func slotsQueueAndRefusal() async throws {
        let scheduler = GenerationScheduler(parallel: 1, queueCapacity: 1)
        let first = try await scheduler.acquire()
        #expect(scheduler.runningCount == 1)
        let waiter = Task { try await scheduler.acquire() }
        while scheduler.queuedCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        await #expect(throws: APIError.overloaded(retryAfter: 1)) { _ = try await scheduler.acquire() }
        first.release()
        first.release()  // a second release does nothing
        let second = try await waiter.value
        #expect(scheduler.runningCount == 1 && scheduler.queuedCount == 0)
        second.release()
        #expect(scheduler.runningCount == 0)
    }

    @Test func cancelledWaiterLeavesTheQueue() async throws {
        let scheduler = GenerationScheduler(parallel: 1, queueCapacity: 1)
        let held = try await scheduler.acquire()
        let waiter = Task { try await scheduler.acquire() }
        while scheduler.queuedCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiter.value }
        #expect(scheduler.queuedCount == 0)
        held.release()
        #expect(scheduler.runningCount == 0)
    }

    @Test func droppedSlotIsGivenBack() async throws {
        let scheduler = GenerationScheduler(parallel: 1, queueCapacity: 0)
        do { _ = try await scheduler.acquire() }
        #expect(scheduler.runningCount == 0)
    }

    @Test func closeFailsWaitersAndRefusesNewWork() async throws {
        let scheduler = GenerationScheduler(parallel: 1, queueCapacity: 2)
        let held = try await scheduler.acquire()
        let waiter = Task { try await scheduler.acquire() }
        while scheduler.queuedCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        scheduler.close()
        await #expect(throws: APIError.shuttingDown) { _ = try await waiter.value }
        await #expect(throws: APIError.shuttingDown) { _ = try await scheduler.acquire() }
        held.release()
        #expect(scheduler.isClosed && scheduler.runningCount == 0)
    }

    @Test func stopSignalWakesWaitersAndCancelledWaitsReturn() async throws {
        let signal = StopSignal()
        let cancelled = Task { await signal.wait() }
        cancelled.cancel()
        await cancelled.value
        let waiting = Task { await signal.wait() }
        try await Task.sleep(for: .milliseconds(20))
        signal.stop()
        await waiting.value
        #expect(signal.isStopped)
        await signal.wait()  // returns at once once stopped
    }
}

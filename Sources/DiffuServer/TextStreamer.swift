import Diffu

/// Turns denoising steps into OpenAI text deltas. Diffusion reveals positions in any order, but a
/// revealed token never changes, so the run of revealed positions at the start of the generated span is
/// final: its answer text (``DiffuModel/finishedText(_:stopSequences:)``) is streamed as it grows.
/// Held back: a tail that may still become a stop sequence, and a trailing U+FFFD that the next token
/// may complete. The deltas concatenate to the final answer (``finish(_:)`` sends what remains).
public struct TextStreamer: Sendable {
    private let model: DiffuModel
    private let stopSequences: [String]
    private var sent = ""
    private var settled = false

    /// Creates a streamer for one generation with its stop sequences
    /// (``DiffuModel/stopSequences(for:parameters:)``).
    public init(model: DiffuModel, stopSequences: [String]) {
        self.model = model
        self.stopSequences = stopSequences
    }

    /// The text sent so far.
    public var text: String { sent }

    /// The new text that a step makes final (possibly empty).
    public mutating func delta(after step: GenerationStep) -> String {
        guard !settled else { return "" }
        var prefix: [Int32] = []
        for position in step.generatedPositions {
            let token = step.tokens[position]
            if token == model.maskToken { break }
            prefix.append(token)
        }
        let answer = model.finishedText(prefix, stopSequences: stopSequences)
        var safe = answer.text
        if answer.reason == .length {
            safe = Self.withoutHeldBackTail(safe, stopSequences: stopSequences)
        } else {
            settled = true  // an end-of-sequence token or a stop sequence ends the answer here for good
        }
        return advance(to: safe)
    }

    /// The rest of the final answer.
    public mutating func finish(_ result: GenerationResult) -> String {
        settled = true
        return advance(to: result.text)
    }

    /// Compared scalar by scalar: a combining mark that arrives later must not split what was sent.
    private mutating func advance(to text: String) -> String {
        let scalars = text.unicodeScalars, sentScalars = sent.unicodeScalars
        guard scalars.count > sentScalars.count, scalars.starts(with: sentScalars) else { return "" }
        var delta = String.UnicodeScalarView()
        delta.append(contentsOf: scalars.dropFirst(sentScalars.count))
        sent = text
        return String(delta)
    }

    /// `text` without a trailing U+FFFD (an incomplete UTF-8 sequence so far) and without its longest
    /// tail that is a proper prefix of a stop sequence.
    static func withoutHeldBackTail(_ text: String, stopSequences: [String]) -> String {
        var text = Substring(text)
        while text.last == "\u{FFFD}" { text = text.dropLast() }
        var hold = 0
        for stop in stopSequences {
            for length in stride(from: min(stop.count - 1, text.count), through: 1, by: -1) where text.hasSuffix(stop.prefix(length)) {
                hold = max(hold, length)
                break
            }
        }
        return String(text.dropLast(hold))
    }
}

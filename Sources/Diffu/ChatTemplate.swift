/// Renders chats for models whose template is ChatML (Qwen2 / Dream-Instruct, SmolLM2-Instruct).
///
/// Diffu does not run Jinja: it recognizes the ChatML family (`<|im_start|>role\ncontent<|im_end|>\n`,
/// then `<|im_start|>assistant\n` as the generation prompt) and takes the default system message from
/// the template's literal text when the chat does not start with one — exactly what those templates do.
/// Any other template is refused with a typed error rather than rendered wrongly.
public enum ChatTemplate {
    /// The ChatML end of a turn: a chat's answer ends before it (``DiffuModel/stopSequences(for:parameters:)``).
    public static let endOfTurn = "<|im_end|>"

    /// Renders `messages` followed by the assistant generation prompt.
    /// - Throws: ``DiffuError/invalidRequest(_:)`` when the model has no template, or one that is not ChatML.
    public static func render(_ messages: [ChatMessage], template: String?) throws -> String {
        guard let template else { throw DiffuError.invalidRequest("this model has no chat template") }
        guard template.contains("<|im_start|>") else {
            throw DiffuError.invalidRequest("only ChatML chat templates are supported")
        }
        guard !messages.isEmpty else { throw DiffuError.invalidRequest("a chat needs at least one message") }
        var text = ""
        if messages[0].role != "system", let system = defaultSystemMessage(in: template) {
            text += "<|im_start|>system\n\(system)\(endOfTurn)\n"
        }
        for message in messages {
            text += "<|im_start|>\(message.role)\n\(message.content)\(endOfTurn)\n"
        }
        return text + "<|im_start|>assistant\n"
    }

    /// The literal default system message of a ChatML template (`'<|im_start|>system\n…<|im_end|>`).
    static func defaultSystemMessage(in template: String) -> String? {
        for opener in ["<|im_start|>system\n", "<|im_start|>system\\n"] {
            guard let start = template.range(of: opener) else { continue }
            guard let end = template.range(of: endOfTurn, range: start.upperBound..<template.endIndex) else { continue }
            let message = String(template[start.upperBound..<end.lowerBound])
            if !message.contains("{{"), !message.contains("{%"), !message.contains("'") { return message }
        }
        return nil
    }
}

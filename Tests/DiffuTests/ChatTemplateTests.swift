import Foundation
import Testing
@testable import Diffu

/// Expected strings were rendered by jinja2 from the Qwen2 `tokenizer_config.json` chat template
/// (the template committed in Tests/Fixtures/tokenizers), i.e. what `apply_chat_template` produces.
@Suite struct ChatTemplateTests {
    let qwenTemplate = """
    {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
    You are a helpful assistant<|im_end|>
    ' }}{% endif %}{{'<|im_start|>' + message['role'] + '
    ' + message['content'] + '<|im_end|>' + '
    '}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
    ' }}{% endif %}
    """

    @Test func defaultSystemMessageIsInserted() throws {
        let text = try ChatTemplate.render([ChatMessage(role: "user", content: "Hi there")], template: qwenTemplate)
        #expect(text == "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func explicitSystemAndHistory() throws {
        let messages = [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi"),
                        ChatMessage(role: "assistant", content: "Hello"), ChatMessage(role: "user", content: "2+2?")]
        let text = try ChatTemplate.render(messages, template: qwenTemplate)
        #expect(text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func nonChatMLTemplatesAreRefused() {
        #expect(throws: DiffuError.self) { try ChatTemplate.render([ChatMessage(role: "user", content: "x")], template: "{{ bos_token }}[INST]") }
        #expect(throws: DiffuError.self) { try ChatTemplate.render([ChatMessage(role: "user", content: "x")], template: nil) }
    }
}

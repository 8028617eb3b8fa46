@testable import DiffuServer
import Testing

/// The web view's static properties; its behaviour is tested in headless Chromium (tools/ci/web_smoke.sh).
@Suite struct WebPageTests {
    @Test func loadsNothingFromElsewhere() {
        let html = WebPage.html
        for forbidden in ["http://", "https://", "src=", "@import", "url(", "//cdn"] {
            #expect(!html.contains(forbidden), "the page refers to an external resource: \(forbidden)")
        }
        let links = html.components(separatedBy: "href=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(links.allSatisfy { $0.hasPrefix("data:") }, "links: \(links)")
    }

    @Test func streamsStepEventsIntoTheElementsTheBrowserTestReads() {
        let html = WebPage.html
        #expect(html.hasPrefix("<!doctype html>"))
        #expect(html.contains("<html lang=\"en\">"))
        for id in ["prompt", "length", "steps", "generate", "stop", "canvas", "step", "masks", "rate", "result", "error", "step-log"] {
            #expect(html.contains("id=\"\(id)\""), "no #\(id)")
        }
        #expect(html.contains("fetch(\"/v1/completions\""))
        #expect(html.contains("diffu_steps: true") && html.contains("stream: true"))
        #expect(html.contains("role=\"alert\""), "errors are announced")
    }
}

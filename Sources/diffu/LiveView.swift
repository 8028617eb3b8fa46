import Diffu
import Foundation

/// The terminal view of denoising: the canvas redrawn after every step, masks shown as `░`, tokens
/// revealed at this step highlighted, with a step counter and the reveal rate. Does nothing when not
/// enabled (output is not a terminal, `--plain`, `--json`).
final class LiveView {
    private let model: DiffuModel
    private let enabled: Bool
    private var drawnRows = 0
    private var pieces: [Int32: String] = [:]

    private static let mask = "\u{1B}[2m░\u{1B}[0m"
    private static let highlight = "\u{1B}[1;30;42m"
    private static let promptStyle = "\u{1B}[2m"
    private static let reset = "\u{1B}[0m"

    init(model: DiffuModel, enabled: Bool) {
        self.model = model
        self.enabled = enabled
    }

    /// Redraws the canvas after a step.
    func draw(_ step: GenerationStep) {
        guard enabled else { return }
        let revealed = Set(step.revealed)
        let generated = Set(step.generatedPositions)
        var text = ""
        var visible = 0
        for (position, token) in step.tokens.enumerated() {
            if generated.contains(position) && token == model.maskToken {
                text += Self.mask
                visible += 1
                continue
            }
            let piece = printable(token)
            visible += piece.count
            if !generated.contains(position) {
                text += Self.promptStyle + piece + Self.reset
            } else if revealed.contains(position) {
                text += Self.highlight + piece + Self.reset
            } else {
                text += piece
            }
        }
        let done = step.generatedPositions.count - step.remainingMasks
        let rate = Double(done) / max(step.elapsed, 1e-9)
        let planned = step.plannedSteps.map { "/\($0)" } ?? ""
        let status = String(format: "step %d%@ · %d/%d revealed · %.1f tokens/s", step.index + 1, planned, done,
                            step.generatedPositions.count, rate)
        var frame = ""
        if drawnRows > 0 { frame += "\u{1B}[\(drawnRows)F" }
        frame += "\u{1B}[J" + text + "\n\u{1B}[2m" + status + Self.reset + "\n"
        let width = max(20, Self.terminalWidth())
        drawnRows = (max(visible, 1) + width - 1) / width + 1
        FileHandle.standardOutput.write(Data(frame.utf8))
    }

    /// Clears the live canvas before the final text is printed.
    func finish(_ result: GenerationResult) {
        guard enabled, drawnRows > 0 else { return }
        FileHandle.standardOutput.write(Data("\u{1B}[\(drawnRows)F\u{1B}[J".utf8))
        drawnRows = 0
    }

    /// One token as display text: control characters and newlines made visible, cached per id.
    private func printable(_ token: Int32) -> String {
        if let cached = pieces[token] { return cached }
        var piece = model.tokenizer.decode([token])
        piece = piece.replacingOccurrences(of: "\n", with: "↵").replacingOccurrences(of: "\t", with: "→")
        piece = String(piece.unicodeScalars.map { $0.properties.generalCategory == .control ? "·" : Character($0) })
        pieces[token] = piece
        return piece
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }
}

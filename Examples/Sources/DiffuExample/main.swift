// Loads a .diffu model, generates from a prompt, and prints every denoising step.
//
//     swift run --package-path Examples DiffuExample MODEL.diffu ["prompt"] [length] [steps]
import Diffu
import Foundation

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: DiffuExample MODEL.diffu [prompt] [length] [steps]")
    exit(2)
}

do {
    let model = try DiffuModel.open(path: arguments[1])
    print("loaded \(model.configuration.architecture.rawValue): \(model.configuration.layerCount) layers, "
          + "vocabulary \(model.configuration.vocabularySize), mask id \(model.maskToken)")

    var parameters = model.defaultParameters
    parameters.length = arguments.count > 3 ? Int(arguments[3]) ?? 16 : 16
    parameters.steps = arguments.count > 4 ? Int(arguments[4]) ?? 8 : 8
    parameters.decodeSteps = true
    parameters.seed = 42
    let prompt: Prompt = arguments.count > 2 && !arguments[2].isEmpty ? .text(arguments[2]) : .none

    for try await event in model.generate(prompt, parameters: parameters) {
        switch event {
        case .step(let step):
            print("step \(step.index + 1): revealed \(step.revealed.count), masks left \(step.remainingMasks): \(step.text ?? "")")
        case .finished(let result):
            print("done in \(result.steps) steps, \(result.forwardPasses) forward passes, \(String(format: "%.2f", result.seconds)) s")
            print("generated ids: \(result.generatedTokens)")
            print("text: \(result.text)")
        }
    }
} catch {
    print("error: \(error)")
    exit(1)
}

import DiffuTokenizers

/// Errors raised by the `Diffu` facade. Errors of the lower layers (format, models, samplers,
/// tokenizers) pass through unchanged; each names its fault.
public enum DiffuError: Error, Equatable, CustomStringConvertible {
    /// The file has no tensor with this canonical name.
    case missingTensor(String)
    /// A tensor is stored in a type or layout the models cannot use.
    case unexpectedTensorEncoding(name: String, detail: String)
    /// The file's `model` metadata does not describe a supported model.
    case invalidModelMetadata(String)
    /// The binary was built for AVX2/FMA/F16C and this CPU lacks them.
    case unsupportedCPU
    /// The request cannot be satisfied (empty prompt where one is needed, no chat template, …).
    case invalidRequest(String)
    /// The consumer stopped the generation.
    case cancelled
    /// No file or folder exists at the path.
    case noSuchFile(String)
    /// The path names no tokenizer Diffu can load (``Tokenizer/load(path:)`` lists what it takes).
    case unrecognizedTokenizerPath(String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .missingTensor(let name): "the model file has no tensor '\(name)'"
        case .unexpectedTensorEncoding(let name, let detail): "tensor '\(name)' has an unusable encoding: \(detail)"
        case .invalidModelMetadata(let detail): "invalid model metadata: \(detail)"
        case .unsupportedCPU:
            "this build of Diffu uses AVX2, FMA and F16C instructions, which this CPU lacks; rebuild with DIFFU_PORTABLE=1"
        case .invalidRequest(let detail): "invalid request: \(detail)"
        case .cancelled: "generation cancelled"
        case .noSuchFile(let path): "no such file or folder: \(path)"
        case .unrecognizedTokenizerPath(let path):
            "\(path): expected a tokenizer folder, a tokenizer file (\(Tokenizer.recognizedFileNames.joined(separator: ", "))), a .gguf or a .diffu file"
        }
    }
}

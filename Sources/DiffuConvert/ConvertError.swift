import DiffuGGUF
import DiffuStorage
import DiffuTokenizers

/// Every way a conversion can fail. Each case names the file, tensor or setting at fault.
public enum ConvertError: Error, Equatable, CustomStringConvertible {
    /// The source path does not exist.
    case sourceNotFound(path: String)
    /// The source is neither a Hugging Face directory (with `config.json`) nor a `.gguf` file.
    case unrecognizedSource(path: String)
    /// The output exists and `--force` was not given.
    case outputExists(path: String)
    /// A file could not be opened or read.
    case unreadableFile(path: String, reason: String)
    /// A file ended before the bytes its header promised.
    case truncatedFile(path: String, expectedBytes: Int, actualBytes: Int)
    /// A safetensors header is malformed.
    case invalidSafetensorsHeader(file: String, reason: String)
    /// A safetensors header is larger than the accepted cap.
    case safetensorsHeaderTooLarge(file: String, byteCount: UInt64)
    /// A tensor's dtype string is not one Diffu reads (Diffu imports F32, F16, BF16).
    case unsupportedDataType(tensor: String, dataType: String)
    /// A tensor's declared byte range does not match shape × dtype.
    case tensorSizeMismatch(file: String, tensor: String, expectedBytes: Int, actualBytes: Int)
    /// A tensor's byte range lies outside its file.
    case tensorOutOfBounds(file: String, tensor: String)
    /// Two tensors share bytes.
    case overlappingTensors(file: String, first: String, second: String)
    /// `model.safetensors.index.json` is malformed or disagrees with the shards.
    case invalidShardIndex(file: String, reason: String)
    /// A shard named by the index is missing.
    case missingShard(file: String)
    /// The same tensor name appears twice across the checkpoint's files.
    case duplicateTensor(name: String)
    /// `config.json` (or GGUF metadata) is missing a field or has an invalid one.
    case invalidConfiguration(source: String, reason: String)
    /// The model family is not one Diffu converts.
    case unsupportedArchitecture(String)
    /// The checkpoint has tensors the architecture's mapping does not know.
    case unknownTensors([String])
    /// The checkpoint lacks tensors the architecture needs.
    case missingTensors([String])
    /// A tensor's shape does not match the configuration.
    case shapeMismatch(tensor: String, expected: [Int], actual: [Int])
    /// The model is not one whose mask token Diffu knows, and no `--mask-id` was given.
    case maskTokenRequired(model: String)
    /// A mask (or other special) token id does not index the vocabulary.
    case tokenOutOfRange(what: String, id: Int, vocabularySize: Int)
    /// The source has no tokenizer files (or GGUF tokenizer keys).
    case missingTokenizer(source: String)
    /// The tokenizer files to embed do not load (the file would open to a tokenizer error).
    case unloadableTokenizer(source: String, error: TokenizerError)
    /// A GGUF tensor uses a ggml type the importer cannot dequantize.
    case unsupportedGGUFTensorType(tensor: String, type: String)
    /// The GGUF container is malformed.
    case gguf(path: String, error: GGUFError)
    /// A tensor holds NaN or infinity.
    case nonFiniteValue(tensor: String, index: Int)
    /// Encoding a tensor failed.
    case packing(tensor: String, error: StorageError)
    /// The output could not be written.
    case writeFailed(path: String, reason: String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .sourceNotFound(let path): "source not found: \(path)"
        case .unrecognizedSource(let path):
            "\(path) is neither a Hugging Face model directory (with config.json) nor a .gguf file"
        case .outputExists(let path): "output \(path) exists (use --force to overwrite)"
        case .unreadableFile(let path, let reason): "cannot read \(path): \(reason)"
        case .truncatedFile(let path, let expected, let actual):
            "\(path) is truncated: needs \(expected) bytes, has \(actual)"
        case .invalidSafetensorsHeader(let file, let reason): "invalid safetensors header in \(file): \(reason)"
        case .safetensorsHeaderTooLarge(let file, let count):
            "safetensors header of \(file) claims \(count) bytes (over the 100 MB cap)"
        case .unsupportedDataType(let tensor, let dataType):
            "tensor '\(tensor)' has dtype \(dataType); Diffu imports F32, F16 and BF16"
        case .tensorSizeMismatch(let file, let tensor, let expected, let actual):
            "tensor '\(tensor)' in \(file): shape × dtype is \(expected) bytes but its data range is \(actual)"
        case .tensorOutOfBounds(let file, let tensor): "tensor '\(tensor)' lies outside \(file)"
        case .overlappingTensors(let file, let first, let second):
            "tensors '\(first)' and '\(second)' overlap in \(file)"
        case .invalidShardIndex(let file, let reason): "invalid shard index \(file): \(reason)"
        case .missingShard(let file): "shard \(file) named by the index is missing"
        case .duplicateTensor(let name): "tensor '\(name)' appears more than once in the checkpoint"
        case .invalidConfiguration(let source, let reason): "invalid model configuration in \(source): \(reason)"
        case .unsupportedArchitecture(let name): "unsupported architecture '\(name)' (Diffu converts GPT-2, LLaMA, Qwen2/Dream)"
        case .unknownTensors(let names):
            "unknown tensors: \(Self.list(names))"
        case .missingTensors(let names):
            "missing tensors: \(Self.list(names))"
        case .shapeMismatch(let tensor, let expected, let actual):
            "tensor '\(tensor)' has shape \(actual), expected \(expected)"
        case .maskTokenRequired(let model):
            "\(model) is not a known diffusion model: give its mask token with --mask-id N (an existing or added token id)"
        case .tokenOutOfRange(let what, let id, let vocabularySize):
            "\(what) id \(id) is outside the vocabulary (0..<\(vocabularySize))"
        case .missingTokenizer(let source):
            "no tokenizer in \(source) (expected tokenizer.json, vocab.json + merges.txt or tokenizer.model; GGUF: tokenizer.ggml.* keys)"
        case .unloadableTokenizer(let source, let error): "the tokenizer of \(source) does not load: \(error)"
        case .unsupportedGGUFTensorType(let tensor, let type):
            "GGUF tensor '\(tensor)' has type \(type); Diffu imports \(GGMLType.allCases.filter { $0.traits.dequantize != nil }.map(\.description).joined(separator: ", "))"
        case .gguf(let path, let error): "\(path): \(error)"
        case .nonFiniteValue(let tensor, let index): "tensor '\(tensor)' holds NaN or infinity at element \(index)"
        case .packing(let tensor, let error): "cannot encode tensor '\(tensor)': \(error)"
        case .writeFailed(let path, let reason): "cannot write \(path): \(reason)"
        }
    }

    private static func list(_ names: [String]) -> String {
        let shown = names.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
        return names.count > 8 ? "\(shown) and \(names.count - 8) more" : shown
    }
}

import DiffuGGUF
import DiffuModels
import DiffuTokenizers

/// Imports GGUF files (llama.cpp's container): `llama`, `qwen2`, `dream` and `llada` architectures with the
/// tensor types that have a dequantizer in their ``GGMLType/traits`` row: F32, F16, BF16, Q8_0, Q4_0, Q4_1,
/// Q5_0, Q5_1, Q4_K, Q5_K and Q6_K (Q2_K, Q3_K and unknown codes are refused by tensor name, when read), and
/// llama.cpp's diffusion metadata (`tokenizer.ggml.mask_token_id`, `diffusion.shift_logits`).
///
/// GGUF dimensions are listed fastest-first (`ne[0]` is the contiguous one); ``SourceTensor`` shapes are
/// their reverse, the PyTorch order. For `llama` files, llama.cpp's converter permuted the Q and K rows
/// of every head for interleaved-pair RoPE (for `llada` too: its converter permutes as LLaMA's does and
/// llama.cpp runs it with the same RoPE); the plan undoes that (``TensorTransform/unpermuteRoPE(headCount:)``)
/// so the canonical weights use the Hugging Face half-split layout. `qwen2`/`dream` files are not
/// permuted (llama.cpp runs them with NeoX-style RoPE, which is the half-split layout).
public struct GGUFCheckpoint: Sendable {
    /// The file.
    public let file: SourceFile
    /// The parsed header, metadata and tensor directory.
    public let gguf: GGUFFile
    /// Every tensor, by GGUF name.
    public let tensors: [String: SourceTensor]

    /// Opens and parses a GGUF file (maps it only while parsing the header).
    /// - Throws: ``ConvertError/gguf(path:error:)`` for a malformed container.
    public static func open(path: String) throws -> GGUFCheckpoint {
        let file = try SourceFile(path: path)
        let parsed = try parse(file: file)
        var tensors: [String: SourceTensor] = [:]
        for info in parsed.tensors {
            let shape = Array(info.dimensions.reversed())
            let elementType = info.type.flatMap { $0.traits.dequantize == nil ? nil : $0 }
            let typeName = info.type?.description ?? "ggml type \(info.typeCode)"
            tensors[info.name] = SourceTensor(
                name: info.name, shape: shape, elementType: elementType,
                unsupported: elementType == nil ? .unsupportedGGUFTensorType(tensor: info.name, type: typeName) : nil,
                file: file, offset: info.absoluteOffset, byteCount: info.byteCount ?? 0)
        }
        return GGUFCheckpoint(file: file, gguf: parsed, tensors: tensors)
    }

    /// Maps the file read-only and parses it; the mapping is released before returning.
    static func parse(file: SourceFile) throws -> GGUFFile {
        guard file.size > 0 else { throw ConvertError.gguf(path: file.path, error: .truncated(what: "magic", offset: 0)) }
        do {
            return try file.withMappedBytes { try GGUFFile.parse($0) }
        } catch let error as GGUFError {
            throw ConvertError.gguf(path: file.path, error: error)
        }
    }

    /// The metadata-only GGUF blob holding the tokenizer: `general.architecture` and every `tokenizer.*`
    /// key, in file order — the form of llama.cpp's `ggml-vocab-*.gguf` files.
    /// - Throws: ``ConvertError/missingTokenizer(source:)`` when there are no `tokenizer.ggml.tokens`.
    public func vocabularyBlob() throws -> [UInt8] {
        guard gguf["tokenizer.ggml.tokens"] != nil, gguf["tokenizer.ggml.model"] != nil else {
            throw ConvertError.missingTokenizer(source: file.path)
        }
        let keys = gguf.metadata.filter { $0.key == "general.architecture" || $0.key.hasPrefix("tokenizer.") }
        return GGUFWriter.metadataOnly(keys)
    }

    /// What a GGUF `general.architecture` name imports as (the importer's name map): the architecture,
    /// whether its q/k/v projections have biases, whether llama.cpp's converter permuted the Q/K rows
    /// (undone by the plan), and the known diffusion model the name identifies.
    static let architectures: [String: (architecture: Architecture, attentionBias: Bool, permutedRoPE: Bool, knownModel: KnownDiffusionModel?)] = [
        "llama": (.llama, false, true, nil),
        "llada": (.llama, false, true, .llada),
        "qwen2": (.qwen2, true, false, nil),
        "dream": (.qwen2, true, false, .dream),
    ]

    /// Reads the configuration and plans every canonical tensor ("sanitize" for GGUF).
    public func sanitize() throws -> ImportedModel {
        let source = file.name
        func fail(_ reason: String) -> ConvertError { .invalidConfiguration(source: source, reason: reason) }
        guard let architectureName = gguf["general.architecture"]?.stringValue else { throw fail("missing 'general.architecture'") }
        guard let family = Self.architectures[architectureName] else { throw ConvertError.unsupportedArchitecture(architectureName) }
        let architecture = family.architecture
        var declaredShift: Bool? = nil
        if let shift = gguf["diffusion.shift_logits"] {
            guard let flag = shift.boolValue else { throw fail("'diffusion.shift_logits' is not a bool") }
            declaredShift = flag
        }
        func integer(_ key: String, default defaultValue: Int? = nil) throws -> Int {
            guard let value = gguf["\(architectureName).\(key)"] else {
                if let defaultValue { return defaultValue }
                throw fail("missing '\(architectureName).\(key)'")
            }
            guard let integer = value.intValue, integer > 0 else { throw fail("'\(architectureName).\(key)' is not a positive integer") }
            guard integer <= ImportLimits.maximumDimension else { throw fail("'\(architectureName).\(key)' is implausibly large (\(integer))") }
            return integer
        }
        func number(_ key: String, default defaultValue: Float? = nil) throws -> Float {
            guard let value = gguf["\(architectureName).\(key)"] else {
                if let defaultValue { return defaultValue }
                throw fail("missing '\(architectureName).\(key)'")
            }
            guard let number = value.doubleValue, number.isFinite, number > 0 else { throw fail("'\(architectureName).\(key)' is not a positive number") }
            return Float(number)
        }
        let hidden = try integer("embedding_length")
        let layers = try integer("block_count")
        let heads = try integer("attention.head_count")
        let keyValueHeads = try integer("attention.head_count_kv", default: heads)
        let ffn = try integer("feed_forward_length")
        let positions = try integer("context_length", default: 2048)
        let epsilon = try number("attention.layer_norm_rms_epsilon")
        let theta = try number("rope.freq_base", default: 10000)
        guard hidden % heads == 0 || gguf["\(architectureName).attention.key_length"] != nil else {
            throw fail("embedding_length \(hidden) is not a multiple of head_count \(heads)")
        }
        let headDimension = try integer("attention.key_length", default: hidden / heads)
        guard heads % keyValueHeads == 0 else { throw fail("head_count \(heads) is not a multiple of head_count_kv \(keyValueHeads)") }
        guard headDimension % 2 == 0 else { throw fail("head dimension \(headDimension) is odd") }
        if let rotary = gguf["\(architectureName).rope.dimension_count"]?.intValue, rotary != headDimension {
            throw fail("partial rotary embeddings (rope.dimension_count \(rotary) < head dimension \(headDimension)) are not supported")
        }
        if let scaling = gguf["\(architectureName).rope.scaling.type"]?.stringValue, scaling != "none" {
            throw fail("rope scaling '\(scaling)' is not supported")
        }
        guard let embedding = tensors["token_embd.weight"] else { throw ConvertError.missingTensors(["token_embd.weight"]) }
        guard embedding.shape.count == 2, embedding.shape[1] == hidden else {
            throw ConvertError.shapeMismatch(tensor: embedding.name, expected: [embedding.shape.first ?? 0, hidden], actual: embedding.shape)
        }
        let vocabulary = embedding.shape[0]
        let tied = tensors["output.weight"] == nil
        let configuration = ModelConfiguration(
            architecture: architecture, vocabularySize: vocabulary, hiddenSize: hidden, layerCount: layers, headCount: heads,
            keyValueHeadCount: keyValueHeads, headDimension: headDimension, intermediateSize: ffn, maximumPositions: positions,
            normEpsilon: epsilon, ropeTheta: theta, tiedEmbeddings: tied, attentionBias: family.attentionBias)
        try ImportLimits.check(configuration, source: source)

        let mapping = RoPEModelNames(
            embedding: "token_embd.weight", outputNorm: "output_norm.weight", output: "output.weight",
            attentionNorm: { "blk.\($0).attn_norm.weight" },
            query: { "blk.\($0).attn_q.weight" }, key: { "blk.\($0).attn_k.weight" },
            value: { "blk.\($0).attn_v.weight" }, attentionOutput: { "blk.\($0).attn_output.weight" },
            ffnNorm: { "blk.\($0).ffn_norm.weight" },
            gate: { "blk.\($0).ffn_gate.weight" }, up: { "blk.\($0).ffn_up.weight" }, down: { "blk.\($0).ffn_down.weight" },
            bias: { String($0.dropLast("weight".count)) + "bias" })
        var builder = PlanBuilder(sources: tensors)
        mapping.plan(&builder, configuration: configuration, unpermute: family.permutedRoPE)
        let plan = try builder.finish()

        // A special token id: absent, negative or 0xFFFFFFFF (llama.cpp's "no token", -1 stored unsigned) is
        // none; any other id beyond 32 bits is an error that names the key and the value as stored.
        func tokenId(_ key: String) throws -> Int32? {
            guard let id = gguf[key]?.intValue, id >= 0, id != 0xFFFF_FFFF else { return nil }
            return try ImportLimits.tokenId(id, key: key, source: source)
        }
        let special = SpecialTokenIds(
            bos: try tokenId("tokenizer.ggml.bos_token_id"), eos: try tokenId("tokenizer.ggml.eos_token_id"),
            pad: try tokenId("tokenizer.ggml.padding_token_id"), mask: try tokenId("tokenizer.ggml.mask_token_id"))
        let known = family.knownModel
        let name = gguf["general.name"]?.stringValue.map { "\($0) " } ?? ""
        let description = "\(name)(GGUF \(architectureName), \(layers) layers, hidden \(hidden), vocab \(vocabulary))"
        return ImportedModel(configuration: configuration, tensors: plan, knownModel: known,
                             modelDescription: description, specialTokens: special, declaredShift: declaredShift)
    }
}


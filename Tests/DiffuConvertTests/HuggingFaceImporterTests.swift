import DiffuFormat
import DiffuModels
import DiffuStorage
import DiffuTestSupport
import DiffuTokenizers
import Foundation
import Testing
@testable import DiffuConvert

/// A synthetic Hugging Face directory: config.json, safetensors (optionally sharded), a tokenizer file.
struct SyntheticCheckpoint {
    var config: String
    var tensors: [(name: String, shape: [Int])]
    var shards = 1
    var tokenizer = true
    /// The tokenizer.json written when `tokenizer` is set: the smallest BPE tokenizer that loads.
    var tokenizerJSON = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}}"

    /// Deterministic, distinct values: element `i` of tensor number `t` is `t + i / 4096`.
    static func values(tensorIndex: Int, count: Int) -> [Float] {
        (0..<count).map { Float(tensorIndex) + Float($0) / 4096 }
    }

    func values(of name: String) -> [Float] {
        let index = tensors.firstIndex { $0.name == name }!
        return Self.values(tensorIndex: index, count: tensors[index].shape.reduce(1, *))
    }

    func write(to directory: TemporaryDirectory) throws {
        try directory.write("config.json", text: config)
        if tokenizer { try directory.write("tokenizer.json", text: tokenizerJSON) }
        var builders = [SafetensorsBuilder](repeating: SafetensorsBuilder(), count: shards)
        var weightMap: [String] = []
        for (index, tensor) in tensors.enumerated() {
            let shard = index % shards
            builders[shard].add(tensor.name, shape: tensor.shape, floats: Self.values(tensorIndex: index, count: tensor.shape.reduce(1, *)))
            weightMap.append("\"\(tensor.name)\":\"model-0000\(shard + 1)-of-0000\(shards).safetensors\"")
        }
        if shards == 1 {
            try directory.write("model.safetensors", builders[0].build())
        } else {
            for (shard, builder) in builders.enumerated() {
                try directory.write("model-0000\(shard + 1)-of-0000\(shards).safetensors", builder.build())
            }
            try directory.write("model.safetensors.index.json", text: "{\"metadata\":{},\"weight_map\":{\(weightMap.joined(separator: ","))}}")
        }
    }

    /// GPT-2 with DiffuGPT wrapper keys (or plain `transformer.` keys), hidden 32, 2 heads, 2 layers.
    static func gpt2(wrapper: Bool, vocabulary: Int = 40, headName: String? = nil) -> SyntheticCheckpoint {
        let hidden = 32, ffn = 64, positions = 8
        let body = wrapper ? "denoise_model." : "transformer."
        var tensors: [(String, [Int])] = [(wrapper ? "embed_tokens.weight" : "transformer.wte.weight", [vocabulary, hidden]),
                                          (body + "wpe.weight", [positions, hidden])]
        if let headName { tensors = tensors.filter { !$0.0.hasSuffix("embed_tokens.weight") && !$0.0.hasSuffix("wte.weight") } + [(headName, [vocabulary, hidden])] }
        for layer in 0..<2 {
            let p = body + "h.\(layer)."
            tensors += [(p + "ln_1.weight", [hidden]), (p + "ln_1.bias", [hidden]),
                        (p + "attn.c_attn.weight", [hidden, 3 * hidden]), (p + "attn.c_attn.bias", [3 * hidden]),
                        (p + "attn.c_proj.weight", [hidden, hidden]), (p + "attn.c_proj.bias", [hidden]),
                        (p + "attn.bias", [1, 1, positions, positions]),
                        (p + "ln_2.weight", [hidden]), (p + "ln_2.bias", [hidden]),
                        (p + "mlp.c_fc.weight", [hidden, ffn]), (p + "mlp.c_fc.bias", [ffn]),
                        (p + "mlp.c_proj.weight", [ffn, hidden]), (p + "mlp.c_proj.bias", [hidden])]
        }
        tensors += [(body + "ln_f.weight", [hidden]), (body + "ln_f.bias", [hidden])]
        let config = """
        {"model_type":"gpt2","n_embd":32,"n_layer":2,"n_head":2,"n_positions":8,"layer_norm_epsilon":1e-05,
         "activation_function":"gelu_new","n_inner":64,"vocab_size":50257,"bos_token_id":3,"eos_token_id":4}
        """
        return SyntheticCheckpoint(config: config, tensors: tensors.map { (name: $0.0, shape: $0.1) })
    }

    /// LLaMA (or Qwen2 with biases), hidden 32, 4 heads / 2 KV heads, 2 layers.
    static func llama(qwen: Bool = false, tied: Bool = false, shards: Int = 1) -> SyntheticCheckpoint {
        let hidden = 32, ffn = 48, vocabulary = 40, kv = 16
        var tensors: [(String, [Int])] = [("model.embed_tokens.weight", [vocabulary, hidden])]
        for layer in 0..<2 {
            let p = "model.layers.\(layer)."
            tensors += [(p + "input_layernorm.weight", [hidden]),
                        (p + "self_attn.q_proj.weight", [hidden, hidden]), (p + "self_attn.k_proj.weight", [kv, hidden]),
                        (p + "self_attn.v_proj.weight", [kv, hidden]), (p + "self_attn.o_proj.weight", [hidden, hidden]),
                        (p + "post_attention_layernorm.weight", [hidden]),
                        (p + "mlp.gate_proj.weight", [ffn, hidden]), (p + "mlp.up_proj.weight", [ffn, hidden]),
                        (p + "mlp.down_proj.weight", [hidden, ffn])]
            if qwen {
                tensors += [(p + "self_attn.q_proj.bias", [hidden]), (p + "self_attn.k_proj.bias", [kv]), (p + "self_attn.v_proj.bias", [kv])]
            } else {
                tensors += [(p + "self_attn.rotary_emb.inv_freq", [4])]
            }
        }
        tensors += [("model.norm.weight", [hidden])]
        if !tied { tensors += [("lm_head.weight", [vocabulary, hidden])] }
        let type = qwen ? "qwen2" : "llama"
        let config = """
        {"model_type":"\(type)","hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
         "intermediate_size":48,"rms_norm_eps":1e-06,"rope_theta":500000.0,"max_position_embeddings":128,
         "tie_word_embeddings":\(tied),"vocab_size":40,"hidden_act":"silu","bos_token_id":1,"eos_token_id":[2, 5]}
        """
        return SyntheticCheckpoint(config: config, tensors: tensors.map { (name: $0.0, shape: $0.1) }, shards: shards)
    }
}

/// Transposes a row-major `[rows, columns]` matrix (the test's own definition).
func transposed(_ values: [Float], rows: Int, columns: Int) -> [Float] {
    var output = [Float](repeating: 0, count: values.count)
    for r in 0..<rows { for c in 0..<columns { output[c * rows + r] = values[r * columns + c] } }
    return output
}

@Suite struct HuggingFaceImporterTests {
    static func convert(_ checkpoint: SyntheticCheckpoint, maskTokenId: Int? = 5, recipe: QuantizationRecipe = .f32) throws -> InMemoryTensorSink {
        let directory = try TemporaryDirectory()
        try checkpoint.write(to: directory)
        let prepared = try Converter.prepare(source: directory.path, maskTokenId: maskTokenId)
        let sink = InMemoryTensorSink()
        _ = try Converter.write(prepared, into: sink, options: ConversionOptions(recipe: recipe, threadCount: 2))
        return sink
    }

    /// GPT-2 `Conv1D` computes `x @ W + b` with `W` `[in, out]`; `c_attn` concatenates Q|K|V outputs.
    @Test(arguments: [true, false])
    func gpt2ConvOneDWeightsAreTransposedAndSplit(wrapper: Bool) throws {
        let checkpoint = SyntheticCheckpoint.gpt2(wrapper: wrapper)
        let sink = try Self.convert(checkpoint)
        let hidden = 32, body = wrapper ? "denoise_model." : "transformer."
        let cAttn = checkpoint.values(of: body + "h.1.attn.c_attn.weight")
        let attnT = transposed(cAttn, rows: hidden, columns: 3 * hidden)  // [3·hidden, hidden]
        #expect(sink.floats("layers.1.attention.query.weight") == Array(attnT[0..<(hidden * hidden)]))
        #expect(sink.floats("layers.1.attention.key.weight") == Array(attnT[(hidden * hidden)..<(2 * hidden * hidden)]))
        #expect(sink.floats("layers.1.attention.value.weight") == Array(attnT[(2 * hidden * hidden)...]))
        let bias = checkpoint.values(of: body + "h.1.attn.c_attn.bias")
        #expect(sink.floats("layers.1.attention.key.bias") == Array(bias[hidden..<(2 * hidden)]))
        #expect(sink.floats("layers.0.ffn.up.weight") == transposed(checkpoint.values(of: body + "h.0.mlp.c_fc.weight"), rows: hidden, columns: 64))
        #expect(sink.floats("layers.0.ffn.down.weight") == transposed(checkpoint.values(of: body + "h.0.mlp.c_proj.weight"), rows: 64, columns: hidden))
        #expect(sink.floats("layers.0.attention.output.weight") == transposed(checkpoint.values(of: body + "h.0.attn.c_proj.weight"), rows: hidden, columns: hidden))
        #expect(sink.floats("position_embedding.weight") == checkpoint.values(of: body + "wpe.weight"))
        #expect(sink.tensors["position_embedding.weight"]?.layout == .rowMajor)
        #expect(sink.floats("token_embedding.weight") == checkpoint.values(of: wrapper ? "embed_tokens.weight" : "transformer.wte.weight"))
        #expect(sink.floats("output_norm.bias") == checkpoint.values(of: body + "ln_f.bias"))
        #expect(sink.tensors["output.weight"] == nil)
        let metadata = try #require(sink.metadata)
        #expect(metadata.model == ModelConfiguration(
            architecture: .gpt2, vocabularySize: 40, hiddenSize: 32, layerCount: 2, headCount: 2, keyValueHeadCount: 2,
            headDimension: 16, intermediateSize: 64, maximumPositions: 8, normEpsilon: 1e-5, ropeTheta: 10000,
            tiedEmbeddings: true, attentionBias: true))
        #expect(metadata.diffusion.bosTokenID == 3 && metadata.diffusion.eosTokenID == 4)
        #expect(sink.order.count == 2 + 2 * 16 + 2 + 1)  // embeddings, 16 per layer, final norm, tokenizer
    }

    @Test func diffuGPTTiedHeadStoredOnlyAsLMHead() throws {
        let checkpoint = SyntheticCheckpoint.gpt2(wrapper: true, headName: "lm_head.weight")
        let sink = try Self.convert(checkpoint)
        #expect(sink.floats("token_embedding.weight") == checkpoint.values(of: "lm_head.weight"))
        #expect(sink.tensors["output.weight"] == nil)
    }

    @Test func llamaMapsNamesAndKeepsQKUnpermuted() throws {
        for shards in [1, 3] {
            let checkpoint = SyntheticCheckpoint.llama(shards: shards)
            let sink = try Self.convert(checkpoint)
            #expect(sink.floats("layers.1.attention.query.weight") == checkpoint.values(of: "model.layers.1.self_attn.q_proj.weight"))
            #expect(sink.floats("layers.0.attention.key.weight") == checkpoint.values(of: "model.layers.0.self_attn.k_proj.weight"))
            #expect(sink.floats("layers.0.ffn.gate.weight") == checkpoint.values(of: "model.layers.0.mlp.gate_proj.weight"))
            #expect(sink.floats("layers.1.ffn_norm.weight") == checkpoint.values(of: "model.layers.1.post_attention_layernorm.weight"))
            #expect(sink.floats("output.weight") == checkpoint.values(of: "lm_head.weight"))
            #expect(sink.floats("output_norm.weight") == checkpoint.values(of: "model.norm.weight"))
            let model = try #require(sink.metadata?.model)
            #expect(model == ModelConfiguration(
                architecture: .llama, vocabularySize: 40, hiddenSize: 32, layerCount: 2, headCount: 4, keyValueHeadCount: 2,
                headDimension: 8, intermediateSize: 48, maximumPositions: 128, normEpsilon: 1e-6, ropeTheta: 500000,
                tiedEmbeddings: false, attentionBias: false))
            #expect(sink.metadata?.diffusion.eosTokenID == 2)
        }
    }

    @Test func qwen2BiasesAndTiedHead() throws {
        let checkpoint = SyntheticCheckpoint.llama(qwen: true, tied: true)
        let sink = try Self.convert(checkpoint)
        #expect(sink.floats("layers.1.attention.value.bias") == checkpoint.values(of: "model.layers.1.self_attn.v_proj.bias"))
        #expect(sink.tensors["output.weight"] == nil)
        #expect(sink.metadata?.model.attentionBias == true)
        #expect(sink.metadata?.model.tiedEmbeddings == true)
    }

    @Test func missingAndUnknownTensorsAreNamed() throws {
        var missing = SyntheticCheckpoint.llama()
        missing.tensors.removeAll { $0.name == "model.layers.1.mlp.up_proj.weight" }
        #expect(throws: ConvertError.missingTensors(["model.layers.1.mlp.up_proj.weight"])) { _ = try Self.convert(missing) }
        var extra = SyntheticCheckpoint.llama()
        extra.tensors.append((name: "model.layers.0.mystery.weight", shape: [3]))
        #expect(throws: ConvertError.unknownTensors(["model.layers.0.mystery.weight"])) { _ = try Self.convert(extra) }
        var missingGPT2 = SyntheticCheckpoint.gpt2(wrapper: true)
        missingGPT2.tensors.removeAll { $0.name == "denoise_model.h.1.ln_2.bias" }
        #expect(throws: ConvertError.missingTensors(["denoise_model.h.1.ln_2.bias"])) { _ = try Self.convert(missingGPT2) }
        var wrongShape = SyntheticCheckpoint.llama()
        wrongShape.tensors[1] = (name: wrongShape.tensors[1].name, shape: [33])
        #expect(throws: ConvertError.shapeMismatch(tensor: "model.layers.0.input_layernorm.weight", expected: [32], actual: [33])) {
            _ = try Self.convert(wrongShape)
        }
    }

    @Test func badConfigurationsAreTypedErrors() throws {
        var noWidth = SyntheticCheckpoint.gpt2(wrapper: true)
        noWidth.config = "{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_head\":2,\"n_positions\":8}"
        #expect(throws: ConvertError.invalidConfiguration(source: "config.json", reason: "missing 'n_embd'")) { _ = try Self.convert(noWidth) }
        var bert = SyntheticCheckpoint.gpt2(wrapper: true)
        bert.config = "{\"model_type\":\"bert\"}"
        #expect(throws: ConvertError.unsupportedArchitecture("bert")) { _ = try Self.convert(bert) }
        var notJSON = SyntheticCheckpoint.gpt2(wrapper: true)
        notJSON.config = "{model_type: gpt2"
        #expect(throws: ConvertError.invalidConfiguration(source: "config.json", reason: "not a JSON object")) { _ = try Self.convert(notJSON) }
        var negative = SyntheticCheckpoint.llama()
        negative.config = negative.config.replacingOccurrences(of: "\"num_hidden_layers\":2", with: "\"num_hidden_layers\":-2")
        #expect(throws: ConvertError.invalidConfiguration(source: "config.json", reason: "'num_hidden_layers' is not a positive integer")) {
            _ = try Self.convert(negative)
        }
        var scaled = SyntheticCheckpoint.llama()
        scaled.config = scaled.config.replacingOccurrences(of: "\"hidden_act\"", with: "\"rope_scaling\":{\"type\":\"linear\"},\"hidden_act\"")
        #expect(throws: ConvertError.invalidConfiguration(source: "config.json", reason: "rope_scaling is not supported")) { _ = try Self.convert(scaled) }
        // A token id beyond 32 bits is named with the value as written (not a clamped 2147483647).
        var hugeMask = SyntheticCheckpoint.llama()
        hugeMask.config = hugeMask.config.replacingOccurrences(of: "\"hidden_act\"", with: "\"mask_token_id\":5000000000,\"hidden_act\"")
        #expect(throws: ConvertError.invalidConfiguration(source: "config.json", reason: "'mask_token_id' 5000000000 is not a token id (beyond 32 bits)")) {
            _ = try Self.convert(hugeMask)
        }
        var listEos = SyntheticCheckpoint.llama()
        listEos.config = listEos.config.replacingOccurrences(of: "\"eos_token_id\":[2, 5]", with: "\"eos_token_id\":[4294967296, 2]")
        #expect(throws: ConvertError.invalidConfiguration(source: "config.json", reason: "'eos_token_id' 4294967296 is not a token id (beyond 32 bits)")) {
            _ = try Self.convert(listEos)
        }
    }

    @Test func missingTokenizerIsATypedError() throws {
        var checkpoint = SyntheticCheckpoint.llama()
        checkpoint.tokenizer = false
        #expect(throws: ConvertError.self) { _ = try Self.convert(checkpoint) }
        do { _ = try Self.convert(checkpoint) } catch let error as ConvertError {
            guard case .missingTokenizer = error else { Issue.record("wrong error \(error)"); return }
        }
    }

    @Test func unloadableTokenizerIsATypedErrorBeforeAnyOutput() throws {
        var checkpoint = SyntheticCheckpoint.llama()
        checkpoint.tokenizerJSON = "{\"model\":{}}"
        let directory = try TemporaryDirectory()
        try checkpoint.write(to: directory)
        #expect(throws: ConvertError.unloadableTokenizer(source: directory.path,
                                                          error: .unsupported(file: "tokenizer.json", feature: "model type 'unknown' (only BPE)"))) {
            _ = try Converter.prepare(source: directory.path, maskTokenId: 5)
        }
        let output = try TemporaryDirectory()
        let destination = output.path + "/out.diffu"
        #expect(throws: ConvertError.self) {
            _ = try Converter.convert(source: directory.path, destination: destination, options: ConversionOptions(recipe: .f32),
                                      makeSink: { path, overwrite in try DiffuFileSink(destination: path, overwrite: overwrite, compress: false) })
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: output.path).isEmpty)
    }

    @Test func shardIndexProblemsAreTypedErrors() throws {
        let checkpoint = SyntheticCheckpoint.llama(shards: 3)
        // A missing shard.
        let directory = try TemporaryDirectory()
        try checkpoint.write(to: directory)
        try FileManager.default.removeItem(atPath: directory.path + "/model-00002-of-00003.safetensors")
        #expect(throws: ConvertError.missingShard(file: "model-00002-of-00003.safetensors")) {
            _ = try Converter.prepare(source: directory.path, maskTokenId: 5)
        }
        // A truncated shard.
        let truncated = try TemporaryDirectory()
        try checkpoint.write(to: truncated)
        let shardPath = truncated.path + "/model-00003-of-00003.safetensors"
        let bytes = try #require(FileManager.default.contents(atPath: shardPath))
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: shardPath))
        #expect(throws: ConvertError.truncatedFile(path: shardPath, expectedBytes: bytes.count, actualBytes: bytes.count - 10)) {
            _ = try Converter.prepare(source: truncated.path, maskTokenId: 5)
        }
        // An index that maps a tensor to the wrong shard, and one with a path in a file name.
        let wrong = try TemporaryDirectory()
        try checkpoint.write(to: wrong)
        let index = try String(contentsOfFile: wrong.path + "/model.safetensors.index.json", encoding: .utf8)
        try wrong.write("model.safetensors.index.json", text: index.replacingOccurrences(
            of: "\"model.embed_tokens.weight\":\"model-00001-of-00003.safetensors\"",
            with: "\"model.embed_tokens.weight\":\"model-00002-of-00003.safetensors\""))
        #expect(throws: ConvertError.self) { _ = try Converter.prepare(source: wrong.path, maskTokenId: 5) }
        try wrong.write("model.safetensors.index.json", text: index.replacingOccurrences(
            of: "\"model.norm.weight\":\"model-0000", with: "\"model.norm.weight\":\"../model-0000"))
        #expect(throws: ConvertError.self) { _ = try Converter.prepare(source: wrong.path, maskTokenId: 5) }
    }

    @Test func knownModelsGetTheirDiffusionFacts() throws {
        // DiffuGPT wrapper at DiffuGPT-S's shape is recognised without --mask-id; a plain GPT-2 is not.
        let special = SpecialTokenIds(bos: 50256, eos: 50256)
        let small = try ResolvedDiffusion.resolve(known: .diffuGPTSmall, description: "", architecture: .gpt2, special: special, maskOverride: nil, vocabularySize: 50257).settings
        #expect(small.maskTokenID == 10541 && small.shiftLogits && small.samplerDefaults?.temperature == 0.95 && small.samplerDefaults?.generationLength == 512)
        let medium = try ResolvedDiffusion.resolve(known: .diffuGPTMedium, description: "", architecture: .gpt2, special: special, maskOverride: nil, vocabularySize: 50258).settings
        #expect(medium.maskTokenID == 50257 && medium.samplerDefaults?.generationLength == 1024)
        let llama = try ResolvedDiffusion.resolve(known: .diffuLLaMA, description: "", architecture: .llama, special: SpecialTokenIds(), maskOverride: nil, vocabularySize: 32000).settings
        #expect(llama.maskTokenID == 811 && llama.bosTokenID == 1 && llama.eosTokenID == 2 && llama.padTokenID == 30399 && llama.sepTokenID == 4936)
        #expect(llama.samplerDefaults == SamplerDefaults(sampler: "random-keep", steps: 64, temperature: 0.9, topP: 0.9, generationLength: 2048))
        let dream = try ResolvedDiffusion.resolve(known: .dream, description: "", architecture: .qwen2, special: SpecialTokenIds(eos: 151643, pad: 151643), maskOverride: nil, vocabularySize: 152064).settings
        #expect(dream.maskTokenID == 151666 && dream.padTokenID == 151643)
        let overridden = try ResolvedDiffusion.resolve(known: .dream, description: "", architecture: .qwen2, special: SpecialTokenIds(), maskOverride: 12, vocabularySize: 152064).settings
        #expect(overridden.maskTokenID == 12)
        #expect(throws: ConvertError.maskTokenRequired(model: "x")) {
            _ = try ResolvedDiffusion.resolve(known: nil, description: "x", architecture: .gpt2, special: SpecialTokenIds(), maskOverride: nil, vocabularySize: 10)
        }
        // The GPT-2 recognizer by checkpoint name.
        var plain = SyntheticCheckpoint.gpt2(wrapper: false)
        plain.config = plain.config.replacingOccurrences(of: "\"vocab_size\":50257", with: "\"vocab_size\":50257,\"_name_or_path\":\"diffusionfamily/diffugpt-s\"")
        // Recognised as DiffuGPT-S by its name, so its mask 10541 is used — and it does not fit this tiny vocabulary.
        #expect(throws: ConvertError.tokenOutOfRange(what: "mask token", id: 10541, vocabularySize: 40)) {
            _ = try Self.convert(plain, maskTokenId: nil)
        }
        let sink = try Self.convert(plain, maskTokenId: 39)
        #expect(sink.metadata?.diffusion.maskTokenID == 39)
        #expect(sink.metadata?.modelName == "DiffuGPT-S")
        #expect(sink.metadata?.diffusion.samplerDefaults?.generationLength == 512)
    }
}

/// The HF directory tools/adapt writes: a LLaMA whose config names DiffuSmol-135M, the mask and the shift.
@Suite struct DiffuSmolRecognitionTests {
    static func checkpoint(extra: String) -> SyntheticCheckpoint {
        var checkpoint = SyntheticCheckpoint.llama()
        checkpoint.config = checkpoint.config.replacingOccurrences(of: "\"vocab_size\":40", with: "\"vocab_size\":40\(extra)")
        return checkpoint
    }

    @Test func recognisedByNameWithConfigMaskAndShift() throws {
        let sink = try HuggingFaceImporterTests.convert(
            Self.checkpoint(extra: ",\"_name_or_path\":\"DiffuSmol-135M\",\"mask_token_id\":7,\"shift_logits\":true"), maskTokenId: nil)
        #expect(sink.metadata?.modelName == "DiffuSmol-135M")
        #expect(sink.metadata?.diffusion.maskTokenID == 7)
        #expect(sink.metadata?.diffusion.shiftLogits == true)
        #expect(sink.metadata?.diffusion.samplerDefaults == SamplerDefaults(sampler: "random-keep", steps: 64, temperature: 0.9, topP: 0.9, generationLength: 128))
    }

    @Test func configShiftFalseWinsAndDefaultMaskIsFour() throws {
        let sink = try HuggingFaceImporterTests.convert(
            Self.checkpoint(extra: ",\"_name_or_path\":\"DiffuSmol-135M\",\"shift_logits\":false"), maskTokenId: nil)
        #expect(sink.metadata?.diffusion.maskTokenID == 4)
        #expect(sink.metadata?.diffusion.shiftLogits == false)
    }

    @Test func unknownLLaMAWithConfigMaskNeedsNoFlag() throws {
        let sink = try HuggingFaceImporterTests.convert(Self.checkpoint(extra: ",\"mask_token_id\":9,\"shift_logits\":false"), maskTokenId: nil)
        #expect(sink.metadata?.diffusion.maskTokenID == 9 && sink.metadata?.diffusion.shiftLogits == false)
        #expect(sink.metadata?.modelName.hasPrefix("LLaMA") == true)
    }

    @Test func shiftThatIsNotABoolIsATypedError() throws {
        #expect(throws: ConvertError.self) {
            _ = try HuggingFaceImporterTests.convert(Self.checkpoint(extra: ",\"shift_logits\":\"yes\""), maskTokenId: 3)
        }
    }
}

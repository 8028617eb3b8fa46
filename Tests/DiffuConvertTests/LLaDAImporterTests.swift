import DiffuFormat
import DiffuGGUF
import DiffuJSON
import DiffuModels
import DiffuTestSupport
import DiffuTokenizers
import Foundation
import Testing
@testable import DiffuConvert

extension SyntheticCheckpoint {
    /// LLaDA's real layout (`model.transformer.*`, LLaDA config names): d_model 32, 4 heads / 2 KV heads,
    /// MLP 48, 2 layers, vocabulary 40, untied `ff_out` head.
    static func llada() -> SyntheticCheckpoint {
        let hidden = 32, ffn = 48, vocabulary = 40, kv = 16
        let t = "model.transformer."
        var tensors: [(String, [Int])] = [(t + "wte.weight", [vocabulary, hidden])]
        for layer in 0..<2 {
            let p = t + "blocks.\(layer)."
            tensors += [(p + "attn_norm.weight", [hidden]),
                        (p + "q_proj.weight", [hidden, hidden]), (p + "k_proj.weight", [kv, hidden]),
                        (p + "v_proj.weight", [kv, hidden]), (p + "attn_out.weight", [hidden, hidden]),
                        (p + "ff_norm.weight", [hidden]),
                        (p + "ff_proj.weight", [ffn, hidden]), (p + "up_proj.weight", [ffn, hidden]),
                        (p + "ff_out.weight", [hidden, ffn])]
        }
        tensors += [(t + "ln_f.weight", [hidden]), (t + "ff_out.weight", [vocabulary, hidden])]
        let config = """
        {"model_type":"llada","architectures":["LLaDAModelLM"],"d_model":32,"n_heads":4,"n_kv_heads":2,"n_layers":2,
         "mlp_hidden_size":48,"mlp_ratio":4,"vocab_size":40,"embedding_size":40,"rms_norm_eps":1e-05,"rope_theta":500000.0,
         "max_sequence_length":4096,"block_type":"llama","layer_norm_type":"rms","activation_type":"silu","rope":true,
         "alibi":false,"include_bias":false,"include_qkv_bias":false,"weight_tying":false,"mask_token_id":39,
         "eos_token_id":38,"pad_token_id":38}
        """
        return SyntheticCheckpoint(config: config, tensors: tensors.map { (name: $0.0, shape: $0.1) })
    }

    /// The same checkpoint with one config fragment replaced.
    func replacingConfig(_ fragment: String, with replacement: String) -> SyntheticCheckpoint {
        var copy = self
        copy.config = config.replacingOccurrences(of: fragment, with: replacement)
        precondition(copy.config != config, "fragment \(fragment) not in the config")
        return copy
    }
}

/// LLaDA: its Hugging Face layout and llama.cpp's `llada` GGUF architecture convert to the canonical
/// LLaMA tensors, with LLaDA's diffusion facts (mask 126336 unless the source says otherwise, no shift,
/// the `generate.py` sampler defaults); bad configurations and shapes are typed errors.
@Suite struct LLaDAImporterTests {
    static func prepare(_ checkpoint: SyntheticCheckpoint, maskTokenId: Int? = nil) throws -> PreparedConversion {
        let directory = try TemporaryDirectory()
        try checkpoint.write(to: directory)
        return try Converter.prepare(source: directory.path, maskTokenId: maskTokenId)
    }

    static func invalid(_ reason: String) -> ConvertError { .invalidConfiguration(source: "config.json", reason: reason) }

    @Test func mapsNamesToCanonicalLlamaTensors() throws {
        let checkpoint = SyntheticCheckpoint.llada()
        let sink = try HuggingFaceImporterTests.convert(checkpoint, maskTokenId: nil)
        let metadata = try #require(sink.metadata)
        #expect(metadata.model == ModelConfiguration(
            architecture: .llama, vocabularySize: 40, hiddenSize: 32, layerCount: 2, headCount: 4, keyValueHeadCount: 2,
            headDimension: 8, intermediateSize: 48, maximumPositions: 4096, normEpsilon: 1e-5, ropeTheta: 500000,
            tiedEmbeddings: false, attentionBias: false))
        let pairs = [("model.transformer.wte.weight", "token_embedding.weight"), ("model.transformer.ln_f.weight", "output_norm.weight"),
                     ("model.transformer.ff_out.weight", "output.weight"),
                     ("model.transformer.blocks.1.attn_norm.weight", "layers.1.attention_norm.weight"),
                     ("model.transformer.blocks.1.q_proj.weight", "layers.1.attention.query.weight"),
                     ("model.transformer.blocks.1.k_proj.weight", "layers.1.attention.key.weight"),
                     ("model.transformer.blocks.1.v_proj.weight", "layers.1.attention.value.weight"),
                     ("model.transformer.blocks.1.attn_out.weight", "layers.1.attention.output.weight"),
                     ("model.transformer.blocks.1.ff_norm.weight", "layers.1.ffn_norm.weight"),
                     ("model.transformer.blocks.1.ff_proj.weight", "layers.1.ffn.gate.weight"),
                     ("model.transformer.blocks.1.up_proj.weight", "layers.1.ffn.up.weight"),
                     ("model.transformer.blocks.1.ff_out.weight", "layers.1.ffn.down.weight")]
        for (source, canonical) in pairs {
            #expect(sink.floats(canonical) == checkpoint.values(of: source), "\(source) → \(canonical)")
        }
        #expect(sink.tensors.keys.filter { !$0.hasPrefix("tokenizer/") }.count == 3 + 2 * 9)
    }

    @Test func recordsLLaDADiffusionFacts() throws {
        let prepared = try Self.prepare(.llada())
        #expect(prepared.model.knownModel == .llada)
        #expect(prepared.diffusion.modelName == "LLaDA")
        let settings = prepared.diffusion.settings
        #expect(settings.maskTokenID == 39)  // config.json's mask_token_id
        #expect(!settings.shiftLogits)
        #expect(settings.eosTokenID == 38 && settings.padTokenID == 38)
        #expect(settings.samplerDefaults == SamplerDefaults(
            sampler: "low-confidence", steps: 128, temperature: 0, topP: 1, generationLength: 128,
            options: ["block_length": .integer(32), "cfg_scale": .integer(0)]))
        // Without mask_token_id in the config, LLaDA's own 126336 is used (and must fit the vocabulary).
        let noMask = SyntheticCheckpoint.llada().replacingConfig("\"mask_token_id\":39,", with: "")
        #expect(throws: ConvertError.tokenOutOfRange(what: "mask token", id: 126336, vocabularySize: 40)) {
            _ = try Self.prepare(noMask)
        }
        #expect(try Self.prepare(noMask, maskTokenId: 3).diffusion.settings.maskTokenID == 3)
        #expect(KnownDiffusionModel.llada.maskTokenId == 126336)
        #expect(!KnownDiffusionModel.llada.shiftsLogits)
        #expect(KnownDiffusionModel.allCases.filter { $0 != .llada }.allSatisfy { $0.shiftsLogits })
    }

    @Test func recognisedByArchitecturesAloneAndTied() throws {
        let byArchitecture = SyntheticCheckpoint.llada().replacingConfig("\"model_type\":\"llada\",", with: "")
        #expect(try Self.prepare(byArchitecture).model.knownModel == .llada)
        var tied = SyntheticCheckpoint.llada().replacingConfig("\"weight_tying\":false", with: "\"weight_tying\":true")
        tied.tensors.removeAll { $0.name == "model.transformer.ff_out.weight" }
        let model = try Self.prepare(tied).model
        #expect(model.configuration.tiedEmbeddings)
        #expect(!model.tensors.contains { $0.name == "output.weight" })
    }

    @Test func badConfigurationsAreTypedErrors() throws {
        let base = SyntheticCheckpoint.llada()
        let cases: [(SyntheticCheckpoint, ConvertError)] = [
            (base.replacingConfig("\"d_model\":32,", with: ""), Self.invalid("missing 'd_model'")),
            (base.replacingConfig("\"n_layers\":2,", with: ""), Self.invalid("missing 'n_layers'")),
            (base.replacingConfig("\"n_heads\":4,", with: ""), Self.invalid("missing 'n_heads'")),
            (base.replacingConfig("\"vocab_size\":40,", with: ""), Self.invalid("missing 'vocab_size'")),
            (base.replacingConfig("\"block_type\":\"llama\",", with: ""), Self.invalid("missing 'block_type'")),
            (base.replacingConfig("\"layer_norm_type\":\"rms\",", with: ""), Self.invalid("missing 'layer_norm_type'")),
            (base.replacingConfig("\"rope\":true,", with: ""), Self.invalid("missing 'rope'")),
            (base.replacingConfig("\"block_type\":\"llama\"", with: "\"block_type\":\"sequential\""),
             Self.invalid("block_type 'sequential' is not supported (LLaDA's is 'llama')")),
            (base.replacingConfig("\"activation_type\":\"silu\"", with: "\"activation_type\":\"swiglu\""),
             Self.invalid("activation_type 'swiglu' is not supported (LLaDA's is 'silu')")),
            (base.replacingConfig("\"block_type\":\"llama\"", with: "\"block_type\":7"), Self.invalid("'block_type' is not a string")),
            (base.replacingConfig("\"rope\":true", with: "\"rope\":false"), Self.invalid("rope false (learned positions) is not supported")),
            (base.replacingConfig("\"include_bias\":false", with: "\"include_bias\":true"),
             Self.invalid("include_bias true (biases on every linear layer) is not supported")),
            (base.replacingConfig("\"alibi\":false", with: "\"alibi\":true"), Self.invalid("alibi true (ALiBi attention biases) is not supported")),
            (base.replacingConfig("\"include_bias\":false", with: "\"include_bias\":\"no\""), Self.invalid("'include_bias' is not true/false")),
            (base.replacingConfig("\"n_kv_heads\":2", with: "\"n_kv_heads\":3"), Self.invalid("n_heads 4 is not a multiple of n_kv_heads 3")),
            (base.replacingConfig("\"n_heads\":4", with: "\"n_heads\":5"), Self.invalid("d_model 32 is not a multiple of n_heads 5")),
            (base.replacingConfig("\"d_model\":32", with: "\"d_model\":-32"), Self.invalid("'d_model' is not a positive integer")),
            (base.replacingConfig("\"n_layers\":2", with: "\"n_layers\":100000000000"),
             Self.invalid("'n_layers' is implausibly large (100000000000 > \(ImportLimits.maximumDimension))")),
            (base.replacingConfig("\"embedding_size\":40", with: "\"embedding_size\":48"),
             Self.invalid("embedding_size 48 but the embedding has 40 rows")),
            (base.replacingConfig("\"rms_norm_eps\":1e-05", with: "\"rms_norm_eps\":0"), Self.invalid("'rms_norm_eps' is not a positive number")),
            (base.replacingConfig("\"mlp_hidden_size\":48,\"mlp_ratio\":4", with: "\"mlp_ratio\":16777216"),
             Self.invalid("mlp_ratio · d_model = 536870912 is implausibly large (> 16777216)")),
        ]
        for (checkpoint, expected) in cases {
            #expect(throws: expected, "\(expected)") { _ = try Self.prepare(checkpoint) }
        }
    }

    /// Every field of LLaDA's config.json replaced by every kind of hostile value: a plan or a ConvertError,
    /// never a trap (the deterministic companion of the config fuzz target's LLaDA seed).
    @Test func hostileFieldValuesNeverTrap() throws {
        let directory = Fixtures.path("models", "llada_gqa_bf16")
        let checkpoint = try HuggingFaceCheckpoint.open(directory: directory)
        let values: [JSONValue] = [.null, .bool(true), .string("x"), .array([]), .object([:]),
                                    .integer(-1), .integer(0), .integer(1), .number(0.5), .number(1e300), .integer(1 << 40), .integer(Int.max)]
        var outcomes = 0
        for key in checkpoint.configuration.keys.sorted() {
            for value in values {
                var configuration = checkpoint.configuration
                configuration[key] = value
                do {
                    _ = try HuggingFaceImporter.sanitize(configuration: configuration, tensors: checkpoint.tensors)
                } catch is ConvertError {
                } catch {
                    Issue.record("\(key) = \(value): untyped error \(error)")
                }
                outcomes += 1
            }
        }
        #expect(outcomes == checkpoint.configuration.count * values.count)
    }

    @Test func wrongShapesAndTensorsAreTypedErrors() throws {
        var wrongShape = SyntheticCheckpoint.llada()
        let query = try #require(wrongShape.tensors.firstIndex { $0.name == "model.transformer.blocks.0.q_proj.weight" })
        wrongShape.tensors[query].shape = [16, 32]
        #expect(throws: ConvertError.shapeMismatch(tensor: "model.transformer.blocks.0.q_proj.weight", expected: [32, 32], actual: [16, 32])) {
            _ = try Self.prepare(wrongShape)
        }
        var wrongWidth = SyntheticCheckpoint.llada()
        wrongWidth.tensors[0].shape = [40, 16]
        #expect(throws: ConvertError.shapeMismatch(tensor: "model.transformer.wte.weight", expected: [40, 32], actual: [40, 16])) {
            _ = try Self.prepare(wrongWidth)
        }
        var missing = SyntheticCheckpoint.llada()
        missing.tensors.removeAll { $0.name == "model.transformer.blocks.1.up_proj.weight" }
        #expect(throws: ConvertError.missingTensors(["model.transformer.blocks.1.up_proj.weight"])) { _ = try Self.prepare(missing) }
        var noEmbedding = SyntheticCheckpoint.llada()
        noEmbedding.tensors.removeFirst()
        #expect(throws: ConvertError.missingTensors(["model.transformer.wte.weight"])) { _ = try Self.prepare(noEmbedding) }
        var extra = SyntheticCheckpoint.llada()
        extra.tensors.append((name: "model.transformer.blocks.0.q_proj.bias", shape: [32]))
        #expect(throws: ConvertError.unknownTensors(["model.transformer.blocks.0.q_proj.bias"])) { _ = try Self.prepare(extra) }
    }

    /// llama.cpp's `llada` GGUF (tiny-llama.gguf relabelled by tools/peers/make_llada_gguf.py with mask 7 and
    /// `diffusion.shift_logits` false): the tensors of tiny-llama (Q/K unpermuted the same way, checked
    /// against the gguf package's dequantization) and the file's own diffusion metadata, no `--mask-id`.
    @Test func lladaGGUFArchitectureAndMetadata() throws {
        let expected = try ExpectedTensors(topic: "convert", json: "tiny-llama.expected.json", bin: "tiny-llama.expected.bin")
        let prepared = try Converter.prepare(source: Fixtures.path("convert", "tiny-llada.gguf"), maskTokenId: nil)
        let sink = InMemoryTensorSink()
        _ = try Converter.write(prepared, into: sink, options: ConversionOptions(recipe: .f32, threadCount: 2))
        #expect(Set(sink.tensors.keys.filter { !$0.hasPrefix("tokenizer/") }) == Set(expected.tensors.keys))
        for (name, reference) in expected.tensors {
            let values = try #require(sink.floats(name))
            #expect(firstMismatch(values, reference.values) == nil, "\(name)")
        }
        #expect(prepared.model.configuration.architecture == .llama)
        let metadata = try #require(sink.metadata)
        #expect(metadata.modelName == "LLaDA")
        #expect(metadata.diffusion.maskTokenID == 7)
        #expect(!metadata.diffusion.shiftLogits)
        #expect(metadata.diffusion.samplerDefaults?.sampler == "low-confidence")
    }

    /// `--shift on|off` (``ConversionOptions/shiftOverride``) replaces the known model's rule in the
    /// written metadata, both ways: LLaDA's "no shift" turned on, and an AR GGUF's default "shift" off.
    @Test func shiftOverrideIsRecorded() throws {
        for (source, mask, override) in [("tiny-llada.gguf", nil as Int?, true), ("tiny-llama.gguf", 7, false)] {
            var options = ConversionOptions(recipe: .f32, maskTokenId: mask, threadCount: 2)
            options.shiftOverride = override
            let prepared = try Converter.prepare(source: Fixtures.path("convert", source), maskTokenId: mask,
                                                 shiftOverride: options.shiftOverride)
            let sink = InMemoryTensorSink()
            _ = try Converter.write(prepared, into: sink, options: options)
            let metadata = try #require(sink.metadata)
            #expect(metadata.diffusion.shiftLogits == override, "\(source)")
        }
    }

    /// The declared shift wins over the known model's rule, and a malformed flag is a typed error.
    @Test func declaredShiftAndMalformedShiftFlag() throws {
        let declared = try ResolvedDiffusion.resolve(known: .llada, description: "", architecture: .llama, special: SpecialTokenIds(mask: 3),
                                                     declaredShift: true, maskOverride: nil, vocabularySize: 10)
        #expect(declared.settings.shiftLogits)
        let unknown = try ResolvedDiffusion.resolve(known: nil, description: "x", architecture: .llama, special: SpecialTokenIds(),
                                                    declaredShift: false, maskOverride: 3, vocabularySize: 10)
        #expect(!unknown.settings.shiftLogits)
        let directory = try TemporaryDirectory()
        try directory.write("bad-shift.gguf", GGUFWriter.metadataOnly([
            (key: "general.architecture", value: .string("llada")), (key: "diffusion.shift_logits", value: .string("false")),
        ]))
        let checkpoint = try GGUFCheckpoint.open(path: directory.path + "/bad-shift.gguf")
        #expect(throws: ConvertError.invalidConfiguration(source: "bad-shift.gguf", reason: "'diffusion.shift_logits' is not a bool")) {
            _ = try checkpoint.sanitize()
        }
    }
}

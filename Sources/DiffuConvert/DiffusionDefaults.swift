import DiffuFormat
import DiffuModels
import DiffuTokenizers

/// The diffusion models whose facts the converter knows (from the papers' official code and configs;
/// see `DIFFUSION.md` §1 and §4).
public enum KnownDiffusionModel: String, Sendable, CaseIterable {
    /// DiffuGPT-S (GPT-2 124M, vocab 50257): mask 10541 (an existing token), length 512.
    case diffuGPTSmall = "DiffuGPT-S"
    /// DiffuGPT-M (GPT-2 medium, vocab 50258): mask 50257 (the added token), length 1024.
    case diffuGPTMedium = "DiffuGPT-M"
    /// DiffuLLaMA (LLaMA-2 7B): mask 811, bos 1, eos 2, pad 30399, sep 4936, length 2048.
    case diffuLLaMA = "DiffuLLaMA"
    /// Dream-v0-7B and DiffuCoder (Qwen2.5 shape): mask 151666, eos = pad 151643.
    case dream = "Dream"
    /// LLaDA-8B-Base / -Instruct (trained from scratch, LLaMA mathematics): mask 126336, **no shift**.
    case llada = "LLaDA"
    /// DiffuSmol-135M: SmolLM2-135M adapted by `tools/adapt` (the DiffuLLaMA recipe); mask 4 (`<reponame>`,
    /// an existing special token) unless its config.json names another, shift on unless it says otherwise.
    case diffuSmol = "DiffuSmol-135M"

    /// The mask token id.
    public var maskTokenId: Int {
        switch self {
        case .diffuGPTSmall: 10541
        case .diffuGPTMedium: 50257
        case .diffuLLaMA: 811
        case .dream: 151666
        case .llada: 126336
        case .diffuSmol: 4
        }
    }

    /// Whether the model's logits at position i predict token i + 1 (DIFFUSION.md §3). The models adapted
    /// from an autoregressive parent shift; LLaDA, trained from scratch, does not (logits i predict token i).
    public var shiftsLogits: Bool {
        switch self {
        case .diffuGPTSmall, .diffuGPTMedium, .diffuLLaMA, .dream, .diffuSmol: true
        case .llada: false
        }
    }

    /// The official defaults: `model.py::generate_samples` for DiffuGPT/DiffuLLaMA (T = 64, temperature
    /// 0.95 for GPT-2 and 0.9 for LLaMA, top-p 0.9, length 512/1024/2048); Dream's README example
    /// (`diffusion_generate(steps=512, temperature=0.2, top_p=0.95, alg="entropy")`, 512 new tokens);
    /// LLaDA's `generate.py` / `chat.py` (`low_confidence` remasking, steps 128, gen_length 128,
    /// block_length 32, temperature 0, cfg_scale 0; options `block_length` and `cfg_scale`). DiffuSmol takes
    /// DiffuLLaMA's sampler with the 128-token length of its adaptation windows.
    public var sampler: SamplerDefaults {
        switch self {
        case .diffuGPTSmall: SamplerDefaults(sampler: "random-keep", steps: 64, temperature: 0.95, topP: 0.9, generationLength: 512)
        case .diffuGPTMedium: SamplerDefaults(sampler: "random-keep", steps: 64, temperature: 0.95, topP: 0.9, generationLength: 1024)
        case .diffuLLaMA: SamplerDefaults(sampler: "random-keep", steps: 64, temperature: 0.9, topP: 0.9, generationLength: 2048)
        case .dream: SamplerDefaults(sampler: "entropy", steps: 512, temperature: 0.2, topP: 0.95, generationLength: 512)
        case .diffuSmol: SamplerDefaults(sampler: "random-keep", steps: 64, temperature: 0.9, topP: 0.9, generationLength: 128)
        case .llada:
            SamplerDefaults(sampler: "low-confidence", steps: 128, temperature: 0, topP: 1, generationLength: 128,
                            options: ["block_length": .integer(32), "cfg_scale": .integer(0)])
        }
    }

    /// Defaults for a model the converter does not know (given a `--mask-id`): the random-keep sampler with
    /// the settings of the nearest known family (the architecture descriptor's ``UnknownModelSampling``).
    static func genericSampler(for architecture: Architecture) -> SamplerDefaults {
        let sampling = architecture.descriptor.unknownModelSampling
        return SamplerDefaults(sampler: "random-keep", steps: 64, temperature: sampling.temperature, topP: 0.9,
                               generationLength: sampling.generationLength)
    }
}

/// The diffusion facts of a converted model and the name it was recognised as.
public struct ResolvedDiffusion: Sendable, Equatable {
    /// The model this was recognised as (`DiffuGPT-S`, …), or a description of an unknown one.
    public var modelName: String
    /// Mask token, shift rule, special tokens, sampler defaults (the `.diffu` metadata's `diffusion`).
    public var settings: DiffusionSettings

    /// Resolves the diffusion facts of a model: a known model's values, overridden by `--mask-id`; an
    /// unknown model needs `--mask-id` and gets the generic sampler of its family. The shift rule is
    /// what the source declares (`declaredShift`: GGUF `diffusion.shift_logits`), else the known model's
    /// (LLaDA: off), else on (an unknown model is an AR model or adapted from one).
    ///
    /// - Throws: ``ConvertError/maskTokenRequired(model:)`` for an unknown model without a mask id,
    ///   ``ConvertError/tokenOutOfRange(what:id:vocabularySize:)`` for ids outside the vocabulary.
    static func resolve(known: KnownDiffusionModel?, description: String, architecture: Architecture,
                        special: SpecialTokenIds, declaredShift: Bool? = nil, maskOverride: Int?,
                        vocabularySize: Int) throws -> ResolvedDiffusion {
        var settings: DiffusionSettings
        let name: String
        if let known {
            name = known.rawValue
            settings = DiffusionSettings(
                maskTokenID: special.mask.map(Int.init) ?? known.maskTokenId, shiftLogits: declaredShift ?? known.shiftsLogits, bosTokenID: special.bos.map(Int.init),
                eosTokenID: special.eos.map(Int.init), padTokenID: special.pad.map(Int.init), samplerDefaults: known.sampler)
            if known == .diffuLLaMA {
                // DiffuLLaMA's instruction layout (DIFFUSION.md §1, §4D).
                settings.bosTokenID = 1
                settings.eosTokenID = 2
                settings.padTokenID = 30399
                settings.sepTokenID = 4936
            }
        } else {
            guard let mask = maskOverride ?? special.mask.map(Int.init) else { throw ConvertError.maskTokenRequired(model: description) }
            name = description
            settings = DiffusionSettings(
                maskTokenID: mask, shiftLogits: declaredShift ?? true, bosTokenID: special.bos.map(Int.init), eosTokenID: special.eos.map(Int.init),
                padTokenID: special.pad.map(Int.init), samplerDefaults: KnownDiffusionModel.genericSampler(for: architecture))
        }
        if let maskOverride { settings.maskTokenID = maskOverride }
        let checks: [(String, Int?)] = [
            ("mask token", settings.maskTokenID), ("bos token", settings.bosTokenID), ("eos token", settings.eosTokenID),
            ("pad token", settings.padTokenID), ("sep token", settings.sepTokenID),
        ]
        for (what, id) in checks {
            if let id, id < 0 || id >= vocabularySize {
                throw ConvertError.tokenOutOfRange(what: what, id: id, vocabularySize: vocabularySize)
            }
        }
        return ResolvedDiffusion(modelName: name, settings: settings)
    }
}

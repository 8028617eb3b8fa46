import DiffuModels

/// The default sampler settings recorded in a converted file (what the source model's official code uses).
public struct SamplerSettings: Codable, Sendable, Equatable {
    /// Sampler name: `random-keep` (`model.py::generate_samples`, DiffuGPT/DiffuLLaMA quick start) or
    /// `entropy` (Dream's `diffusion_generate` with `alg="entropy"`).
    public var algorithm: String
    /// Diffusion steps T.
    public var steps: Int
    /// Softmax temperature.
    public var temperature: Float
    /// Nucleus threshold (`nil`: no top-p filter).
    public var topP: Float?
    /// Number of generated positions.
    public var generationLength: Int

    /// Creates sampler defaults.
    public init(algorithm: String, steps: Int, temperature: Float, topP: Float?, generationLength: Int) {
        self.algorithm = algorithm
        self.steps = steps
        self.temperature = temperature
        self.topP = topP
        self.generationLength = generationLength
    }

    enum CodingKeys: String, CodingKey {
        case algorithm, steps, temperature
        case topP = "top_p"
        case generationLength = "generation_length"
    }
}

/// Diffusion facts of a converted model: the mask token, the shift rule, special tokens and sampler defaults.
public struct DiffusionDefaults: Codable, Sendable, Equatable {
    /// The model this was recognised as (`DiffuGPT-S`, …), or a description of an unknown one.
    public var modelName: String
    /// Token id of MASK.
    public var maskTokenId: Int
    /// Whether logits at position i predict token i+1 (true for every AR-adapted model: DiffuGPT,
    /// DiffuLLaMA, Dream, DiffuCoder, and an AR GGUF model given a `--mask-id`).
    public var shiftLogits: Bool
    /// Beginning-of-sequence token.
    public var bosTokenId: Int?
    /// End-of-sequence token.
    public var eosTokenId: Int?
    /// Padding token.
    public var padTokenId: Int?
    /// Separator between source and target in the instruction layout (DiffuLLaMA: 4936).
    public var sepTokenId: Int?
    /// Default sampler settings.
    public var sampler: SamplerSettings
    /// The source's chat template (Jinja), if it has one.
    public var chatTemplate: String?

    /// Creates diffusion defaults.
    public init(modelName: String, maskTokenId: Int, shiftLogits: Bool, bosTokenId: Int?, eosTokenId: Int?,
                padTokenId: Int?, sepTokenId: Int?, sampler: SamplerSettings) {
        self.modelName = modelName
        self.maskTokenId = maskTokenId
        self.shiftLogits = shiftLogits
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.padTokenId = padTokenId
        self.sepTokenId = sepTokenId
        self.sampler = sampler
    }

    enum CodingKeys: String, CodingKey {
        case modelName = "model_name"
        case maskTokenId = "mask_token_id"
        case shiftLogits = "shift_logits"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case padTokenId = "pad_token_id"
        case sepTokenId = "sep_token_id"
        case sampler
        case chatTemplate = "chat_template"
    }
}

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

    /// The mask token id.
    public var maskTokenId: Int {
        switch self {
        case .diffuGPTSmall: 10541
        case .diffuGPTMedium: 50257
        case .diffuLLaMA: 811
        case .dream: 151666
        }
    }

    /// The official defaults: `model.py::generate_samples` for DiffuGPT/DiffuLLaMA (T = 64, temperature
    /// 0.95 for GPT-2 and 0.9 for LLaMA, top-p 0.9, length 512/1024/2048); Dream's README example
    /// (`diffusion_generate(steps=512, temperature=0.2, top_p=0.95, alg="entropy")`, 512 new tokens).
    public var sampler: SamplerSettings {
        switch self {
        case .diffuGPTSmall: SamplerSettings(algorithm: "random-keep", steps: 64, temperature: 0.95, topP: 0.9, generationLength: 512)
        case .diffuGPTMedium: SamplerSettings(algorithm: "random-keep", steps: 64, temperature: 0.95, topP: 0.9, generationLength: 1024)
        case .diffuLLaMA: SamplerSettings(algorithm: "random-keep", steps: 64, temperature: 0.9, topP: 0.9, generationLength: 2048)
        case .dream: SamplerSettings(algorithm: "entropy", steps: 512, temperature: 0.2, topP: 0.95, generationLength: 512)
        }
    }

    /// Defaults for a model the converter does not know (given a `--mask-id`): the random-keep sampler with
    /// the settings of the nearest known family.
    static func genericSampler(for architecture: Architecture) -> SamplerSettings {
        switch architecture {
        case .gpt2: SamplerSettings(algorithm: "random-keep", steps: 64, temperature: 0.95, topP: 0.9, generationLength: 512)
        case .llama, .qwen2: SamplerSettings(algorithm: "random-keep", steps: 64, temperature: 0.9, topP: 0.9, generationLength: 1024)
        }
    }
}

/// Special token ids read from the source (config.json or GGUF metadata).
public struct SpecialTokens: Sendable, Equatable {
    /// Beginning of sequence.
    public var bos: Int?
    /// End of sequence.
    public var eos: Int?
    /// Padding.
    public var pad: Int?
    /// Mask, when the source declares one (Dream's `mask_token_id`).
    public var mask: Int?

    /// Creates a set of special ids.
    public init(bos: Int? = nil, eos: Int? = nil, pad: Int? = nil, mask: Int? = nil) {
        self.bos = bos
        self.eos = eos
        self.pad = pad
        self.mask = mask
    }
}

extension DiffusionDefaults {
    /// Resolves the diffusion facts of a model: a known model's values, overridden by `--mask-id`; an
    /// unknown model needs `--mask-id` and gets the shift rule on (every model Diffu converts is an AR
    /// model or adapted from one) and the generic sampler of its family.
    ///
    /// - Throws: ``ConvertError/maskTokenRequired(model:)`` for an unknown model without a mask id,
    ///   ``ConvertError/tokenOutOfRange(what:id:vocabularySize:)`` for ids outside the vocabulary.
    static func resolve(known: KnownDiffusionModel?, description: String, architecture: Architecture,
                        special: SpecialTokens, maskOverride: Int?, vocabularySize: Int) throws -> DiffusionDefaults {
        var result: DiffusionDefaults
        if let known {
            result = DiffusionDefaults(
                modelName: known.rawValue, maskTokenId: special.mask ?? known.maskTokenId, shiftLogits: true,
                bosTokenId: special.bos, eosTokenId: special.eos, padTokenId: special.pad, sepTokenId: nil,
                sampler: known.sampler)
            if known == .diffuLLaMA {
                // DiffuLLaMA's instruction layout (DIFFUSION.md §1, §4D).
                result.bosTokenId = 1
                result.eosTokenId = 2
                result.padTokenId = 30399
                result.sepTokenId = 4936
            }
        } else {
            guard let mask = maskOverride ?? special.mask else { throw ConvertError.maskTokenRequired(model: description) }
            result = DiffusionDefaults(
                modelName: description, maskTokenId: mask, shiftLogits: true, bosTokenId: special.bos,
                eosTokenId: special.eos, padTokenId: special.pad, sepTokenId: nil,
                sampler: KnownDiffusionModel.genericSampler(for: architecture))
        }
        if let maskOverride { result.maskTokenId = maskOverride }
        let checks: [(String, Int?)] = [
            ("mask token", result.maskTokenId), ("bos token", result.bosTokenId), ("eos token", result.eosTokenId),
            ("pad token", result.padTokenId), ("sep token", result.sepTokenId),
        ]
        for (what, id) in checks {
            if let id, id < 0 || id >= vocabularySize {
                throw ConvertError.tokenOutOfRange(what: what, id: id, vocabularySize: vocabularySize)
            }
        }
        return result
    }
}

import DiffuFormat
import DiffuModels
import Foundation

/// Everything the converter records about a converted model besides its tensors; becomes the `.diffu`
/// file's ``DiffuFormat/DiffuMetadata``.
public struct ConversionMetadata: Sendable, Equatable {
    /// The forward pass's hyperparameters.
    public var model: ModelConfiguration
    /// The model's recognised name (or a description of an unknown one), stored under `extra.model_name`.
    public var modelName: String
    /// Mask token, shift rule, special tokens, sampler defaults, chat template.
    public var diffusion: DiffusionSettings
    /// The embedded tokenizer: loader kind and blob names.
    public var tokenizer: TokenizerFiles
    /// The source files with sizes and SHA-256.
    public var sources: [Provenance.SourceFile]
    /// The converter's version string.
    public var converterVersion: String
    /// The quantization recipe (``QuantizationRecipe/summary``).
    public var quantization: String

    /// Creates conversion metadata.
    public init(model: ModelConfiguration, modelName: String, diffusion: DiffusionSettings, tokenizer: TokenizerFiles,
                sources: [Provenance.SourceFile], converterVersion: String, quantization: String) {
        self.model = model
        self.modelName = modelName
        self.diffusion = diffusion
        self.tokenizer = tokenizer
        self.sources = sources
        self.converterVersion = converterVersion
        self.quantization = quantization
    }

    /// The `.diffu` metadata block, stamped with the current UTC time.
    public func diffuMetadata(createdAt: Date = Date()) throws -> DiffuMetadata {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.formatOptions = [.withInternetDateTime]
        return DiffuMetadata(
            model: try JSONValue(encoding: model), diffusion: diffusion, tokenizer: tokenizer,
            provenance: Provenance(sources: sources, converterVersion: converterVersion, quantization: quantization,
                                   createdAt: formatter.string(from: createdAt)),
            extra: ["model_name": .string(modelName)])
    }
}

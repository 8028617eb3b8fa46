// The facade re-exports exactly the types its public API names (parameters, results, errors it
// throws), so `import Diffu` is all a program that runs models needs, without the rest of the lower
// modules: no file-format reader, converter, quantizer or kernel internals. Converting checkpoints or
// reading `.diffu` files as files is the `DiffuConversion` product.

// Model hyperparameters (`DiffuModel.configuration`) and the model layer's errors.
@_exported import struct DiffuModels.ModelConfiguration
@_exported import enum DiffuModels.Architecture
@_exported import enum DiffuModels.ModelError
// Samplers: the algorithm choice, the sampler parameters and canvas a generation builds, likelihood
// estimates, and their errors.
@_exported import enum DiffuSamplers.SamplerAlgorithm
@_exported import struct DiffuSamplers.SamplingParameters
@_exported import struct DiffuSamplers.Canvas
@_exported import struct DiffuSamplers.LikelihoodEstimator
@_exported import struct DiffuSamplers.LikelihoodEstimate
@_exported import enum DiffuSamplers.LikelihoodError
@_exported import enum DiffuSamplers.SamplerError
// What `DiffuModel.likelihoodEstimator` runs over: a logits provider and a seeded random source.
@_exported import protocol DiffuSamplers.LogitsProvider
@_exported import protocol DiffuSamplers.RandomSource
@_exported import struct DiffuSamplers.SeededRandomSource
// The tokenizer (`DiffuModel.tokenizer`, `Tokenizer.load(path:)`), its special ids and errors.
@_exported import class DiffuTokenizers.Tokenizer
@_exported import struct DiffuTokenizers.SpecialTokenIds
@_exported import enum DiffuTokenizers.TokenizerError
// The file's diffusion facts (`DiffuModel.diffusion`): mask id, shift rule, special ids, sampler
// defaults and their options (JSON values: the value, an object's members, the strict parser's error),
// and the error a bad file raises when opened.
@_exported import struct DiffuFormat.DiffusionSettings
@_exported import struct DiffuFormat.SamplerDefaults
@_exported import enum DiffuJSON.JSONValue
@_exported import struct DiffuJSON.JSONObject
@_exported import struct DiffuJSON.JSONSyntaxError
@_exported import enum DiffuFormat.DiffuFormatError
// The kernel-variant choice (`DiffuModel.open(path:kernelVariant:)`), without the rest of the kernels.
@_exported import enum DiffuKernels.KernelVariant
@_exported import enum DiffuKernels.KernelVariantError

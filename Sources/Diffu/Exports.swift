// The facade re-exports the types its public API uses, so `import Diffu` is all an embedding program
// needs: configuration and tokenizer types, sampler algorithms, conversion recipes, file metadata.
@_exported import DiffuConvert
@_exported import DiffuFormat
@_exported import DiffuModels
@_exported import DiffuSamplers
@_exported import DiffuTokenizers
// The kernel-variant choice (`DiffuModel.open(path:kernelVariant:)`), without the rest of the kernels.
@_exported import enum DiffuKernels.KernelVariant
@_exported import enum DiffuKernels.KernelVariantError

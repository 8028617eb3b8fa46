// The conversion product: the converter (importers for Hugging Face safetensors directories and GGUF
// files, the quantizer, the sinks) and the `.diffu` container as a file (reader, writer, metadata
// schema, verification), for the apps that convert checkpoints or inspect files. Running a model
// needs only `import Diffu`, which re-exports none of this.
@_exported import DiffuConvert
@_exported import DiffuFormat

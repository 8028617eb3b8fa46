import Diffu
import DiffuConvert
import DiffuFormat

extension DiffuModel {
    /// Converts a checkpoint — a Hugging Face directory (safetensors, single or sharded) or a `.gguf`
    /// file — into a `.diffu` file, atomically (nothing is left at `destination` on failure).
    ///
    /// - Parameters:
    ///   - source: the checkpoint directory or GGUF file.
    ///   - destination: the `.diffu` file to write.
    ///   - recipe: the storage recipe (`f32`, `f16`, `bf16`, `q8`, `q4`, `q4e`, `q4m`).
    ///   - maskTokenId: the mask id for models Diffu does not recognize (overrides the known ones).
    ///   - overwrite: replace an existing destination.
    ///   - compress: zstd per tensor where it saves enough (policy `auto`).
    /// - Returns: what was written.
    @discardableResult
    public static func convert(source: String, destination: String, recipe: QuantizationRecipe = .q8,
                               maskTokenId: Int? = nil, overwrite: Bool = false, compress: Bool = true) throws -> ConversionSummary {
        let options = ConversionOptions(recipe: recipe, maskTokenId: maskTokenId, overwrite: overwrite, compress: compress)
        return try Converter.convert(
            source: source, destination: destination, options: options,
            makeSink: { destination, overwrite in
                try DiffuFileSink(destination: destination, overwrite: overwrite, compress: options.compress)
            })
    }
}

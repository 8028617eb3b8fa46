import DiffuFormat
import DiffuTokenizers
import Foundation

extension Tokenizer {
    /// Loads the tokenizer a path names, choosing the loader from what is there: a Hugging Face folder
    /// (tokenizer.json, tokenizer.model or vocab.json + merges.txt, with their configs), one of those
    /// files (its folder is loaded), a `.gguf` file (its vocabulary), or a `.diffu` model file (its
    /// embedded tokenizer).
    ///
    /// - Throws: ``DiffuError/noSuchFile(_:)``, ``DiffuError/unrecognizedTokenizerPath(_:)`` for any
    ///   other file, `TokenizerError` for a tokenizer that does not load, `DiffuFormatError` for a bad
    ///   `.diffu` file.
    public static func load(path: String) throws -> Tokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw DiffuError.noSuchFile(path) }
        if isDirectory.boolValue { return try load(directory: path) }
        let lowercased = path.lowercased()
        if lowercased.hasSuffix(".diffu") { return try load(files: DiffuFile.open(path: path).tokenizerFiles()) }
        if lowercased.hasSuffix(".gguf") { return try load(ggufPath: path) }
        if recognizedFileNames.contains((path as NSString).lastPathComponent) {
            return try load(directory: (path as NSString).deletingLastPathComponent)
        }
        throw DiffuError.unrecognizedTokenizerPath(path)
    }
}

import ArgumentParser
import Diffu
import DiffuConversion
import Foundation

/// `diffu inspect FILE [--json]`: the metadata and the tensor table of a `.diffu` file.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a .diffu file's metadata and tensor table.",
        discussion: "Opens the file (validating its header, metadata and directory, reading no weights) and prints "
            + "the model settings, tokenizer, provenance and every tensor with its shape, type, layout, bytes "
            + "and compression ratio. Exit status 1 when the file cannot be opened."
    )

    @Argument(help: "The .diffu file.")
    var file: String

    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false

    func run() throws {
        let diffu: DiffuFile
        do { diffu = try DiffuFile.open(path: file) } catch {
            printError("diffu inspect: \(error)")
            throw ExitCode(1)
        }
        if json {
            print(try InspectReport(diffu).jsonText())
        } else {
            print(InspectReport.text(diffu))
        }
    }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// The `--json` document of `diffu inspect`.
struct InspectReport: Encodable {
    struct Tensor: Encodable {
        let name: String
        let shape: [Int]
        let storage: String
        let layout: String
        let compression: String
        let offset: Int
        let rawBytes: Int
        let storedBytes: Int
        let checksum: String

        enum CodingKeys: String, CodingKey {
            case name, shape, storage, layout, compression, offset, checksum
            case rawBytes = "raw_bytes"
            case storedBytes = "stored_bytes"
        }
    }

    /// The kernels a model opened from this file would run on this machine.
    struct Kernels: Encodable {
        /// `KernelVariant.requested()` (DIFFU_KERNELS or the best supported), or the error's text.
        let variant: String
        let supported: [String]
        /// Whether the variant multiplies some matrix of the file in integer arithmetic.
        let integerProducts: Bool

        enum CodingKeys: String, CodingKey {
            case variant, supported
            case integerProducts = "integer_products"
        }

        init(_ file: DiffuFile) {
            let requested = Result { try KernelVariant.requested() }
            variant = (try? requested.get().rawValue) ?? "error: \(requested)"
            supported = KernelVariant.supported.map(\.rawValue)
            let chosen = try? requested.get()
            integerProducts = file.tensors.contains { chosen?.multipliesInIntegers($0.storage) ?? false }
        }

        var text: String {
            "\(variant) (supported: \(supported.joined(separator: ", "))\(integerProducts ? "; q8/q4 products in int8 × int8" : ""))"
        }
    }

    let path: String
    let fileBytes: Int
    let formatVersion: Int
    let metadata: DiffuMetadata
    let tensors: [Tensor]
    let kernels: Kernels

    enum CodingKeys: String, CodingKey {
        case path, metadata, tensors, kernels
        case fileBytes = "file_bytes"
        case formatVersion = "format_version"
    }

    init(_ file: DiffuFile) {
        path = file.path
        fileBytes = file.fileLength
        formatVersion = 1
        metadata = file.metadata
        kernels = Kernels(file)
        tensors = file.tensors.map {
            Tensor(name: $0.name, shape: $0.shape, storage: $0.storage.name, layout: $0.layout.name,
                   compression: $0.compression.description, offset: $0.offset, rawBytes: $0.rawByteCount,
                   storedBytes: $0.storedByteCount, checksum: String(format: "%016llx", $0.checksum))
        }
    }

    func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Human-readable byte count.
    static func bytes(_ count: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count), unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// Compact one-line JSON of a value.
    static func compact(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "?"
    }

    static func text(_ file: DiffuFile) -> String {
        let metadata = file.metadata
        let diffusion = metadata.diffusion
        var lines: [String] = []
        lines.append("file:        \(file.path) (\(bytes(file.fileLength)), \(file.tensors.count) tensors, .diffu v1)")
        lines.append("metadata:    \(bytes(file.metadataLength.stored)) zstd (\(bytes(file.metadataLength.raw)) JSON)")
        lines.append("model:       \(compact(metadata.model))")
        lines.append("kernels:     \(Kernels(file).text)")
        func id(_ value: Int?) -> String { value.map(String.init) ?? "-" }
        lines.append("diffusion:   mask \(diffusion.maskTokenID), shifted logits \(diffusion.shiftLogits ? "yes" : "no"), "
            + "bos \(id(diffusion.bosTokenID)), eos \(id(diffusion.eosTokenID)), pad \(id(diffusion.padTokenID)), sep \(id(diffusion.sepTokenID)), "
            + "chat template \(diffusion.chatTemplate.map { "\($0.count) characters" } ?? "none")")
        if let sampler = diffusion.samplerDefaults {
            var text = "sampler:     \(sampler.sampler), \(sampler.steps) steps, temperature \(sampler.temperature), "
                + "top-p \(sampler.topP), length \(sampler.generationLength)"
            if let options = sampler.options, !options.isEmpty { text += ", options \(compact(.object(options)))" }
            lines.append(text)
        }
        let files = metadata.tokenizer.files.sorted { $0.key < $1.key }.map { "\($0.key) → \($0.value)" }
        lines.append("tokenizer:   \(metadata.tokenizer.kind.rawValue) (\(files.joined(separator: ", ")))")
        let provenance = metadata.provenance
        lines.append("provenance:  converter \(provenance.converterVersion), quantization \(provenance.quantization), created \(provenance.createdAt)")
        for source in provenance.sources {
            lines.append("  source:    \(source.path) (\(bytes(source.size)), sha256 \(source.sha256))")
        }
        if let extra = metadata.extra, !extra.isEmpty { lines.append("extra:       \(compact(.object(extra)))") }

        // Totals per storage type.
        var totals: [String: (count: Int, raw: Int, stored: Int)] = [:]
        for entry in file.tensors {
            let key = entry.storage.name
            let current = totals[key] ?? (0, 0, 0)
            totals[key] = (current.count + 1, current.raw + entry.rawByteCount, current.stored + entry.storedByteCount)
        }
        lines.append("storage:     " + totals.keys.sorted().map {
            let t = totals[$0]!
            return "\($0) \(t.count) tensors \(bytes(t.stored))"
        }.joined(separator: "; "))

        let header = ["name", "shape", "type", "layout", "bytes", "stored", "ratio"]
        var rows = [header]
        for entry in file.tensors {
            let ratio = entry.compression == .zstd
                ? String(format: "%.2f", Double(entry.rawByteCount) / Double(entry.storedByteCount)) : "-"
            rows.append([
                entry.name, entry.shape.map(String.init).joined(separator: "×"), entry.storage.name, entry.layout.name,
                String(entry.rawByteCount), entry.compression == .zstd ? String(entry.storedByteCount) : "=", ratio,
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        lines.append("")
        for row in rows {
            let cells = row.indices.map { column -> String in
                let cell = row[column], padding = String(repeating: " ", count: widths[column] - cell.count)
                return column >= 4 ? padding + cell : cell + padding  // numbers right-aligned
            }
            lines.append(cells.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}

import DiffuStorage
import Foundation

/// A sink that writes the canonical tensors as f32 instead of a `.diffu` file: `canonical.bin` (every
/// tensor decoded to f32 little-endian, row-major, one after another) and `canonical.json` (`tensors`:
/// name, shape, byte offset, count, kind; `model`: the configuration; `diffusion`: the diffusion facts).
/// The same layout as the model fixtures' canonical dumps, so tools can compare an import with an
/// independent reference (`diffu convert SRC --dump-canonical DIR`). Blobs are written as files under
/// `DIR/blobs/`.
public final class CanonicalDumpSink: TensorSink {
    private let directory: String
    private let data: FileHandle
    private var offset = 0
    private var entries: [[String: Any]] = []

    /// Creates `directory` (if needed) and `canonical.bin` in it.
    public init(directory: String) throws {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory + "/blobs", withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: directory + "/canonical.bin", contents: nil)
            data = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/canonical.bin"))
            try data.truncate(atOffset: 0)
        } catch {
            throw ConvertError.writeFailed(path: directory, reason: "\(error)")
        }
    }

    /// Decodes the payload to f32 and appends it.
    public func add(name: String, shape: [Int], storage: StorageType, layout: TensorLayout, payload: UnsafeRawBufferPointer) throws {
        if storage == .bytes {
            let file = directory + "/blobs/" + name.replacingOccurrences(of: "/", with: "_")
            guard FileManager.default.createFile(atPath: file, contents: Data(payload)) else {
                throw ConvertError.writeFailed(path: file, reason: "cannot create")
            }
            return
        }
        var values: [Float]
        if layout == .panel16, let geometry = PanelGeometry(rows: shape[0], columns: shape[1], storage: storage) {
            values = [Float](repeating: 0, count: geometry.rows * geometry.columns)
            values.withUnsafeMutableBufferPointer { result in
                for row in 0..<geometry.rows {
                    WeightPacking.decodeRow(payload, row: row, geometry: geometry,
                                            into: UnsafeMutableBufferPointer(rebasing: result[(row * geometry.columns)..<((row + 1) * geometry.columns)]))
                }
            }
        } else {
            precondition(storage == .f32, "vectors are f32")
            values = Array(payload.bindMemory(to: Float.self))
        }
        do {
            try values.withUnsafeBytes { try data.write(contentsOf: Data($0)) }
        } catch {
            throw ConvertError.writeFailed(path: directory + "/canonical.bin", reason: "\(error)")
        }
        entries.append(["name": name, "shape": shape, "offset": offset, "count": values.count,
                        "kind": layout == .panel16 ? "matrix" : "vector", "storage": storage.name])
        offset += 4 * values.count
    }

    /// Writes `canonical.json`.
    public func finish(metadata: ConversionMetadata) throws {
        do {
            try data.close()
            let model = try JSONSerialization.jsonObject(with: JSONEncoder().encode(metadata.model))
            let diffusion = try JSONSerialization.jsonObject(with: JSONEncoder().encode(metadata.diffusion))
            let document: [String: Any] = [
                "format": "float32 little-endian row-major; offset in bytes", "tensors": entries, "model": model,
                "diffusion": diffusion, "quantization": metadata.quantization,
            ]
            let json = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
            try json.write(to: URL(fileURLWithPath: directory + "/canonical.json"))
        } catch {
            throw ConvertError.writeFailed(path: directory + "/canonical.json", reason: "\(error)")
        }
    }

    /// Closes the data file and removes what was written.
    public func abort() {
        try? data.close()
        try? FileManager.default.removeItem(atPath: directory + "/canonical.bin")
        try? FileManager.default.removeItem(atPath: directory + "/blobs")
    }
}

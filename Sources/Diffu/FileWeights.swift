import DiffuFormat
import DiffuKernels
import DiffuModels
import DiffuStorage

/// Adapts a mapped `.diffu` file to the models' ``DiffuModels/ModelWeights`` protocol: matrices are
/// `panel16` payloads viewed in place (no copy, no repacking), vectors are f32 row-major payloads.
struct FileWeights: ModelWeights {
    let file: DiffuFile

    func matrix(_ name: String) throws -> WeightMatrix {
        guard let entry = file.tensor(named: name) else { throw DiffuError.missingTensor(name) }
        guard entry.layout == .panel16, entry.shape.count == 2,
              let geometry = PanelGeometry(rows: entry.shape[0], columns: entry.shape[1], storage: entry.storage)
        else {
            throw DiffuError.unexpectedTensorEncoding(name: name, detail: "\(entry.storage) \(entry.layout) \(entry.shape); expected a panel16 matrix")
        }
        let payload = try file.payload(of: entry)
        guard payload.count >= geometry.byteCount, let base = payload.baseAddress else {
            throw DiffuError.unexpectedTensorEncoding(name: name, detail: "payload shorter than its geometry")
        }
        return WeightMatrix(geometry: geometry, base: base)
    }

    func vector(_ name: String) throws -> UnsafeBufferPointer<Float> {
        guard let entry = file.tensor(named: name) else { throw DiffuError.missingTensor(name) }
        guard entry.layout == .rowMajor, entry.storage == .f32 else {
            throw DiffuError.unexpectedTensorEncoding(name: name, detail: "\(entry.storage) \(entry.layout); expected f32 row-major")
        }
        let payload = try file.payload(of: entry)
        let count = payload.count / MemoryLayout<Float>.stride
        guard let base = payload.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else {
            throw DiffuError.unexpectedTensorEncoding(name: name, detail: "misaligned f32 payload")
        }
        return UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: count)
    }

    func contains(_ name: String) -> Bool { file.tensor(named: name) != nil }
}

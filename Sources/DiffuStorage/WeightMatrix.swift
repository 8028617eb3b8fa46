
/// A read-only view of a weight matrix stored in ``TensorLayout/panel16``.
///
/// The view does not own its bytes: they usually live in a memory-mapped `.diffu` file, and the owner
/// (the loaded model) keeps the mapping alive for as long as any view of it is used.
/// Logical shape `[rows N (outputs), columns K (inputs)]`; see ``PanelGeometry`` for the layout.
public struct WeightMatrix: @unchecked Sendable {
    /// Geometry and storage type of the payload.
    public let geometry: PanelGeometry
    /// The first byte of the payload (at least 32-byte aligned in files written by Diffu).
    public let base: UnsafeRawPointer

    /// Wraps a payload; the buffer must hold at least `geometry.byteCount` bytes.
    public init(geometry: PanelGeometry, base: UnsafeRawPointer) {
        self.geometry = geometry
        self.base = base
    }

    /// Logical rows (outputs).
    public var rows: Int { geometry.rows }
    /// Logical columns (inputs).
    public var columns: Int { geometry.columns }
    /// Storage type of the payload.
    public var storage: StorageType { geometry.storage }

    /// The payload as a raw buffer.
    public var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: geometry.byteCount)
    }

    /// Decodes logical row `row` (output `row`, all `columns` inputs) into `output[0..<columns]` with the
    /// storage type's reference decoder (``StorageCodec/decode(_:lane:count:into:)``, one call per block;
    /// the codec is chosen once per row). The embedding gather's decoder.
    /// - Precondition: `row` lies in `0..<rows`.
    public func decodeRow(_ row: Int, into output: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows, "row out of range")
        guard storage.withCodec(RowDecoder(matrix: self, row: row, output: output)) != nil else {
            preconditionFailure("bytes tensors are not matrices")
        }
    }
}

/// Decodes one row of a matrix with one codec.
private struct RowDecoder: StorageCodecVisitor {
    let matrix: WeightMatrix
    let row: Int
    let output: UnsafeMutablePointer<Float>

    func visit<Codec: StorageCodec>(_ codec: Codec.Type) {
        let geometry = matrix.geometry
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        let panel = row / width, lane = row % width
        for block in 0..<geometry.blockCount {
            let start = block * length
            codec.decode(matrix.base + geometry.blockOffset(panel: panel, block: block), lane: lane,
                         count: min(length, geometry.columns - start), into: output + start)
        }
    }
}


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
}

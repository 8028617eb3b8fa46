import DiffuStorage

/// Where the converter puts its output: the `.diffu` writer in production, an in-memory collector in tests.
///
/// The pipeline's whole contact with the file format is these three calls. `add` receives each tensor
/// once, already encoded; the payload is only valid during the call.
public protocol TensorSink: AnyObject {
    /// Stores one tensor (weights in `panel16`/row-major, or a `bytes` blob with `layout` row-major).
    func add(name: String, shape: [Int], storage: StorageType, layout: TensorLayout, payload: UnsafeRawBufferPointer) throws
    /// Completes the output with its metadata (publishes the file atomically).
    func finish(metadata: ConversionMetadata) throws
    /// Discards everything written; nothing may remain at the destination.
    func abort()
}

/// A sink that keeps every tensor in memory (tests, tools).
public final class InMemoryTensorSink: TensorSink {
    /// One stored tensor.
    public struct Tensor: Sendable, Equatable {
        /// Logical shape.
        public let shape: [Int]
        /// Storage type.
        public let storage: StorageType
        /// Layout.
        public let layout: TensorLayout
        /// The encoded payload.
        public let payload: [UInt8]
    }

    /// Tensors by name.
    public private(set) var tensors: [String: Tensor] = [:]
    /// Names in the order they were added.
    public private(set) var order: [String] = []
    /// The metadata passed to `finish`, once finished.
    public private(set) var metadata: ConversionMetadata?
    /// Whether `abort` was called.
    public private(set) var aborted = false

    /// Creates an empty sink.
    public init() {}

    /// Stores a copy of the payload.
    public func add(name: String, shape: [Int], storage: StorageType, layout: TensorLayout, payload: UnsafeRawBufferPointer) throws {
        precondition(tensors[name] == nil, "tensor \(name) added twice")
        tensors[name] = Tensor(shape: shape, storage: storage, layout: layout, payload: Array(payload))
        order.append(name)
    }

    /// Records the metadata.
    public func finish(metadata: ConversionMetadata) throws { self.metadata = metadata }

    /// Drops everything.
    public func abort() {
        aborted = true
        tensors = [:]
        order = []
    }

    /// Decodes a stored tensor to f32 row-major (panel matrices through the reference decoder).
    public func floats(_ name: String) -> [Float]? {
        guard let tensor = tensors[name] else { return nil }
        switch tensor.layout {
        case .rowMajor:
            guard tensor.storage == .f32 else { return nil }
            return tensor.payload.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        case .panel16:
            guard let geometry = PanelGeometry(rows: tensor.shape[0], columns: tensor.shape[1], storage: tensor.storage) else { return nil }
            var output = [Float](repeating: 0, count: geometry.rows * geometry.columns)
            tensor.payload.withUnsafeBytes { payload in
                output.withUnsafeMutableBufferPointer { result in
                    for row in 0..<geometry.rows {
                        WeightPacking.decodeRow(payload, row: row, geometry: geometry,
                                                into: UnsafeMutableBufferPointer(rebasing: result[(row * geometry.columns)..<((row + 1) * geometry.columns)]))
                    }
                }
            }
            return output
        }
    }
}

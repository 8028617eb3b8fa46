/// The byte layout of a weight matrix stored in ``TensorLayout/panel16``.
///
/// A matrix `W` of logical shape `[rows, columns]` (`rows` = N outputs, `columns` = K inputs, the
/// PyTorch `nn.Linear` convention) is stored as `panelCount = ceil(N / 16)` panels of 16 rows, one after
/// another. Inside a panel, the inputs are padded with zeros to `paddedColumns = roundUp(K, 32)` and cut
/// into `blockCount = paddedColumns / 32` blocks of 32 inputs. Rows past N in the last panel are zero.
/// Row `n` of the matrix is lane `c = n % 16` of panel `p = n / 16`.
///
/// Inside a block (`k` = 0..<32 is the input index inside the block, `c` = 0..<16 the lane) the bytes are
/// the storage type's own, defined by its codec (``StorageCodec``, one file per type under
/// `Sources/DiffuStorage/Codecs/`): this panel structure and the codecs' block layouts are normative
/// (`formats/diffu-v1.md` restates them). Every block size is a multiple of 32 bytes, so a payload
/// aligned to 64 bytes keeps every block 32-byte aligned for AVX2 loads.
public struct PanelGeometry: Sendable, Equatable {
    /// Rows per panel (outputs computed together by one micro-kernel pass).
    public static let panelWidth = 16
    /// Inputs per block (values sharing one scale in the quantized types).
    public static let blockLength = 32

    /// Logical rows N (outputs).
    public let rows: Int
    /// Logical columns K (inputs).
    public let columns: Int
    /// The storage type of the elements.
    public let storage: StorageType

    /// Creates the geometry; `nil` when the storage type has no panel layout (no codec), a dimension is
    /// not positive, or the byte size would overflow.
    public init?(rows: Int, columns: Int, storage: StorageType) {
        guard rows > 0, columns > 0, storage.codec != nil else { return nil }
        self.rows = rows
        self.columns = columns
        self.storage = storage
        guard totalByteCountChecked() != nil else { return nil }
    }

    /// Number of 16-row panels.
    public var panelCount: Int { rows / Self.panelWidth + (rows % Self.panelWidth == 0 ? 0 : 1) }
    /// Columns rounded up to a whole number of blocks.
    public var paddedColumns: Int { blockCount * Self.blockLength }
    /// Blocks per panel.
    public var blockCount: Int { columns / Self.blockLength + (columns % Self.blockLength == 0 ? 0 : 1) }

    /// Bytes of the scale header of a quantized block (16 binary16 scales); 0 for float types.
    public var scaleByteCount: Int { storage.isQuantized ? 2 * Self.panelWidth : 0 }

    /// Bytes of one block of 16 lanes × 32 inputs, scales included.
    public var blockByteCount: Int { Self.blockByteCount(storage) }

    /// Bytes of one block for a storage type (its codec's ``StorageCodec/blockByteCount``; 0 for `bytes`).
    /// Inlined, so a constant argument folds to a constant.
    @inlinable
    public static func blockByteCount(_ storage: StorageType) -> Int {
        storage.withCodec(BlockByteCountLookup()) ?? 0
    }

    /// Bytes of one panel.
    public var panelByteCount: Int { blockCount * blockByteCount }

    /// Bytes of the whole matrix payload.
    public var byteCount: Int { panelCount * panelByteCount }

    /// Byte offset of block `block` of panel `panel` from the start of the payload.
    public func blockOffset(panel: Int, block: Int) -> Int {
        (panel * blockCount + block) * blockByteCount
    }

    private func totalByteCountChecked() -> Int? {
        let (padded, overflow1) = blockCount.multipliedReportingOverflow(by: blockByteCount)
        let (total, overflow2) = panelCount.multipliedReportingOverflow(by: padded)
        return overflow1 || overflow2 ? nil : total
    }
}

/// The visitor behind ``PanelGeometry/blockByteCount(_:)``.
@usableFromInline
struct BlockByteCountLookup: StorageCodecVisitor {
    @inlinable
    init() {}

    @inlinable
    func visit<Codec: StorageCodec>(_ codec: Codec.Type) -> Int { codec.blockByteCount }
}

/// Byte sizes of whole tensors, checked for overflow.
public enum TensorGeometry {
    /// The payload size of a tensor; `nil` when the combination is invalid (quantized row-major, panel
    /// layout not rank 2, non-positive dimension, `bytes` not rank 1) or the size overflows `Int`.
    public static func byteCount(shape: [Int], storage: StorageType, layout: TensorLayout) -> Int? {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else { return nil }
        switch layout {
        case .rowMajor:
            guard let elementBytes = storage.elementByteCount else { return nil }
            if storage == .bytes, shape.count != 1 { return nil }
            var total = elementBytes
            for dimension in shape {
                let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
                if overflow { return nil }
                total = product
            }
            return total
        case .panel16:
            guard shape.count == 2,
                  let geometry = PanelGeometry(rows: shape[0], columns: shape[1], storage: storage)
            else { return nil }
            return geometry.byteCount
        }
    }
}

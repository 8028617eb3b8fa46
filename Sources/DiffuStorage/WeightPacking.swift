/// Errors raised while encoding values into a storage type.
public enum StorageError: Error, Equatable, CustomStringConvertible {
    /// A value was NaN or infinite; quantized and half-precision payloads must be finite.
    case nonFiniteValue(index: Int)
    /// The geometry or buffer sizes do not agree.
    case sizeMismatch(expected: Int, actual: Int)
    /// The storage type cannot be used with this layout.
    case unsupportedLayout(StorageType, TensorLayout)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .nonFiniteValue(let index): "non-finite value at element \(index)"
        case .sizeMismatch(let expected, let actual): "size mismatch: expected \(expected), got \(actual)"
        case .unsupportedLayout(let storage, let layout): "storage \(storage) cannot use layout \(layout)"
        }
    }
}

/// Encodes f32 weight matrices into the ``TensorLayout/panel16`` byte layout and decodes them back.
///
/// The reference definition of the layout documented on ``PanelGeometry``: the panel and block walk is
/// here, each block's bytes are its storage type's codec's (``StorageCodec/encode(_:into:)``,
/// ``StorageCodec/decode(_:lane:count:into:)``, whose documentation gives the quantization rules and
/// error bounds). The converter quantizes with it, the kernels read what it writes, and the tests compare
/// the fast kernels with ``decodeRow(_:row:geometry:into:)``. GGUF Q8_0/Q4_0/Q5_0 blocks need no rounding:
/// the converter stores them unchanged with ``storeBlock(scaleBits:codes:row:block:geometry:into:)``.
public enum WeightPacking {
    /// Packs a row-major `[rows × columns]` f32 matrix into the panel layout.
    ///
    /// - Parameters:
    ///   - matrix: `rows * columns` values, row-major (row = output).
    ///   - geometry: the target geometry (storage type included).
    ///   - output: exactly `geometry.byteCount` bytes; every byte is written (padding is zero).
    /// - Throws: ``StorageError/nonFiniteValue(index:)`` for NaN/∞ input,
    ///   ``StorageError/sizeMismatch(expected:actual:)`` for wrong buffer sizes.
    public static func pack(
        _ matrix: UnsafeBufferPointer<Float>,
        geometry: PanelGeometry,
        into output: UnsafeMutableRawBufferPointer
    ) throws {
        let rows = geometry.rows, columns = geometry.columns
        guard matrix.count == rows * columns else {
            throw StorageError.sizeMismatch(expected: rows * columns, actual: matrix.count)
        }
        guard output.count == geometry.byteCount else {
            throw StorageError.sizeMismatch(expected: geometry.byteCount, actual: output.count)
        }
        if let bad = matrix.firstIndex(where: { !$0.isFinite }) {
            throw StorageError.nonFiniteValue(index: bad)
        }
        output.initializeMemory(as: UInt8.self, repeating: 0)
        _ = geometry.storage.withCodec(PanelEncoder(matrix: matrix, geometry: geometry, output: output))
    }

    /// Encodes every block of a matrix with one codec (``pack(_:geometry:into:)`` has checked the sizes
    /// and values).
    private struct PanelEncoder: StorageCodecVisitor {
        let matrix: UnsafeBufferPointer<Float>
        let geometry: PanelGeometry
        let output: UnsafeMutableRawBufferPointer

        func visit<Codec: StorageCodec>(_ codec: Codec.Type) {
            let rows = geometry.rows, columns = geometry.columns
            let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
            // One block gathered as tile[c][k] (lane-major), zero-padded.
            var tile = [Float](repeating: 0, count: width * length)
            tile.withUnsafeMutableBufferPointer { tile in
                for panel in 0..<geometry.panelCount {
                    for block in 0..<geometry.blockCount {
                        for c in 0..<width {
                            let row = panel * width + c
                            for k in 0..<length {
                                let column = block * length + k
                                tile[c * length + k] = (row < rows && column < columns) ? matrix[row * columns + column] : 0
                            }
                        }
                        let base = output.baseAddress! + geometry.blockOffset(panel: panel, block: block)
                        codec.encode(UnsafePointer(tile.baseAddress!), into: base)
                    }
                }
            }
        }
    }

    /// Stores one block that is already quantized, unchanged: the 32 inputs `32 · block …` of output `row`
    /// as the f16 scale `scaleBits` and the integer codes `codes` (value = scale × code), in a payload of an
    /// integer type (q8, q4: a ``ScaledIntegerCodec``). Nothing is rounded, so a source block of this form (GGUF Q8_0, Q4_0, Q5_0) keeps its
    /// exact values and bytes. The caller zero-fills the payload first (padding rows stay zero).
    /// - Precondition: `geometry.storage` is an integer type, every code lies in its ``StorageType/codeRange``,
    ///   `row` and `block` lie inside the geometry.
    public static func storeBlock(scaleBits: UInt16, codes: SIMD32<Int8>, row: Int, block: Int, geometry: PanelGeometry,
                                  into output: UnsafeMutableRawBufferPointer) {
        precondition(row >= 0 && row < geometry.rows && block >= 0 && block < geometry.blockCount)
        precondition(output.count >= geometry.byteCount)
        let width = PanelGeometry.panelWidth
        let base = output.baseAddress! + geometry.blockOffset(panel: row / width, block: block)
        let stored = geometry.storage.withCodec(CodeStore(scaleBits: scaleBits, codes: codes, lane: row % width, block: base))
        precondition(stored == true, "storeBlock writes blocks of the integer types (q8, q4) only")
    }

    /// Stores one lane's scale and codes with an integer codec; `false` for a float codec.
    private struct CodeStore: StorageCodecVisitor {
        let scaleBits: UInt16
        let codes: SIMD32<Int8>
        let lane: Int
        let block: UnsafeMutableRawPointer

        func visit<Codec: StorageCodec>(_ codec: Codec.Type) -> Bool {
            guard let integer = codec as? any ScaledIntegerCodec.Type else { return false }
            integer.storeScale(scaleBits, lane: lane, into: block)
            integer.storeCodes(codes, lane: lane, into: block)
            return true
        }
    }

    /// Decodes one logical row (output `row`, all `columns` inputs) of a panel-layout payload.
    ///
    /// The reference decoder (the codec's ``StorageCodec/decode(_:lane:count:into:)``, block by block, as
    /// ``WeightMatrix/decodeRow(_:into:)``). `payload` must hold `geometry.byteCount` bytes.
    public static func decodeRow(
        _ payload: UnsafeRawBufferPointer,
        row: Int,
        geometry: PanelGeometry,
        into output: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(row >= 0 && row < geometry.rows && output.count >= geometry.columns)
        precondition(payload.count >= geometry.byteCount)
        WeightMatrix(geometry: geometry, base: payload.baseAddress!).decodeRow(row, into: output.baseAddress!)
    }
}

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

/// Scalar conversions between binary32 and the 16-bit float formats.
public enum HalfPrecision {
    /// Rounds a binary32 to bfloat16 bits, to nearest with ties to even (NaN stays NaN).
    @inlinable
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    /// Widens bfloat16 bits to binary32 (exact).
    @inlinable
    public static func float(bfloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Rounds a binary32 to binary16 bits (IEEE round to nearest even).
    @inlinable
    public static func float16Bits(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// Widens binary16 bits to binary32 (exact).
    @inlinable
    public static func float(float16Bits bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }
}

/// Encodes f32 weight matrices into the ``TensorLayout/panel16`` byte layout and decodes them back.
///
/// This is the reference definition of the layout documented on ``PanelGeometry``: the converter
/// quantizes with it, the kernels read what it writes, and the tests compare the fast kernels with
/// ``decodeRow(_:row:geometry:into:)``.
///
/// Quantization (llama.cpp's reference Q8_0/Q4_0 rounding; GGUF Q8_0/Q4_0/Q5_0 blocks need none: the
/// converter stores them unchanged with ``storeBlock(scaleBits:codes:row:block:geometry:into:)``):
/// - `q8`: `d = amax / 127`, `q = round(x / d)` (half away from zero), scale stored as f16.
///   Error bound per value: `|x − x̂| ≤ amax/254 + amax·2⁻¹¹` (rounding, plus the f16 scale).
/// - `q4`: `m` = the value of largest magnitude (sign kept), `d = m / −8`,
///   `q = min(15, trunc(x / d + 8.5)) − 8`, scale stored as f16. Error bound per value:
///   `|x − x̂| ≤ amax/16 + amax·2⁻¹⁰` for values of the sign of `m`, and `≤ amax/8` at worst for values
///   of the opposite sign near `−m` (the int4 range is asymmetric).
/// - `f16`/`bf16`: round to nearest even; relative error ≤ 2⁻¹¹ / 2⁻⁸ (normal range).
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
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        // One block gathered as tile[c][k] (lane-major), zero-padded.
        var tile = [Float](repeating: 0, count: width * length)
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
                encodeBlock(tile, storage: geometry.storage, into: base)
            }
        }
    }

    /// `1 / d` as llama.cpp's quantizers take it (0 for a zero scale), and 0 where it overflows: a
    /// scale below ~3·10⁻³⁹ has an infinite inverse (whose codes would not be integers) and is 0 once
    /// stored as f16 anyway, so the block decodes to zeros either way.
    @inline(__always)
    static func inverseScale(_ d: Float) -> Float {
        let inverse = 1 / d
        return d == 0 || !inverse.isFinite ? 0 : inverse
    }

    /// Encodes one block given as `tile[c * 32 + k]` (lane-major) into its byte layout at `base`.
    private static func encodeBlock(_ tile: [Float], storage: StorageType, into base: UnsafeMutableRawPointer) {
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        switch storage {
        case .f32:
            for k in 0..<length {
                for c in 0..<width { base.storeBytes(of: tile[c * length + k], toByteOffset: 4 * (k * width + c), as: Float.self) }
            }
        case .f16:
            for k in 0..<length {
                for c in 0..<width {
                    base.storeBytes(of: HalfPrecision.float16Bits(tile[c * length + k]), toByteOffset: 2 * (k * width + c), as: UInt16.self)
                }
            }
        case .bf16:
            for k in 0..<length {
                for c in 0..<width {
                    base.storeBytes(of: HalfPrecision.bfloat16Bits(tile[c * length + k]), toByteOffset: 2 * (k * width + c), as: UInt16.self)
                }
            }
        case .q8:
            for c in 0..<width {
                var amax: Float = 0
                for k in 0..<length { amax = max(amax, abs(tile[c * length + k])) }
                let d = amax / 127
                let inverse = inverseScale(d)
                base.storeBytes(of: HalfPrecision.float16Bits(d), toByteOffset: 2 * c, as: UInt16.self)
                for k in 0..<length {
                    let q = Int8((tile[c * length + k] * inverse).rounded(.toNearestOrAwayFromZero))
                    base.storeBytes(of: q, toByteOffset: 32 + k * width + c, as: Int8.self)
                }
            }
        case .q4:
            for c in 0..<width {
                var amax: Float = 0, signedMax: Float = 0
                for k in 0..<length {
                    let value = tile[c * length + k]
                    if abs(value) > amax { amax = abs(value); signedMax = value }
                }
                let d = signedMax / -8
                let inverse = inverseScale(d)
                base.storeBytes(of: HalfPrecision.float16Bits(d), toByteOffset: 2 * c, as: UInt16.self)
                for j in 0..<(length / 2) {
                    let low = min(15, UInt8(tile[c * length + j] * inverse + 8.5))
                    let high = min(15, UInt8(tile[c * length + j + 16] * inverse + 8.5))
                    base.storeBytes(of: low | (high << 4), toByteOffset: 32 + j * width + c, as: UInt8.self)
                }
            }
        case .bytes:
            preconditionFailure("bytes has no panel layout; PanelGeometry rejects it")
        }
    }

    /// Stores one block that is already quantized, unchanged: the 32 inputs `32 · block …` of output `row`
    /// as the f16 scale `scaleBits` and the integer codes `codes` (value = scale × code), in a q8 or q4
    /// payload. Nothing is rounded, so a source block of this form (GGUF Q8_0, Q4_0, Q5_0) keeps its
    /// exact values and bytes. The caller zero-fills the payload first (padding rows stay zero).
    /// - Precondition: `geometry.storage` is q8 or q4, every code lies in its ``StorageType/codeRange``,
    ///   `row` and `block` lie inside the geometry.
    public static func storeBlock(scaleBits: UInt16, codes: SIMD32<Int8>, row: Int, block: Int, geometry: PanelGeometry,
                                  into output: UnsafeMutableRawBufferPointer) {
        precondition(row >= 0 && row < geometry.rows && block >= 0 && block < geometry.blockCount)
        precondition(output.count >= geometry.byteCount)
        let width = PanelGeometry.panelWidth, c = row % width
        let base = output.baseAddress! + geometry.blockOffset(panel: row / width, block: block)
        base.storeBytes(of: scaleBits, toByteOffset: 2 * c, as: UInt16.self)
        switch geometry.storage {
        case .q8:
            for k in 0..<PanelGeometry.blockLength { base.storeBytes(of: codes[k], toByteOffset: 32 + k * width + c, as: Int8.self) }
        case .q4:
            precondition(codes.min() >= -8 && codes.max() <= 7, "q4 codes lie in -8...7")
            for j in 0..<(PanelGeometry.blockLength / 2) {
                let low = UInt8(codes[j] + 8), high = UInt8(codes[j + 16] + 8)
                base.storeBytes(of: low | (high << 4), toByteOffset: 32 + j * width + c, as: UInt8.self)
            }
        case .f32, .f16, .bf16, .bytes:
            preconditionFailure("storeBlock writes q8 or q4 blocks only")
        }
    }

    /// Decodes one logical row (output `row`, all `columns` inputs) of a panel-layout payload.
    ///
    /// Reference decoder: scalar and simple on purpose. `payload` must hold `geometry.byteCount` bytes.
    public static func decodeRow(
        _ payload: UnsafeRawBufferPointer,
        row: Int,
        geometry: PanelGeometry,
        into output: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(row >= 0 && row < geometry.rows && output.count >= geometry.columns)
        precondition(payload.count >= geometry.byteCount)
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        let panel = row / width, c = row % width
        for column in 0..<geometry.columns {
            let block = column / length, k = column % length
            let base = payload.baseAddress! + geometry.blockOffset(panel: panel, block: block)
            let value: Float
            switch geometry.storage {
            case .f32:
                value = base.loadUnaligned(fromByteOffset: 4 * (k * width + c), as: Float.self)
            case .f16:
                value = HalfPrecision.float(float16Bits: base.loadUnaligned(fromByteOffset: 2 * (k * width + c), as: UInt16.self))
            case .bf16:
                value = HalfPrecision.float(bfloat16Bits: base.loadUnaligned(fromByteOffset: 2 * (k * width + c), as: UInt16.self))
            case .q8:
                let d = HalfPrecision.float(float16Bits: base.loadUnaligned(fromByteOffset: 2 * c, as: UInt16.self))
                value = d * Float(base.load(fromByteOffset: 32 + k * width + c, as: Int8.self))
            case .q4:
                let d = HalfPrecision.float(float16Bits: base.loadUnaligned(fromByteOffset: 2 * c, as: UInt16.self))
                let byte = base.load(fromByteOffset: 32 + (k % 16) * width + c, as: UInt8.self)
                let nibble = k < 16 ? byte & 0x0F : byte >> 4
                value = d * Float(Int(nibble) - 8)
            case .bytes:
                preconditionFailure("bytes has no panel layout")
            }
            output[column] = value
        }
    }
}

import DiffuGGUF
import DiffuStorage

/// The route that keeps a GGUF's `d · q` blocks (Q8_0, Q4_0, Q5_0) unchanged when the target storage can
/// hold their codes, instead of decoding them to f32 and quantizing again.
///
/// Layout mapping. A ggml quantized matrix of (PyTorch) shape `[N, K]` stores row `n` as `K / 32`
/// consecutive blocks, block `b` covering inputs `32 b ..< 32 b + 32`. Diffu's q8/q4 `panel16` layout
/// (`DiffuStorage.PanelGeometry`) cuts each row into the same blocks of 32 inputs: row `n` is lane
/// `n % 16` of panel `n / 16`, and block `b` of that panel holds the lane's f16 scale at byte `2 · lane`
/// and its 32 codes interleaved with the other 15 lanes' codes. Both formats say value = f16 scale ×
/// integer code, so each GGUF block maps to one (lane, block) slot, its scale bits copied as they are:
/// - Q8_0 (`d`, 32 × int8 `q`) → q8 (`d`, `q` at byte `32 + k · 16 + lane`): the same numbers, any int8.
/// - Q4_0 (`d`, nibbles `u`, value `d · (u − 8)`) → q4 (`d`, nibble `q + 8`): byte `j` of the GGUF block
///   and byte `32 + j · 16 + lane` of the panel block hold the same two nibbles (input `j` in the low
///   one, input `j + 16` in the high one).
/// - Q4_0 → q8 and Q5_0 (`d`, codes −16…15) → q8: the codes fit in int8 under the same f16 scale.
///
/// Q8_0 or Q5_0 → q4 cannot fit (codes beyond −8…7), and blocks with a minimum (Q4_1, Q5_1) or with
/// sub-block scales (the K-quants) have no single-scale form: those take the decode-and-quantize route.
///
/// Why not always decode and re-quantize: Diffu's quantizer recomputes each scale from the block's
/// largest magnitude. That gives back the source's bytes only when the source's quantizer put that
/// value exactly at +127/−127 (Q8_0) or −8 (Q4_0), which llama.cpp's reference quantizer does but
/// importance-matrix quantizations, blocks with a negative scale or codes of −128, and hand-made blocks
/// do not; then the second rounding changes the weights.
struct BlockCopy {
    /// The tensor being copied.
    let tensor: PlannedTensor
    /// How its blocks are read.
    let codes: GGMLScaledCodes
    /// Bytes per source block.
    let blockByteCount: Int

    /// The copy route for `tensor` stored as `storage`; `nil` when it does not apply (see the type's
    /// documentation): the tensor must be a matrix whose transform only reorders rows.
    init?(_ tensor: PlannedTensor, storage: StorageType) {
        guard tensor.kind == .matrix, tensor.supportsRowChunks, tensor.shape == tensor.source.shape,
              let type = tensor.source.elementType, type.blockLength == PanelGeometry.blockLength,
              let codes = type.traits.scaledCodes, let target = storage.codeRange,
              target.contains(codes.codeRange.lowerBound), target.contains(codes.codeRange.upperBound)
        else { return nil }
        self.tensor = tensor
        self.codes = codes
        self.blockByteCount = type.blockByteCount
    }

    /// Stores canonical rows `rows` into `destination`, the zero-filled payload of `geometry`. `rows`
    /// must hold whole RoPE heads (the converter's chunks do), so that their source rows are the same range.
    /// - Throws: ``ConvertError/nonFiniteValue(tensor:index:)`` for a block whose scale is NaN or
    ///   infinite (the index of its first value, as the decode route reports it), I/O errors.
    func store(rows: Range<Int>, geometry: PanelGeometry, into destination: UnsafeMutableRawBufferPointer) throws {
        let bytes = try tensor.source.readEncodedRows(rows)
        let columns = tensor.shape[1], blocksPerRow = columns / PanelGeometry.blockLength
        // Visit the source in file order, so the first bad scale reported is the decode route's.
        var canonicalRow = [Int](repeating: 0, count: rows.count)
        for row in rows {
            let sourceRow = tensor.sourceRow(ofCanonicalRow: row)
            precondition(rows.contains(sourceRow), "a chunk holds whole RoPE heads")
            canonicalRow[sourceRow - rows.lowerBound] = row
        }
        try bytes.withUnsafeBytes { raw in
            for (offset, row) in canonicalRow.enumerated() {
                for block in 0..<blocksPerRow {
                    let (scaleBits, values) = codes.read(raw.baseAddress! + (offset * blocksPerRow + block) * blockByteCount)
                    guard HalfPrecision.float(float16Bits: scaleBits).isFinite else {
                        throw ConvertError.nonFiniteValue(tensor: tensor.source.name,
                                                          index: (rows.lowerBound + offset) * columns + block * PanelGeometry.blockLength)
                    }
                    WeightPacking.storeBlock(scaleBits: scaleBits, codes: values, row: row, block: block, geometry: geometry, into: destination)
                }
            }
        }
    }
}

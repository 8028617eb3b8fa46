import DiffuStorage

/// Token-embedding lookup from a panel-layout matrix.
public enum Embedding {
    /// Decodes rows of `table` into f32: `output[i, :] = table[rows[i], :]`.
    ///
    /// Layout: `table` is ``DiffuStorage/TensorLayout/panel16`` of any storage type (row `n` is lane
    /// `n % 16` of panel `n / 16`; inside a block, input `k` of lane `c` is element `k·16 + c`, quantized
    /// types after the 16 f16 scales); `output` is row-major `[rowCount × table.columns]`.
    /// Every `rows[i]` must be in `0..<table.rows` (callers validate token ids first).
    public static func gather(
        _ table: WeightMatrix,
        rows: UnsafePointer<Int32>,
        rowCount: Int,
        into output: UnsafeMutablePointer<Float>,
        threads: Int
    ) {
        let columns = table.columns
        Normalization.forEachRowChunk(rowCount: rowCount, width: columns, threads: threads) { range in
            for index in range {
                let row = Int(rows[index])
                precondition(row >= 0 && row < table.rows, "embedding row out of range")
                decodeRow(table, row: row, into: output + index * columns)
            }
        }
    }

    /// Decodes one logical row of a panel-layout matrix (all `columns` values) into `output`.
    public static func decodeRow(_ table: WeightMatrix, row: Int, into output: UnsafeMutablePointer<Float>) {
        let geometry = table.geometry
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        let panel = row / width, lane = row % width
        let columns = geometry.columns
        for block in 0..<geometry.blockCount {
            let base = table.base + geometry.blockOffset(panel: panel, block: block)
            let start = block * length
            let count = min(length, columns - start)
            let out = output + start
            switch geometry.storage {
            case .f32:
                for k in 0..<count { out[k] = base.loadUnaligned(fromByteOffset: 4 * (k * width + lane), as: Float.self) }
            case .f16:
                for k in 0..<count {
                    out[k] = Arithmetic.float(fromHalf: base.loadUnaligned(fromByteOffset: 2 * (k * width + lane), as: UInt16.self))
                }
            case .bf16:
                for k in 0..<count {
                    let bits = base.loadUnaligned(fromByteOffset: 2 * (k * width + lane), as: UInt16.self)
                    out[k] = Float(bitPattern: UInt32(bits) << 16)
                }
            case .q8:
                let scale = Arithmetic.float(fromHalf: base.loadUnaligned(fromByteOffset: 2 * lane, as: UInt16.self))
                for k in 0..<count { out[k] = scale * Float(base.load(fromByteOffset: 32 + k * width + lane, as: Int8.self)) }
            case .q4:
                let scale = Arithmetic.float(fromHalf: base.loadUnaligned(fromByteOffset: 2 * lane, as: UInt16.self))
                for k in 0..<count {
                    let byte = base.load(fromByteOffset: 32 + (k % 16) * width + lane, as: UInt8.self)
                    let nibble = k < 16 ? byte & 0x0F : byte >> 4
                    out[k] = scale * Float(Int(nibble) - 8)
                }
            case .bytes:
                preconditionFailure("bytes tensors are not matrices")
            }
        }
    }
}

import DiffuStorage

/// Token-embedding lookup from a panel-layout matrix.
public enum Embedding {
    /// Decodes rows of `table` into f32: `output[i, :] = table[rows[i], :]`.
    ///
    /// Layout: `table` is ``DiffuStorage/TensorLayout/panel16`` of any storage type (row `n` is lane
    /// `n % 16` of panel `n / 16`; each block decoded by the type's codec); `output` is row-major
    /// `[rowCount × table.columns]`.
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

    /// Decodes one logical row of a panel-layout matrix (all `columns` values) into `output`, with the
    /// storage type's codec (``DiffuStorage/WeightMatrix/decodeRow(_:into:)``, the reference decoder).
    public static func decodeRow(_ table: WeightMatrix, row: Int, into output: UnsafeMutablePointer<Float>) {
        table.decodeRow(row, into: output)
    }
}

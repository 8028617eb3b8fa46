/// How one canonical tensor is computed from one source tensor.
public enum TensorTransform: Sendable, Equatable {
    /// The source, unchanged (same shape).
    case identity
    /// The transpose of a rank-2 source `[a, b]` → `[b, a]` (GPT-2 `Conv1D` weights are `[in, out]`).
    case transpose
    /// Rows `rows` of the transpose of a rank-2 source `[in, out]`: GPT-2's fused `c_attn` weight
    /// `[hidden, 3·hidden]` split into Q, K and V `[hidden, hidden]`.
    case transposeRows(Range<Int>)
    /// Elements `range` of a rank-1 source (GPT-2's fused `c_attn` bias).
    case slice(Range<Int>)
    /// Undo llama.cpp's RoPE row permutation of a GGUF LLaMA Q or K matrix with `headCount` heads.
    ///
    /// llama.cpp's `convert_hf_to_gguf.py` (`LlamaModel.permute`) reorders each head's `d` rows from the
    /// Hugging Face half-split order to interleaved pairs: viewing a head's rows as `[2, d/2]` it swaps
    /// the two axes, so GGUF row `2·i + j` holds Hugging Face row `j·d/2 + i` (`i < d/2`, `j < 2`).
    /// The inverse, applied here: canonical row `j·d/2 + i` of each head = GGUF row `2·i + j`.
    case unpermuteRoPE(headCount: Int)
}

/// One tensor of the converted model: its canonical name and shape, and where its values come from.
public struct PlannedTensor: Sendable {
    /// Whether the tensor is stored as a panel matrix or as an f32 row-major vector/table.
    public enum Kind: Sendable, Equatable {
        /// A weight matrix `[N outputs, K inputs]`, stored `panel16` in the recipe's storage type.
        case matrix
        /// A vector (norm weight, bias) or GPT-2's position table: always f32 row-major.
        case vector
    }

    /// Canonical name (see `DiffuModels.ModelWeights`).
    public let name: String
    /// Canonical shape.
    public let shape: [Int]
    /// Matrix or vector.
    public let kind: Kind
    /// The source tensor.
    public let source: SourceTensor
    /// How the values are derived from the source.
    public let transform: TensorTransform

    /// Creates a planned tensor.
    public init(name: String, shape: [Int], kind: Kind, source: SourceTensor, transform: TensorTransform) {
        self.name = name
        self.shape = shape
        self.kind = kind
        self.source = source
        self.transform = transform
    }

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }

    /// The source shape this transform needs to produce `shape`, for validation.
    func expectedSourceShape() -> [Int]? {
        switch transform {
        case .identity: return shape
        case .transpose: return shape.count == 2 ? [shape[1], shape[0]] : nil
        case .transposeRows: return nil  // checked by the architecture (the fused width)
        case .slice: return nil
        case .unpermuteRoPE: return shape
        }
    }

    /// Whether ``readRows(_:)`` can produce this tensor in pieces (so a huge tensor never needs both its
    /// full f32 copy and its encoded copy at once).
    public var supportsRowChunks: Bool {
        switch transform {
        case .identity, .unpermuteRoPE: shape.count == 2
        default: false
        }
    }

    /// The row granularity of chunks: row ranges passed to ``readRows(_:)`` must start at a multiple of it.
    public var rowChunkAlignment: Int {
        if case .unpermuteRoPE(let heads) = transform { return shape[0] / heads }
        return 1
    }

    /// The source row canonical row `row` comes from, for the transforms that only reorder rows
    /// (``supportsRowChunks``): itself, or under ``TensorTransform/unpermuteRoPE(headCount:)`` GGUF row
    /// `2·i + j` of the same head for canonical row `j·d/2 + i`.
    public func sourceRow(ofCanonicalRow row: Int) -> Int {
        precondition(supportsRowChunks)
        guard case .unpermuteRoPE(let heads) = transform else { return row }
        let headDimension = shape[0] / heads, half = headDimension / 2
        let within = row % headDimension
        return row - within + 2 * (within % half) + within / half
    }

    /// Computes canonical rows `rows` (row-major f32). Only for tensors with ``supportsRowChunks``;
    /// `rows.lowerBound` must be a multiple of ``rowChunkAlignment`` and `rows.count` too unless the
    /// range ends at the last row.
    public func readRows(_ rows: Range<Int>) throws -> [Float] {
        precondition(supportsRowChunks)
        let values = try source.readFloats(rows: rows)
        if case .unpermuteRoPE(let heads) = transform {
            return Self.unpermuteRoPE(values, rows: rows.count, columns: shape[1], headDimension: shape[0] / heads)
        }
        return values
    }

    /// Computes the whole canonical tensor (row-major f32) from the already-decoded source values.
    public func materialize(from sourceValues: [Float]) -> [Float] {
        switch transform {
        case .identity:
            return sourceValues
        case .transpose:
            return Self.transposedRows(sourceValues, sourceRows: source.shape[0], sourceColumns: source.shape[1], rows: 0..<source.shape[1])
        case .transposeRows(let rows):
            return Self.transposedRows(sourceValues, sourceRows: source.shape[0], sourceColumns: source.shape[1], rows: rows)
        case .slice(let range):
            return Array(sourceValues[range])
        case .unpermuteRoPE(let heads):
            return Self.unpermuteRoPE(sourceValues, rows: shape[0], columns: shape[1], headDimension: shape[0] / heads)
        }
    }

    /// Rows `rows` of the transpose of a row-major `[sourceRows, sourceColumns]` matrix: output row `r`
    /// is source column `rows.lowerBound + r`.
    static func transposedRows(_ values: [Float], sourceRows: Int, sourceColumns: Int, rows: Range<Int>) -> [Float] {
        var output = [Float](repeating: 0, count: rows.count * sourceRows)
        values.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { result in
                for (outputRow, column) in rows.enumerated() {
                    for row in 0..<sourceRows {
                        result[outputRow * sourceRows + row] = input[row * sourceColumns + column]
                    }
                }
            }
        }
        return output
    }

    /// Inverse of llama.cpp's Q/K permutation on whole heads (`rows` a multiple of `headDimension`):
    /// within each head, output row `j·d/2 + i` = input row `2·i + j`.
    static func unpermuteRoPE(_ values: [Float], rows: Int, columns: Int, headDimension: Int) -> [Float] {
        precondition(rows % headDimension == 0 && headDimension % 2 == 0)
        let half = headDimension / 2
        var output = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { result in
                for head in 0..<(rows / headDimension) {
                    let base = head * headDimension
                    for i in 0..<half {
                        for j in 0..<2 {
                            let from = (base + 2 * i + j) * columns
                            let to = (base + j * half + i) * columns
                            for column in 0..<columns { result[to + column] = input[from + column] }
                        }
                    }
                }
            }
        }
        return output
    }
}

import DiffuGGUF
import DiffuStorage

/// How a source tensor's elements are encoded in its file: a ggml type. Safetensors' `F32`, `F16` and
/// `BF16` are the same little-endian encodings as ggml's, so both importers describe their tensors with
/// it, and every decode goes through the type's ``GGMLTypeTraits/dequantize`` (one row per type, in
/// `DiffuGGUF`). A tensor whose type has no dequantizer has no element type (see ``SourceTensor/unsupported``).
public typealias SourceElementType = GGMLType

/// One tensor of a source checkpoint: where its bytes are and how to turn them into f32.
///
/// `shape` is in PyTorch order (outermost first, the last dimension contiguous). GGUF tensors are
/// described with their ggml dimensions reversed, so `shape` means the same for both sources.
public struct SourceTensor: Sendable {
    /// The tensor's name in the source (safetensors key or GGUF name).
    public let name: String
    /// Logical shape, outermost dimension first.
    public let shape: [Int]
    /// The element encoding; `nil` when the source uses one Diffu cannot read (then `unsupported`
    /// says why, and reading throws it — skipped buffers with odd dtypes do not stop a conversion).
    public let elementType: SourceElementType?
    /// The error reading this tensor throws when `elementType` is `nil`.
    public let unsupported: ConvertError?
    /// The file holding the bytes.
    public let file: SourceFile
    /// Absolute byte offset of the first element in `file`.
    public let offset: Int
    /// Byte length of the data.
    public let byteCount: Int

    /// Creates a description of a tensor whose bounds the caller has validated.
    public init(name: String, shape: [Int], elementType: SourceElementType?, unsupported: ConvertError? = nil,
                file: SourceFile, offset: Int, byteCount: Int) {
        self.name = name
        self.shape = shape
        self.elementType = elementType
        self.unsupported = unsupported
        self.file = file
        self.offset = offset
        self.byteCount = byteCount
    }

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }
    /// Rows: the outermost dimension (the element count for rank 1).
    public var rowCount: Int { shape.first ?? 1 }
    /// Elements per row (product of the inner dimensions; 1 for rank 1).
    public var rowLength: Int { shape.dropFirst().reduce(1, *) }

    /// Asks the kernel to start reading this tensor's bytes (`posix_fadvise(WILLNEED)`), so that the disk
    /// works while the previous tensor is being encoded.
    public func prefetch() { file.adviseWillNeed(offset: offset, count: byteCount) }

    /// Reads and decodes the whole tensor to f32, row-major.
    public func readFloats() throws -> [Float] {
        try readFloats(rows: 0..<rowCount)
    }

    /// Reads and decodes rows `rows` of the outermost dimension to f32 (row-major, `rows.count × rowLength`).
    ///
    /// Reads go through a bounded scratch buffer, so memory is the f32 result plus at most 8 MB.
    /// - Throws: the tensor's unsupported-type error, I/O errors, ``ConvertError/nonFiniteValue(tensor:index:)``.
    public func readFloats(rows: Range<Int>) throws -> [Float] {
        let (elementType, dequantize) = try decoder()
        let count = rows.count * rowLength
        var output = [Float](repeating: 0, count: count)
        guard count > 0 else { return output }
        let range = byteRange(rows: rows, type: elementType)
        let blockBytes = elementType.blockByteCount, blockLength = elementType.blockLength
        let chunkBlocks = max(1, (8 << 20) / blockBytes)
        var scratch = [UInt8](repeating: 0, count: min(range.count, chunkBlocks * blockBytes))
        try output.withUnsafeMutableBufferPointer { destination in
            try scratch.withUnsafeMutableBytes { raw in
                var position = range.lowerBound, produced = 0
                while position < range.upperBound {
                    let bytes = min(raw.count, range.upperBound - position)
                    let slice = UnsafeMutableRawBufferPointer(rebasing: raw[0..<bytes])
                    try file.read(into: slice, at: position)
                    let values = min(bytes / blockBytes * blockLength, count - produced)
                    Self.decode(UnsafeRawBufferPointer(slice), type: elementType, dequantize: dequantize,
                                into: UnsafeMutableBufferPointer(rebasing: destination[produced..<(produced + values)]))
                    produced += values
                    position += bytes
                }
            }
            if let bad = destination.firstIndex(where: { !$0.isFinite }) {
                throw ConvertError.nonFiniteValue(tensor: name, index: rows.lowerBound * rowLength + bad)
            }
        }
        return output
    }

    /// Reads the encoded bytes of rows `rows` (whole blocks: for a rank-2 tensor, each row is a run of
    /// blocks), for routes that keep a source's blocks instead of decoding them.
    /// - Throws: the tensor's unsupported-type error, I/O errors.
    public func readEncodedRows(_ rows: Range<Int>) throws -> [UInt8] {
        let (elementType, _) = try decoder()
        let range = byteRange(rows: rows, type: elementType)
        return try file.read(count: range.count, at: range.lowerBound)
    }

    /// The element type and its dequantizer, or the error reading this tensor throws.
    private func decoder() throws -> (SourceElementType, GGMLTypeTraits.Dequantizer) {
        guard let elementType, let dequantize = elementType.traits.dequantize else {
            throw unsupported ?? ConvertError.unsupportedDataType(tensor: name, dataType: elementType?.description ?? "unknown")
        }
        return (elementType, dequantize)
    }

    /// The bytes of rows `rows` in the file. Rows hold whole blocks (GGUF: `ne[0]` is a multiple of the
    /// block length, checked by the parser), so a row range is one contiguous byte range; a rank-1
    /// quantized tensor is one run of blocks, read whole.
    private func byteRange(rows: Range<Int>, type: SourceElementType) -> Range<Int> {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= rowCount, "row range outside the tensor")
        let length = rowLength
        guard length % type.blockLength == 0 else {
            precondition(rows == 0..<rowCount, "a rank-1 quantized tensor is read whole")
            return offset..<(offset + byteCount)
        }
        let rowBytes = length / type.blockLength * type.blockByteCount
        return (offset + rows.lowerBound * rowBytes)..<(offset + rows.upperBound * rowBytes)
    }

    /// Decodes `output.count` values from `bytes`, which hold at least that many in whole blocks (a last
    /// partial block is decoded whole into a scratch block and cut).
    static func decode(_ bytes: UnsafeRawBufferPointer, type: SourceElementType, dequantize: GGMLTypeTraits.Dequantizer,
                       into output: UnsafeMutableBufferPointer<Float>) {
        guard let source = bytes.baseAddress, let destination = output.baseAddress else { return }
        let length = type.blockLength
        let whole = output.count / length, rest = output.count % length
        if whole > 0 { dequantize(source, whole, destination) }
        guard rest > 0 else { return }
        var block = [Float](repeating: 0, count: length)
        block.withUnsafeMutableBufferPointer { dequantize(source + whole * type.blockByteCount, 1, $0.baseAddress!) }
        for index in 0..<rest { destination[whole * length + index] = block[index] }
    }
}

import DiffuStorage

/// How a source tensor's elements are encoded in its file.
public enum SourceElementType: Sendable, Equatable, CustomStringConvertible {
    /// IEEE binary32 (safetensors `F32`, ggml `F32`).
    case f32
    /// IEEE binary16 (safetensors `F16`, ggml `F16`).
    case f16
    /// bfloat16 (safetensors `BF16`, ggml `BF16`).
    case bf16
    /// ggml `Q8_0`: blocks of 32 values, 34 bytes: f16 scale `d`, 32 × int8 `q`; value = `d·q`.
    case q8_0
    /// ggml `Q4_0`: blocks of 32 values, 18 bytes: f16 scale `d`, 16 bytes whose low nibbles are values
    /// 0…15 and high nibbles values 16…31; value = `d·(nibble − 8)`.
    case q4_0
    /// ggml `Q4_1`: blocks of 32 values, 20 bytes: f16 scale `d`, f16 minimum `m`, 16 bytes of nibbles as
    /// in `Q4_0`; value = `d·nibble + m`.
    case q4_1

    /// Values per block (1 for the float types).
    public var blockLength: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q8_0, .q4_0, .q4_1: 32
        }
    }

    /// Bytes per block.
    public var blockByteCount: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q8_0: 34
        case .q4_0: 18
        case .q4_1: 20
        }
    }

    /// The name used by safetensors (float types) or ggml (quantized types).
    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .q8_0: "Q8_0"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        }
    }
}

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
        guard let elementType else {
            throw unsupported ?? ConvertError.unsupportedDataType(tensor: name, dataType: "unknown")
        }
        precondition(rows.lowerBound >= 0 && rows.upperBound <= rowCount, "row range outside the tensor")
        let length = rowLength
        let count = rows.count * length
        var output = [Float](repeating: 0, count: count)
        guard count > 0 else { return output }
        // Rows hold whole blocks (GGUF: ne[0] is a multiple of the block length, checked by the parser;
        // rank-1 quantized tensors are read whole), so the row range is one contiguous byte range.
        let blocksPerRow = max(1, length / elementType.blockLength)
        let rowBytes = length % elementType.blockLength == 0
            ? blocksPerRow * elementType.blockByteCount
            : 0
        let (start, end): (Int, Int)
        if rowBytes > 0 {
            start = offset + rows.lowerBound * rowBytes
            end = offset + rows.upperBound * rowBytes
        } else {
            // Rank 1 with a quantized type: the whole tensor is one run of blocks.
            precondition(rows == 0..<rowCount)
            start = offset
            end = offset + byteCount
        }
        let blockBytes = elementType.blockByteCount, blockLength = elementType.blockLength
        let chunkBlocks = max(1, (8 << 20) / blockBytes)
        var scratch = [UInt8](repeating: 0, count: min(end - start, chunkBlocks * blockBytes))
        try output.withUnsafeMutableBufferPointer { destination in
            try scratch.withUnsafeMutableBytes { raw in
                var position = start, produced = 0
                while position < end {
                    let bytes = min(raw.count, end - position)
                    let slice = UnsafeMutableRawBufferPointer(rebasing: raw[0..<bytes])
                    try file.read(into: slice, at: position)
                    let blocks = bytes / blockBytes
                    let values = min(blocks * blockLength, count - produced)
                    Self.decode(UnsafeRawBufferPointer(slice), type: elementType,
                                into: UnsafeMutableBufferPointer(rebasing: destination[produced..<(produced + values)]))
                    produced += values
                    position += bytes
                }
            }
            if let bad = destination.firstIndex(where: { !$0.isFinite }) {
                throw ConvertError.nonFiniteValue(tensor: name, index: rows.lowerBound * length + bad)
            }
        }
        return output
    }

    /// Decodes `output.count` values from `bytes` (which hold at least that many, in whole blocks).
    ///
    /// The quantized decoders compute exactly what llama.cpp's reference `dequantize_row_*` (and the
    /// `gguf` Python package) compute: the f16 scale widened to f32, then one f32 multiply (and add).
    static func decode(_ bytes: UnsafeRawBufferPointer, type: SourceElementType, into output: UnsafeMutableBufferPointer<Float>) {
        let base = bytes.baseAddress!
        switch type {
        case .f32:
            for index in 0..<output.count {
                output[index] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))
            }
        case .f16:
            for index in 0..<output.count {
                output[index] = HalfPrecision.float(float16Bits: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)))
            }
        case .bf16:
            for index in 0..<output.count {
                output[index] = HalfPrecision.float(bfloat16Bits: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)))
            }
        case .q8_0:
            var index = 0, block = 0
            while index < output.count {
                let blockBase = base + block * 34
                let scale = HalfPrecision.float(float16Bits: UInt16(littleEndian: blockBase.loadUnaligned(as: UInt16.self)))
                for j in 0..<min(32, output.count - index) {
                    output[index + j] = scale * Float(blockBase.load(fromByteOffset: 2 + j, as: Int8.self))
                }
                index += 32
                block += 1
            }
        case .q4_0:
            var index = 0, block = 0
            while index < output.count {
                let blockBase = base + block * 18
                let scale = HalfPrecision.float(float16Bits: UInt16(littleEndian: blockBase.loadUnaligned(as: UInt16.self)))
                for j in 0..<16 {
                    let byte = blockBase.load(fromByteOffset: 2 + j, as: UInt8.self)
                    if index + j < output.count { output[index + j] = scale * Float(Int(byte & 0x0F) - 8) }
                    if index + j + 16 < output.count { output[index + j + 16] = scale * Float(Int(byte >> 4) - 8) }
                }
                index += 32
                block += 1
            }
        case .q4_1:
            var index = 0, block = 0
            while index < output.count {
                let blockBase = base + block * 20
                let scale = HalfPrecision.float(float16Bits: UInt16(littleEndian: blockBase.loadUnaligned(as: UInt16.self)))
                let minimum = HalfPrecision.float(float16Bits: UInt16(littleEndian: blockBase.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
                for j in 0..<16 {
                    let byte = blockBase.load(fromByteOffset: 4 + j, as: UInt8.self)
                    if index + j < output.count { output[index + j] = scale * Float(byte & 0x0F) + minimum }
                    if index + j + 16 < output.count { output[index + j + 16] = scale * Float(byte >> 4) + minimum }
                }
                index += 32
                block += 1
            }
        }
    }
}

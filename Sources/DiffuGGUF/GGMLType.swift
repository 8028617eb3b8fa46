import DiffuStorage

/// The ggml tensor types Diffu knows (codes as written in GGUF tensor infos).
///
/// What Diffu knows about a type (its name, its block geometry, how to dequantize it, whether its blocks
/// are plain scale × integer codes) is the type's row of ``traits``. That row is the one place where a
/// ggml block layout is described. The layouts are those of llama.cpp's `ggml-common.h` block structs,
/// and the arithmetic is that of its reference `dequantize_row_*` and of the `gguf` Python package's
/// `gguf.quants.dequantize`.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    /// f32
    case f32 = 0
    /// f16
    case f16 = 1
    /// 32 values: f16 scale + 16 bytes of nibbles.
    case q4_0 = 2
    /// 32 values: f16 scale, f16 minimum + 16 bytes of nibbles.
    case q4_1 = 3
    /// 32 values: f16 scale + 4 bytes of high bits + 16 bytes of nibbles.
    case q5_0 = 6
    /// 32 values: f16 scale, f16 minimum + 4 bytes of high bits + 16 bytes of nibbles.
    case q5_1 = 7
    /// 32 values: f16 scale + 32 int8.
    case q8_0 = 8
    /// K-quant super-blocks of 256 (2-bit); known by size, not dequantized.
    case q2_K = 10
    /// K-quant super-blocks of 256 (3-bit); known by size, not dequantized.
    case q3_K = 11
    /// K-quant super-blocks of 256: 8 sub-blocks of 32 with 6-bit scales and minimums, 4-bit codes.
    case q4_K = 12
    /// K-quant super-blocks of 256: as Q4_K plus one high bit per code.
    case q5_K = 13
    /// K-quant super-blocks of 256: 16 sub-blocks of 16 with int8 scales, 6-bit codes.
    case q6_K = 14
    /// bfloat16
    case bf16 = 30

    /// This type's row of traits.
    public var traits: GGMLTypeTraits {
        switch self {
        case .f32: GGMLTypeTraits(name: "F32", blockLength: 1, blockByteCount: 4, dequantize: GGMLDequantizers.f32)
        case .f16: GGMLTypeTraits(name: "F16", blockLength: 1, blockByteCount: 2, dequantize: GGMLDequantizers.f16)
        case .bf16: GGMLTypeTraits(name: "BF16", blockLength: 1, blockByteCount: 2, dequantize: GGMLDequantizers.bf16)
        case .q4_0: GGMLTypeTraits(name: "Q4_0", blockLength: 32, blockByteCount: 18, dequantize: GGMLDequantizers.q4_0,
                                   scaledCodes: GGMLScaledCodes(codeRange: -8...7, read: GGMLDequantizers.q4_0Codes))
        case .q4_1: GGMLTypeTraits(name: "Q4_1", blockLength: 32, blockByteCount: 20, dequantize: GGMLDequantizers.q4_1)
        case .q5_0: GGMLTypeTraits(name: "Q5_0", blockLength: 32, blockByteCount: 22, dequantize: GGMLDequantizers.q5_0,
                                   scaledCodes: GGMLScaledCodes(codeRange: -16...15, read: GGMLDequantizers.q5_0Codes))
        case .q5_1: GGMLTypeTraits(name: "Q5_1", blockLength: 32, blockByteCount: 24, dequantize: GGMLDequantizers.q5_1)
        case .q8_0: GGMLTypeTraits(name: "Q8_0", blockLength: 32, blockByteCount: 34, dequantize: GGMLDequantizers.q8_0,
                                   scaledCodes: GGMLScaledCodes(codeRange: -128...127, read: GGMLDequantizers.q8_0Codes))
        case .q2_K: GGMLTypeTraits(name: "Q2_K", blockLength: 256, blockByteCount: 84, dequantize: nil)
        case .q3_K: GGMLTypeTraits(name: "Q3_K", blockLength: 256, blockByteCount: 110, dequantize: nil)
        case .q4_K: GGMLTypeTraits(name: "Q4_K", blockLength: 256, blockByteCount: 144, dequantize: GGMLDequantizers.q4_K)
        case .q5_K: GGMLTypeTraits(name: "Q5_K", blockLength: 256, blockByteCount: 176, dequantize: GGMLDequantizers.q5_K)
        case .q6_K: GGMLTypeTraits(name: "Q6_K", blockLength: 256, blockByteCount: 210, dequantize: GGMLDequantizers.q6_K)
        }
    }

    /// Values per block (1 for the float types).
    public var blockLength: Int { traits.blockLength }

    /// Bytes per block.
    public var blockByteCount: Int { traits.blockByteCount }

    /// The upper-case name llama.cpp uses (`F32`, `Q4_0`, …).
    public var description: String { traits.name }
}

/// One ggml type's row of traits (see ``GGMLType/traits``).
public struct GGMLTypeTraits: Sendable {
    /// Decodes `count` consecutive blocks starting at `blocks` into `count × blockLength` floats at `output`.
    public typealias Dequantizer = @Sendable (_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) -> Void

    /// The upper-case name llama.cpp uses.
    public let name: String
    /// Values per block (1 for the float types).
    public let blockLength: Int
    /// Bytes per block.
    public let blockByteCount: Int
    /// The dequantizer, bit-exact with llama.cpp's reference one (every f16 field widened to f32 exactly,
    /// then the same f32 operations in the same order, none fused); `nil` for the types Diffu does not
    /// read (Q2_K, Q3_K).
    public let dequantize: Dequantizer?
    /// For blocks whose every value is `d · q` (one f16 scale `d` per block of 32, integer codes `q`;
    /// llama.cpp's "type-0" quantizations): how to read `d` and `q` without rounding anything.
    public let scaledCodes: GGMLScaledCodes?

    /// Creates a row.
    public init(name: String, blockLength: Int, blockByteCount: Int, dequantize: Dequantizer?, scaledCodes: GGMLScaledCodes? = nil) {
        self.name = name
        self.blockLength = blockLength
        self.blockByteCount = blockByteCount
        self.dequantize = dequantize
        self.scaledCodes = scaledCodes
    }
}

/// The integer form of a block of 32 values `d · q`: the route by which a converter keeps such blocks
/// unchanged in a storage type with the same form (Diffu's `q8` and `q4`).
public struct GGMLScaledCodes: Sendable {
    /// Reads one block: the f16 bits of `d` and the 32 codes `q` in value order.
    public typealias Reader = @Sendable (_ block: UnsafeRawPointer) -> (scaleBits: UInt16, codes: SIMD32<Int8>)

    /// Every code lies in this range.
    public let codeRange: ClosedRange<Int>
    /// Reads one block.
    public let read: Reader

    /// Creates the form.
    public init(codeRange: ClosedRange<Int>, read: @escaping Reader) {
        self.codeRange = codeRange
        self.read = read
    }
}

/// The dequantizers and code readers the rows of ``GGMLType/traits`` name. Block layouts (byte offsets
/// inside one block; `d`, `m`, `dmin` are little-endian f16):
/// - Q8_0 (34 bytes): `d` at 0, 32 × int8 at 2. Value `d · q`.
/// - Q4_0 (18): `d` at 0, 16 bytes at 2: byte `j` holds value `j` in its low nibble, `j + 16` in its high
///   one. Value `d · (nibble − 8)`.
/// - Q4_1 (20): `d` at 0, `m` at 2, nibbles at 4 as Q4_0. Value `d · nibble + m`.
/// - Q5_0 (22): `d` at 0, a little-endian u32 `qh` at 2 (bit `i` = fifth bit of value `i`), nibbles at 6
///   as Q4_0. Value `d · (code − 16)`.
/// - Q5_1 (24): `d` at 0, `m` at 2, `qh` at 4, nibbles at 8. Value `d · code + m`.
/// - Q4_K (144): `d` at 0, `dmin` at 2, 12 bytes of packed 6-bit scales and minimums of the 8 sub-blocks
///   at 4, 128 bytes of nibbles at 16: byte `32 c + l` holds value `64 c + l` (sub-block `2c`) in its low
///   nibble and `64 c + 32 + l` (sub-block `2c + 1`) in its high one. Value `(d · sc) · q − dmin · mn`.
/// - Q5_K (176): as Q4_K, plus 32 bytes `qh` at 16 (bit `s` of byte `l` = fifth bit of value `32 s + l`)
///   and the nibbles at 48.
/// - Q6_K (210): 128 bytes of low nibbles `ql` at 0, 64 bytes of 2-bit high parts `qh` at 128, 16 int8
///   scales at 192 (one per 16 values), `d` at 208. Each half `h` of 128 values uses `ql[64h…]`,
///   `qh[32h…]`: for `l` < 32, values `l`, `l + 32`, `l + 64`, `l + 96` take the low nibble of `ql[l]`, the
///   low nibble of `ql[l + 32]`, the high nibble of `ql[l]`, the high nibble of `ql[l + 32]`, with bits
///   0–1, 2–3, 4–5, 6–7 of `qh[l]` on top. Value `(d · scale) · (code − 32)`.
enum GGMLDequantizers {
    @inline(__always)
    static func half(_ base: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.float(float16Bits: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inline(__always)
    static func byte(_ base: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        base.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// Calls `body` on each of `count` blocks of `byteCount` bytes, with the output of `length` values.
    @inline(__always)
    static func forEachBlock(_ blocks: UnsafeRawPointer, _ count: Int, byteCount: Int, length: Int, _ output: UnsafeMutablePointer<Float>,
                             _ body: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void) {
        for block in 0..<count { body(blocks + block * byteCount, output + block * length) }
    }

    @Sendable static func f32(_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) {
        for index in 0..<count {
            output[index] = Float(bitPattern: UInt32(littleEndian: blocks.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))
        }
    }

    @Sendable static func f16(_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) {
        for index in 0..<count { output[index] = half(blocks, 2 * index) }
    }

    @Sendable static func bf16(_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) {
        for index in 0..<count {
            output[index] = HalfPrecision.float(bfloat16Bits: UInt16(littleEndian: blocks.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)))
        }
    }

    @Sendable static func q8_0(_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) {
        forEachBlock(blocks, count, byteCount: 34, length: 32, output) { block, y in
            let d = half(block, 0)
            for j in 0..<32 { y[j] = d * Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) }
        }
    }

    @Sendable static func q4_0(_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) {
        forEachBlock(blocks, count, byteCount: 18, length: 32, output) { block, y in
            let d = half(block, 0)
            for j in 0..<16 {
                let packed = byte(block, 2 + j)
                y[j] = d * Float(Int(packed & 0x0F) - 8)
                y[j + 16] = d * Float(Int(packed >> 4) - 8)
            }
        }
    }

    @Sendable static func q4_1(_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) {
        forEachBlock(blocks, count, byteCount: 20, length: 32, output) { block, y in
            let d = half(block, 0), m = half(block, 2)
            for j in 0..<16 {
                let packed = byte(block, 4 + j)
                y[j] = d * Float(packed & 0x0F) + m
                y[j + 16] = d * Float(packed >> 4) + m
            }
        }
    }

    /// The 5-bit codes (0…31) of a Q5_0/Q5_1 block whose `qh` is at `highBits` and nibbles at `nibbles`.
    @inline(__always)
    static func fiveBitCode(_ block: UnsafeRawPointer, highBits: Int, nibbles: Int, value j: Int) -> Int {
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: highBits, as: UInt32.self))
        let packed = byte(block, nibbles + j % 16)
        let low = j < 16 ? packed & 0x0F : packed >> 4
        return Int(low) | Int((qh >> UInt32(j)) & 1) << 4
    }

    @Sendable static func q5_0(_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) {
        forEachBlock(blocks, count, byteCount: 22, length: 32, output) { block, y in
            let d = half(block, 0)
            for j in 0..<32 { y[j] = Float(fiveBitCode(block, highBits: 2, nibbles: 6, value: j) - 16) * d }
        }
    }

    @Sendable static func q5_1(_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) {
        forEachBlock(blocks, count, byteCount: 24, length: 32, output) { block, y in
            let d = half(block, 0), m = half(block, 2)
            for j in 0..<32 { y[j] = d * Float(fiveBitCode(block, highBits: 4, nibbles: 8, value: j)) + m }
        }
    }

    /// Scale and minimum (6 bits each) of sub-block `j` (0…7) from the 12 packed bytes at `scales`:
    /// for `j` < 4 the low 6 bits of bytes `j` and `j + 4`; otherwise the nibbles of byte `j + 4` below the
    /// top 2 bits of bytes `j − 4` (scale) and `j` (minimum).
    @inline(__always)
    static func scaleAndMinimum(_ scales: UnsafeRawPointer, _ j: Int) -> (scale: UInt8, minimum: UInt8) {
        if j < 4 { return (byte(scales, j) & 63, byte(scales, j + 4) & 63) }
        let scale = (byte(scales, j + 4) & 0x0F) | ((byte(scales, j - 4) >> 6) << 4)
        let minimum = (byte(scales, j + 4) >> 4) | ((byte(scales, j) >> 6) << 4)
        return (scale, minimum)
    }

    /// Q4_K and Q5_K: 8 sub-blocks of 32, value `(d · sc) · q − dmin · mn`; `highBits` is the offset of Q5_K's
    /// `qh` (nil for Q4_K), `nibbles` that of the 128 bytes of nibbles.
    @inline(__always)
    static func kQuant(_ block: UnsafeRawPointer, highBits: Int?, nibbles: Int, _ y: UnsafeMutablePointer<Float>) {
        let d = half(block, 0), dmin = half(block, 2)
        let scales = block + 4
        for sub in 0..<8 {
            let (scale, minimum) = scaleAndMinimum(scales, sub)
            let subScale = d * Float(scale), subMinimum = dmin * Float(minimum)
            let chunk = sub / 2, shift: UInt8 = sub % 2 == 0 ? 0 : 4
            for l in 0..<32 {
                var code = Int((byte(block, nibbles + 32 * chunk + l) >> shift) & 0x0F)
                if let highBits { code |= Int((byte(block, highBits + l) >> UInt8(sub)) & 1) << 4 }
                y[32 * sub + l] = subScale * Float(code) - subMinimum
            }
        }
    }

    @Sendable static func q4_K(_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) {
        forEachBlock(blocks, count, byteCount: 144, length: 256, output) { kQuant($0, highBits: nil, nibbles: 16, $1) }
    }

    @Sendable static func q5_K(_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) {
        forEachBlock(blocks, count, byteCount: 176, length: 256, output) { kQuant($0, highBits: 16, nibbles: 48, $1) }
    }

    @Sendable static func q6_K(_ blocks: UnsafeRawPointer, _ count: Int, _ output: UnsafeMutablePointer<Float>) {
        forEachBlock(blocks, count, byteCount: 210, length: 256, output) { block, y in
            let d = half(block, 208)
            for index in 0..<256 {
                let halfIndex = index / 128, position = index % 128
                let quarter = position / 32, l = position % 32
                let low = byte(block, 64 * halfIndex + l + (quarter % 2) * 32)
                let nibble = quarter < 2 ? low & 0x0F : low >> 4
                let high = (byte(block, 128 + 32 * halfIndex + l) >> UInt8(2 * quarter)) & 3
                let code = Int(nibble | high << 4) - 32
                let scale = Float(block.load(fromByteOffset: 192 + index / 16, as: Int8.self))
                y[index] = (d * scale) * Float(code)
            }
        }
    }

    @Sendable static func q8_0Codes(_ block: UnsafeRawPointer) -> (scaleBits: UInt16, codes: SIMD32<Int8>) {
        var codes = SIMD32<Int8>()
        for j in 0..<32 { codes[j] = block.load(fromByteOffset: 2 + j, as: Int8.self) }
        return (UInt16(littleEndian: block.loadUnaligned(as: UInt16.self)), codes)
    }

    @Sendable static func q4_0Codes(_ block: UnsafeRawPointer) -> (scaleBits: UInt16, codes: SIMD32<Int8>) {
        var codes = SIMD32<Int8>()
        for j in 0..<16 {
            let packed = byte(block, 2 + j)
            codes[j] = Int8(packed & 0x0F) - 8
            codes[j + 16] = Int8(packed >> 4) - 8
        }
        return (UInt16(littleEndian: block.loadUnaligned(as: UInt16.self)), codes)
    }

    @Sendable static func q5_0Codes(_ block: UnsafeRawPointer) -> (scaleBits: UInt16, codes: SIMD32<Int8>) {
        var codes = SIMD32<Int8>()
        for j in 0..<32 { codes[j] = Int8(fiveBitCode(block, highBits: 2, nibbles: 6, value: j) - 16) }
        return (UInt16(littleEndian: block.loadUnaligned(as: UInt16.self)), codes)
    }
}

/// The traits of one storage type in ``TensorLayout/panel16``, all in one place (ggml's one row of type
/// traits per type): its name and sizes, the reference encoder and decoder, and the tile decoder the
/// matrix multiply's f32 route calls. One caseless enum per type under `Sources/DiffuStorage/Codecs/`;
/// ``StorageType/withCodec(_:)`` is the registry (`bytes` has no codec: it has no panel layout).
///
/// Block contract (see ``PanelGeometry``): a block holds 16 lanes × 32 inputs of one panel in
/// ``blockByteCount`` bytes; lane `c` is output `panel · 16 + c`, input `k` is column `block · 32 + k`.
/// Padding (inputs past K, lanes past N) encodes as zeros.
///
/// Every requirement is static. The constant traits are `@inlinable` computed properties, so that a
/// caller in another module that knows the type (a switch over ``StorageType`` through a
/// ``StorageCodecVisitor``) folds them to constants.
public protocol StorageCodec {
    /// The lower-case name used on the command line, in metadata and in `diffu inspect`.
    static var name: String { get }

    /// Bytes per element in ``TensorLayout/rowMajor``; `nil` for types with a panel layout only.
    static var elementByteCount: Int? { get }

    /// For the integer block types (``ScaledIntegerCodec``), the integer codes a block can hold
    /// (value = f16 scale × code); `nil` for the float types.
    static var codeRange: ClosedRange<Int>? { get }

    /// Bytes of one block of 16 lanes × 32 inputs, scales included: a multiple of 32, so a payload
    /// aligned to 64 bytes keeps every block 32-byte aligned for AVX2 loads.
    static var blockByteCount: Int { get }

    /// Encodes one block given lane-major, `values[c * 32 + k]` (16 × 32 finite values, padding zero),
    /// into its ``blockByteCount`` bytes at `block` (every byte written). The reference encoder.
    static func encode(_ values: UnsafePointer<Float>, into block: UnsafeMutableRawPointer)

    /// Decodes inputs `0..<count` (`count` ≤ 32) of lane `lane` of one block into `output[0..<count]`.
    ///
    /// The reference decoder: scalar and simple on purpose. The tests compare the fast kernels with
    /// it, and the embedding gather decodes its rows with it (``WeightMatrix/decodeRow(_:into:)``).
    static func decode(_ block: UnsafeRawPointer, lane: Int, count: Int, into output: UnsafeMutablePointer<Float>)

    /// Decodes `blockCount` consecutive blocks of one panel starting at `source` into `tile`, the f32
    /// tile the matrix multiply's f32 route reads: input `k` of the run (`k` = 0..<32 · `blockCount`),
    /// lane `c` at `tile[k * 16 + c]` (`blockCount` × 512 floats, 64-byte aligned). This is the `f32`
    /// block layout, so `f32` payloads are read in place and never decoded.
    ///
    /// The hot path of the f32 route: work on `SIMD8` lanes, converting them with `LaneConversion` (one
    /// instruction each under `-march=x86-64-v3`, inlined in every file; the standard library's generic
    /// `SIMD8` initializers may end up as calls, and the `SIMD16` ones run scalar), mark it
    /// `@inline(never)` (one call per tile, as the GEMM was tuned with), and give the same values as
    /// ``decode(_:lane:count:into:)``, bit for bit (`StorageCodecTests` checks every codec).
    static func decodeTile(_ source: UnsafeRawPointer, blockCount: Int, into tile: UnsafeMutablePointer<Float>)

    /// Whether the kernel variants' integer routes (`DiffuKernelsAVX512`, `DiffuKernelsAVX2`) have tile
    /// decoders for this type, so `avx2` / `avx512` multiply it in integers. `false` by default: a new
    /// type runs on the f32 route (its ``decodeTile(_:blockCount:into:)``) until it gets them.
    static var hasIntegerKernels: Bool { get }
}

extension StorageCodec {
    /// `false`: the f32 route only.
    @inlinable public static var hasIntegerKernels: Bool { false }
}

/// A storage type of integer blocks: 16 binary16 scales `d[c]` first (bytes 0..<32, one per lane), then
/// the codes; value = `d[c] × code`. Blocks already in this form (GGUF Q8_0, Q4_0, Q5_0) are stored
/// unchanged through ``WeightPacking/storeBlock(scaleBits:codes:row:block:geometry:into:)``.
public protocol ScaledIntegerCodec: StorageCodec {
    /// Stores the 32 codes of lane `lane` of one block (each in ``StorageCodec/codeRange``) at `block`,
    /// leaving the scales and the other lanes as they are.
    static func storeCodes(_ codes: SIMD32<Int8>, lane: Int, into block: UnsafeMutableRawPointer)
}

extension ScaledIntegerCodec {
    /// Bytes of the scale header (16 binary16 scales).
    static var scaleByteCount: Int { 2 * PanelGeometry.panelWidth }

    /// The scale of lane `lane` of a block.
    static func scale(_ block: UnsafeRawPointer, lane: Int) -> Float {
        HalfPrecision.float(float16Bits: block.loadUnaligned(fromByteOffset: 2 * lane, as: UInt16.self))
    }

    /// Stores the f16 scale `bits` of lane `lane` of a block.
    static func storeScale(_ bits: UInt16, lane: Int, into block: UnsafeMutableRawPointer) {
        block.storeBytes(of: bits, toByteOffset: 2 * lane, as: UInt16.self)
    }

    /// The 16 scales of a block, as two 8-lane halves (lanes 0..<8, 8..<16).
    @inline(__always)
    static func scales(_ block: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>) {
        (HalfPrecision.widen(block.loadUnaligned(as: SIMD8<UInt16>.self)),
         HalfPrecision.widen(block.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self)))
    }

    /// `1 / d` as llama.cpp's quantizers take it (0 for a zero scale), and 0 where it overflows: a
    /// scale below ~3·10⁻³⁹ has an infinite inverse (whose codes would not be integers) and is 0 once
    /// stored as f16 anyway, so the block decodes to zeros either way.
    static func inverseScale(_ d: Float) -> Float {
        let inverse = 1 / d
        return d == 0 || !inverse.isFinite ? 0 : inverse
    }
}

/// An operation generic over a storage type's codec, run by ``StorageType/withCodec(_:)`` with the
/// concrete codec: the way to dispatch once (per call, per row, per tile) and then run code specialized
/// for that type, with no existential call inside.
public protocol StorageCodecVisitor {
    /// What the operation returns.
    associatedtype Result
    /// Runs the operation for `codec`.
    func visit<Codec: StorageCodec>(_ codec: Codec.Type) -> Result
}

import DiffuStorage
#if arch(x86_64) && DIFFU_AVX2_KERNELS
import DiffuAVX2Intrinsics

/// Quantizes f32 activation rows to the int8 blocks the AVX2 integer GEMM multiplies (llama.cpp's Q8_0
/// activation rounding, the same values as the AVX-512 variant's `ActivationQuantizer`).
///
/// Layout written, block-major so that one block of consecutive rows is contiguous: with K inputs,
/// `blockCount = ceil(K / 32)` blocks of `rowCount` rows, slot `s = b * rowCount + r` for input block `b`
/// of row `r`:
/// - `values`: 32 elements per slot at `s * 32 * elementWidth` bytes: `q = round(x · (1/d))` (nearest,
///   ties to even) in -127...127 as Int8 (`elementWidth` 1, for q4 weights) or Int16 (`elementWidth` 2,
///   for q8 weights, which `vpmaddwd` multiplies as 16-bit pairs); 0 for the padding past K;
/// - `scales[s]` = `d = max |x| / 127` over the block (0 for an all-zero block);
/// - `starts[s]` = `-8 · Σ_j q`: q4 weights stay offset by +8 in the tile (unsigned, as `vpmaddubsw`
///   needs one unsigned operand), so each q4 block's int32 sum starts from this value.
///
/// The rounding adds at most `d / 2 = max|x| / 254` of absolute error per activation, as llama.cpp's
/// Q8_0 activations do. Non-finite activations reach the outputs: a block holding ±infinity or NaN gets
/// a non-finite scale.
public enum NarrowActivationQuantizer {
    /// The three arrays of one quantized activation matrix (sizes: see the type's documentation).
    public struct Output {
        /// `blockCount * rowCount * 32 * elementWidth` bytes.
        public let values: UnsafeMutableRawPointer
        /// `blockCount * rowCount` scales.
        public let scales: UnsafeMutablePointer<Float>
        /// `blockCount * rowCount` start values.
        public let starts: UnsafeMutablePointer<Int32>
        /// Rows per block (the matrix's row count).
        public let rowCount: Int
        /// Bytes per quantized value: 1 (Int8) or 2 (Int16).
        public let elementWidth: Int

        /// Wraps caller-owned memory.
        public init(values: UnsafeMutableRawPointer, scales: UnsafeMutablePointer<Float>, starts: UnsafeMutablePointer<Int32>,
                    rowCount: Int, elementWidth: Int) {
            precondition(elementWidth == 1 || elementWidth == 2)
            self.values = values
            self.scales = scales
            self.starts = starts
            self.rowCount = rowCount
            self.elementWidth = elementWidth
        }

        /// Bytes of one slot's values.
        public var slotByteCount: Int { PanelGeometry.blockLength * elementWidth }
    }

    /// The value width the GEMM needs for weights of `storage`: 2 for q8, 1 for q4.
    public static func elementWidth(for storage: StorageType) -> Int {
        storage == .q8 ? 2 : 1
    }

    /// Quantizes rows `rows` of the row-major `[rowCount × columns]` matrix `x`.
    public static func quantize(_ x: UnsafePointer<Float>, rows: Range<Int>, columns: Int, into output: Output) {
        let length = PanelGeometry.blockLength
        let blockCount = (columns + length - 1) / length
        let fullBlocks = columns / length
        var padded = (SIMD16<Float>(), SIMD16<Float>())
        for row in rows {
            let source = x + row * columns
            for block in 0..<blockCount {
                let slot = block * output.rowCount + row
                let target = output.values + slot * output.slotByteCount
                if block < fullBlocks {
                    output.starts[slot] = quantizeBlock(UnsafeRawPointer(source + block * length), target, output.elementWidth,
                                                        output.scales + slot)
                } else {
                    withUnsafeMutableBytes(of: &padded) { buffer in
                        let base = buffer.baseAddress!.assumingMemoryBound(to: Float.self)
                        base.update(repeating: 0, count: length)
                        base.update(from: source + block * length, count: columns - block * length)
                        output.starts[slot] = quantizeBlock(UnsafeRawPointer(base), target, output.elementWidth, output.scales + slot)
                    }
                }
            }
        }
    }

    /// One block of 32 floats at `source` → 32 values at `output` and its scale; returns the start.
    @inline(__always)
    private static func quantizeBlock(
        _ source: UnsafeRawPointer, _ output: UnsafeMutableRawPointer, _ elementWidth: Int, _ scale: UnsafeMutablePointer<Float>
    ) -> Int32 {
        let v0 = source.loadUnaligned(as: SIMD8<Float>.self)
        let v1 = source.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        let v2 = source.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
        let v3 = source.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        // Non-negative floats order as their bit patterns: the largest magnitude is an unsigned maximum
        // of the sign-cleared bits.
        let bits = AVX2Intrinsics.maximum(AVX2Intrinsics.maximum(magnitudeBits(v0), magnitudeBits(v1)),
                                          AVX2Intrinsics.maximum(magnitudeBits(v2), magnitudeBits(v3)))
        let d = Float(bitPattern: AVX2Intrinsics.horizontalMaximum(bits)) / 127
        scale.pointee = d
        let inverse = SIMD8<Float>(repeating: d == 0 ? 0 : 1 / d)
        let q0 = rounded(v0 * inverse), q1 = rounded(v1 * inverse)
        let q2 = rounded(v2 * inverse), q3 = rounded(v3 * inverse)
        if elementWidth == 1 {
            output.storeBytes(of: AVX2Intrinsics.truncateToBytes(q0), as: SIMD8<Int8>.self)
            output.storeBytes(of: AVX2Intrinsics.truncateToBytes(q1), toByteOffset: 8, as: SIMD8<Int8>.self)
            output.storeBytes(of: AVX2Intrinsics.truncateToBytes(q2), toByteOffset: 16, as: SIMD8<Int8>.self)
            output.storeBytes(of: AVX2Intrinsics.truncateToBytes(q3), toByteOffset: 24, as: SIMD8<Int8>.self)
        } else {
            output.storeBytes(of: AVX2Intrinsics.truncateToInt16(q0), as: SIMD8<Int16>.self)
            output.storeBytes(of: AVX2Intrinsics.truncateToInt16(q1), toByteOffset: 16, as: SIMD8<Int16>.self)
            output.storeBytes(of: AVX2Intrinsics.truncateToInt16(q2), toByteOffset: 32, as: SIMD8<Int16>.self)
            output.storeBytes(of: AVX2Intrinsics.truncateToInt16(q3), toByteOffset: 48, as: SIMD8<Int16>.self)
        }
        return -8 &* AVX2Intrinsics.horizontalSum((q0 &+ q1) &+ (q2 &+ q3))
    }

    /// The bits of `|v|`: the sign bits cleared.
    @inline(__always)
    private static func magnitudeBits(_ v: SIMD8<Float>) -> SIMD8<UInt32> {
        unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF
    }

    /// Rounds `scaled` (|value| ≤ 127) to the nearest integer, ties to even: adding and subtracting
    /// 1.5 · 2²³ is exact rounding for |value| < 2²².
    @inline(__always)
    private static func rounded(_ scaled: SIMD8<Float>) -> SIMD8<Int32> {
        let magic = SIMD8<Float>(repeating: 12_582_912)
        return AVX2Intrinsics.truncateToInt32((scaled + magic) - magic)
    }
}
#endif

import DiffuStorage
#if arch(x86_64) && DIFFU_AVX512
import DiffuAVX512Intrinsics

/// Quantizes f32 activation rows to the signed int8 blocks the integer GEMM multiplies (llama.cpp's
/// Q8_0 activation rounding).
///
/// Layout written, block-major so that one block of consecutive rows is contiguous (the micro-kernel
/// then reads every row of its group at a constant offset): with K inputs, `blockCount = ceil(K / 32)`
/// blocks and `rowStride` rows per block (the row count padded to the kernel's row groups),
/// - `bytes[(b * rowStride + r) * 32 + j]` = `Int8(q)` for input `32 b + j` of row `r`, with
///   `q = round(x · (1/d))` (nearest, ties to even) in -127...127, and `q = 0` for the padding past K;
/// - `scales[b * rowStride + r]` = `d = max |x| / 127` over the block (0 for an all-zero block);
/// - `starts[b * rowStride + r]` = `-128 · Σ_j q`: the weights are stored offset by +128 (unsigned, as
///   `vpdpbusd` needs one unsigned operand), so each block's int32 sum starts from this value.
///
/// The rounding adds at most `d / 2 = max|x| / 254` of absolute error per activation (relative error
/// ≤ 0.4 % of the block's largest magnitude), the same as llama.cpp's Q8_0 activations for its
/// Q8_0/Q4_0 products (it stores `d` as f16; here it stays f32). Non-finite activations still reach the
/// outputs: a block holding ±infinity gets an infinite scale (its outputs become ±∞ or NaN), a NaN one a
/// NaN scale.
public enum ActivationQuantizer {
    /// The three arrays of one quantized activation matrix (sizes: see the type's documentation).
    public struct Output {
        /// `blockCount * rowStride * 32` bytes.
        public let bytes: UnsafeMutablePointer<Int8>
        /// `blockCount * rowStride` scales.
        public let scales: UnsafeMutablePointer<Float>
        /// `blockCount * rowStride` start values.
        public let starts: UnsafeMutablePointer<Int32>
        /// Rows per block.
        public let rowStride: Int

        /// Wraps caller-owned memory.
        public init(bytes: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>, starts: UnsafeMutablePointer<Int32>, rowStride: Int) {
            self.bytes = bytes
            self.scales = scales
            self.starts = starts
            self.rowStride = rowStride
        }
    }

    /// Fills rows `rows` (padding rows past L) with zeros, which contribute nothing.
    public static func clear(rows: Range<Int>, columns: Int, into output: Output) {
        let length = PanelGeometry.blockLength
        let blockCount = (columns + length - 1) / length
        for block in 0..<blockCount {
            let first = block * output.rowStride + rows.lowerBound
            (output.bytes + first * length).update(repeating: 0, count: rows.count * length)
            (output.scales + first).update(repeating: 0, count: rows.count)
            (output.starts + first).update(repeating: 0, count: rows.count)
        }
    }

    /// Quantizes rows `rows` of the row-major `[L × columns]` matrix `x`.
    public static func quantize(_ x: UnsafePointer<Float>, rows: Range<Int>, columns: Int, into output: Output) {
        let length = PanelGeometry.blockLength
        let blockCount = (columns + length - 1) / length
        let fullBlocks = columns / length
        let stride = output.rowStride
        var padded = [Float](repeating: 0, count: length)
        for row in rows {
            let source = x + row * columns
            for block in 0..<blockCount {
                let slot = block * stride + row
                let target = UnsafeMutableRawPointer(output.bytes + slot * length)
                if block < fullBlocks {
                    output.starts[slot] = quantizeBlock(UnsafeRawPointer(source + block * length), target, output.scales + slot)
                } else {
                    padded.withUnsafeMutableBufferPointer { buffer in
                        let base = buffer.baseAddress!
                        base.update(repeating: 0, count: length)
                        base.update(from: source + block * length, count: columns - block * length)
                        output.starts[slot] = quantizeBlock(UnsafeRawPointer(base), target, output.scales + slot)
                    }
                }
            }
        }
    }

    /// One block of 32 floats at `source` → 32 signed bytes at `output` and its scale; returns the start.
    @inline(__always)
    private static func quantizeBlock(_ source: UnsafeRawPointer, _ output: UnsafeMutableRawPointer, _ scale: UnsafeMutablePointer<Float>) -> Int32 {
        let low = source.loadUnaligned(as: SIMD16<Float>.self)
        let high = source.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        // Non-negative floats order as their bit patterns: the largest magnitude is an unsigned
        // maximum of the sign-cleared bits (SIMD comparisons of Float run lane by lane).
        let bits = AVX512Intrinsics.maximum(magnitudeBits(low), magnitudeBits(high))
        let d = Float(bitPattern: AVX512Intrinsics.horizontalMaximum(bits)) / 127
        scale.pointee = d
        let inverse = SIMD16<Float>(repeating: d == 0 ? 0 : 1 / d)
        let lowQ = rounded(low * inverse), highQ = rounded(high * inverse)
        output.storeBytes(of: AVX512Intrinsics.truncateToBytes(lowQ), as: SIMD16<UInt8>.self)
        output.storeBytes(of: AVX512Intrinsics.truncateToBytes(highQ), toByteOffset: 16, as: SIMD16<UInt8>.self)
        return -128 &* AVX512Intrinsics.horizontalSum(lowQ &+ highQ)
    }

    /// The bits of `|v|`: the sign bits cleared.
    @inline(__always)
    private static func magnitudeBits(_ v: SIMD16<Float>) -> SIMD16<UInt32> {
        unsafeBitCast(v, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF
    }

    /// Rounds `scaled` (|value| ≤ 127) to the nearest integer, ties to even: adding and subtracting
    /// 1.5 · 2²³ is exact rounding for |value| < 2²².
    @inline(__always)
    private static func rounded(_ scaled: SIMD16<Float>) -> SIMD16<Int32> {
        let magic = SIMD16<Float>(repeating: 12_582_912)
        return AVX512Intrinsics.truncateToInt32((scaled + magic) - magic)
    }
}
#endif

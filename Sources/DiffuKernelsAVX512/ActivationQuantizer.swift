import DiffuStorage
#if arch(x86_64) && DIFFU_AVX512
import DiffuAVX512Intrinsics

/// Quantizes f32 activation rows to the unsigned int8 blocks the integer GEMM multiplies
/// (llama.cpp's Q8_0 activation rounding, stored offset by 128 for `vpdpbusd`'s unsigned operand).
///
/// Layout written, block-major so that one block of consecutive rows is contiguous (the micro-kernel
/// then reads every row of its group at a constant offset): with K inputs, `blockCount = ceil(K / 32)`
/// blocks and `rowStride` rows per block (the row count rounded up to the kernel's row group),
/// - `bytes[(b * rowStride + r) * 32 + j]` = `UInt8(q + 128)` for input `32 b + j` of row `r`, with
///   `q = round(x / d)` (nearest, ties to even) in -127...127, and `q = 0` (byte 128) for the padding
///   past K;
/// - `scales[b * rowStride + r]` = `d = max |x| / 127` over the block (0 for an all-zero block).
///
/// The rounding adds at most `d / 2 = max|x| / 254` of absolute error per activation (relative error
/// ≤ 0.4 % of the block's largest magnitude), the same as llama.cpp's Q8_0 activations for its
/// Q8_0/Q4_0 products (it stores `d` as f16; here it stays f32).
public enum ActivationQuantizer {
    /// Fills rows `rows` (padding rows past L) with zeros: byte 128 and scale 0, contributing nothing.
    public static func clear(rows: Range<Int>, columns: Int, rowStride: Int, bytes: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>) {
        let length = PanelGeometry.blockLength
        let blockCount = (columns + length - 1) / length
        for block in 0..<blockCount {
            (bytes + (block * rowStride + rows.lowerBound) * length).update(repeating: 128, count: rows.count * length)
            (scales + block * rowStride + rows.lowerBound).update(repeating: 0, count: rows.count)
        }
    }

    /// Quantizes rows `rows` of the row-major `[L × columns]` matrix `x`.
    public static func quantize(
        _ x: UnsafePointer<Float>,
        rows: Range<Int>,
        columns: Int,
        rowStride: Int,
        bytes: UnsafeMutablePointer<UInt8>,
        scales: UnsafeMutablePointer<Float>
    ) {
        let length = PanelGeometry.blockLength
        let blockCount = (columns + length - 1) / length
        let fullBlocks = columns / length
        var padded = [Float](repeating: 0, count: length)
        for row in rows {
            let source = x + row * columns
            let rowBytes = UnsafeMutableRawPointer(bytes + row * length)
            let rowScales = scales + row
            let byteStride = rowStride * length
            for block in 0..<fullBlocks {
                quantizeBlock(UnsafeRawPointer(source + block * length), rowBytes + block * byteStride, rowScales + block * rowStride)
            }
            if fullBlocks < blockCount {
                let tail = columns - fullBlocks * length
                padded.withUnsafeMutableBufferPointer { buffer in
                    let base = buffer.baseAddress!
                    base.update(repeating: 0, count: length)
                    base.update(from: source + fullBlocks * length, count: tail)
                    quantizeBlock(UnsafeRawPointer(base), rowBytes + fullBlocks * byteStride, rowScales + fullBlocks * rowStride)
                }
            }
        }
    }

    /// One block of 32 floats at `source` → 32 offset bytes at `output` and its scale.
    @inline(__always)
    private static func quantizeBlock(_ source: UnsafeRawPointer, _ output: UnsafeMutableRawPointer, _ scale: UnsafeMutablePointer<Float>) {
        let low = source.loadUnaligned(as: SIMD16<Float>.self)
        let high = source.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        // Non-negative floats order as their bit patterns: the largest magnitude is an unsigned
        // maximum of the sign-cleared bits (SIMD comparisons of Float run lane by lane).
        let bits = AVX512Intrinsics.maximum(magnitudeBits(low), magnitudeBits(high))
        let largest = Float(bitPattern: AVX512Intrinsics.horizontalMaximum(bits))
        let d = largest / 127
        scale.pointee = d
        let inverse = SIMD16<Float>(repeating: d == 0 ? 0 : 1 / d)
        output.storeBytes(of: offsetBytes(low * inverse), as: SIMD16<UInt8>.self)
        output.storeBytes(of: offsetBytes(high * inverse), toByteOffset: 16, as: SIMD16<UInt8>.self)
    }

    /// The bits of `|v|`: the sign bits cleared.
    @inline(__always)
    private static func magnitudeBits(_ v: SIMD16<Float>) -> SIMD16<UInt32> {
        unsafeBitCast(v, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF
    }

    /// Rounds `scaled` (|value| ≤ 127) to the nearest integer, ties to even (adding and subtracting
    /// 1.5 · 2²³ is exact rounding for |value| < 2²²), and stores it plus 128 as bytes.
    @inline(__always)
    private static func offsetBytes(_ scaled: SIMD16<Float>) -> SIMD16<UInt8> {
        let magic = SIMD16<Float>(repeating: 12_582_912)
        let rounded = (scaled + magic) - magic
        let integers = AVX512Intrinsics.truncateToInt32(rounded) &+ 128
        return AVX512Intrinsics.truncateToBytes(integers)
    }
}
#endif

import DiffuStorage
#if arch(x86_64) && DIFFU_AVX512
import DiffuAVX512Intrinsics

/// Rewrites q8/q4 panel blocks into the tile the `vpdpbusd` micro-kernel reads.
///
/// Input: blocks of one panel in the file's layout (`DiffuStorage/PanelGeometry.swift`: 16 f16 scales,
/// then q8 bytes at `32 + k * 16 + c`, or q4 nibbles at `32 + j * 16 + c` holding `k = j` low and
/// `k = j + 16` high, each as `q + 8`).
///
/// Output, per block (``blockByteCount`` = 576 bytes):
/// - bytes 0..<512: 8 groups of 64 bytes; in group `g`, the 32-bit lane `c` holds the weights of inputs
///   `4g ..< 4g + 4` for output `c`, offset to unsigned (byte `64 g + 4 c + j` = `q[k = 4g + j][c] + 128`):
///   the layout in which one `vpdpbusd` multiplies 4 inputs × 16 outputs, the activations (signed)
///   broadcast from memory; the offset is removed by the activations' start values
///   (``ActivationQuantizer``);
/// - bytes 512..<576: 16 Float scales `d[c]`.
enum IntegerTileDecoder {
    /// Bytes of one decoded block.
    static let blockByteCount = 576

    /// `vpermd` indices that gather dword `j` of each of the 4 input rows into 128-bit lane `j`.
    @inline(__always)
    static var laneGather: SIMD16<Int32> { SIMD16(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15) }

    /// `vpshufb` mask that transposes each lane's 4 × 4 bytes (row-major input rows → output lanes).
    @inline(__always)
    static var byteTranspose: SIMD64<UInt8> {
        let pattern: SIMD16<UInt8> = SIMD16(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)
        return SIMD64(lowHalf: SIMD32(lowHalf: pattern, highHalf: pattern), highHalf: SIMD32(lowHalf: pattern, highHalf: pattern))
    }

    /// 64 bytes `input[k * 16 + c]` (4 inputs × 16 outputs) → `output[4 c + k]`.
    @inline(__always)
    static func transpose(_ rows: SIMD64<UInt8>, gather: SIMD16<Int32>, mask: SIMD64<UInt8>) -> SIMD64<UInt8> {
        let gathered = AVX512Intrinsics.permuteLanes(unsafeBitCast(rows, to: SIMD16<Int32>.self), indices: gather)
        return AVX512Intrinsics.shuffleBytesInLanes(unsafeBitCast(gathered, to: SIMD64<UInt8>.self), mask: mask)
    }

    /// Bytes `u` in 0...15 (`q + 8`) → `q + 128 = u + 120`, without borrows between bytes:
    /// `(u | 0x80) - 8` (every byte is at least 128 before the subtraction).
    @inline(__always)
    static func offsetNibbles(_ nibbles: SIMD16<UInt32>) -> SIMD16<UInt32> {
        (nibbles | 0x8080_8080) &- 0x0808_0808
    }

    /// Decodes `blockCount` consecutive blocks of one panel starting at `source` into `tile`.
    static func decode(_ storage: StorageType, source: UnsafeRawPointer, blockCount: Int, into tile: UnsafeMutableRawPointer) {
        let gather = laneGather, mask = byteTranspose
        for block in 0..<blockCount {
            let output = tile + block * blockByteCount
            let base: UnsafeRawPointer
            switch storage {
            case .q8:
                base = source + block * PanelGeometry.blockByteCount(.q8)
                for group in 0..<8 {
                    // q → q + 128: flip each byte's sign bit (on 32-bit lanes; SIMD64<UInt8> operators run
                    // lane by lane).
                    let rows = base.loadUnaligned(fromByteOffset: 32 + 64 * group, as: SIMD16<UInt32>.self) ^ 0x8080_8080
                    output.storeBytes(of: transpose(unsafeBitCast(rows, to: SIMD64<UInt8>.self), gather: gather, mask: mask),
                                      toByteOffset: 64 * group, as: SIMD64<UInt8>.self)
                }
            case .q4:
                base = source + block * PanelGeometry.blockByteCount(.q4)
                for group in 0..<4 {
                    // Byte-wise work on 32-bit lanes (SIMD64<UInt8> operators run lane by lane).
                    let packed = base.loadUnaligned(fromByteOffset: 32 + 64 * group, as: SIMD16<UInt32>.self)
                    let low = offsetNibbles(packed & 0x0F0F_0F0F)
                    let high = offsetNibbles((packed &>> 4) & 0x0F0F_0F0F)
                    output.storeBytes(of: transpose(unsafeBitCast(low, to: SIMD64<UInt8>.self), gather: gather, mask: mask),
                                      toByteOffset: 64 * group, as: SIMD64<UInt8>.self)
                    output.storeBytes(of: transpose(unsafeBitCast(high, to: SIMD64<UInt8>.self), gather: gather, mask: mask),
                                      toByteOffset: 64 * (group + 4), as: SIMD64<UInt8>.self)
                }
            default:
                preconditionFailure("integer tiles hold q8 or q4 blocks only")
            }
            let scales = AVX512Intrinsics.widen(base.loadUnaligned(as: SIMD16<Float16>.self))
            output.storeBytes(of: scales, toByteOffset: 512, as: SIMD16<Float>.self)
        }
    }
}
#endif

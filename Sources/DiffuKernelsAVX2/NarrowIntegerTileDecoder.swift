import DiffuStorage
#if arch(x86_64) && DIFFU_AVX2_KERNELS
import DiffuAVX2Intrinsics

/// Rewrites q8/q4 panel blocks into the tiles the AVX2 integer micro-kernels read.
///
/// Input: blocks of one panel in the file's layout (`DiffuStorage/PanelGeometry.swift`: 16 f16 scales,
/// then q8 bytes at `32 + k * 16 + c`, or q4 nibbles at `32 + j * 16 + c` holding `k = j` low and
/// `k = j + 16` high, each as `q + 8`).
///
/// Output per block; in every 64-byte group the first 32 bytes hold outputs `c` = 0..<8 and the next 32
/// outputs 8..<16, one 32-bit lane per output:
/// - q4 (``blockByteCount(_:)`` = 576): 8 groups; byte `64 g + 4 c + j` = `q[k = 4g + j][c] + 8` (0...15,
///   unsigned, the operand `vpmaddubsw` takes unsigned; the offset is removed by the activations' start
///   values), then 16 Float scales `d[c]` at byte 512;
/// - q8 (1088): 16 pairs; Int16 at byte `64 p + 4 c + 2 j` = `q[k = 2p + j][c]` (the operand layout of
///   `vpmaddwd`, which multiplies 2 inputs × 8 outputs), then 16 Float scales at byte 1024.
public enum NarrowIntegerTileDecoder {
    /// Bytes of one decoded block.
    public static func blockByteCount(_ storage: StorageType) -> Int {
        storage == .q8 ? 1088 : 576
    }

    /// Byte offset of the scales in a decoded block.
    static func scaleOffset(_ storage: StorageType) -> Int {
        storage == .q8 ? 1024 : 512
    }

    /// Decodes `blockCount` consecutive blocks of one panel starting at `source` into `tile`.
    static func decode(_ storage: StorageType, source: UnsafeRawPointer, blockCount: Int, into tile: UnsafeMutableRawPointer) {
        let sourceBytes = PanelGeometry.blockByteCount(storage), tileBytes = blockByteCount(storage)
        for block in 0..<blockCount {
            let base = source + block * sourceBytes, output = tile + block * tileBytes
            switch storage {
            case .q8: decodeQ8(base, output)
            case .q4: decodeQ4(base, output)
            default: preconditionFailure("integer tiles hold q8 or q4 blocks only")
            }
            let scales = output + scaleOffset(storage)
            scales.storeBytes(of: AVX2Intrinsics.widen(base.loadUnaligned(as: SIMD8<Float16>.self)), as: SIMD8<Float>.self)
            scales.storeBytes(of: AVX2Intrinsics.widen(base.loadUnaligned(fromByteOffset: 16, as: SIMD8<Float16>.self)),
                              toByteOffset: 32, as: SIMD8<Float>.self)
        }
    }

    /// One q8 block: each pair of input rows (16 signed bytes each) → 16 lanes of two Int16.
    @inline(__always)
    private static func decodeQ8(_ base: UnsafeRawPointer, _ output: UnsafeMutableRawPointer) {
        for pair in 0..<16 {
            let first = base + 32 + 32 * pair, second = first + 16
            for half in 0..<2 {
                let a = AVX2Intrinsics.signExtend(first.loadUnaligned(fromByteOffset: 8 * half, as: SIMD8<Int8>.self))
                let b = AVX2Intrinsics.signExtend(second.loadUnaligned(fromByteOffset: 8 * half, as: SIMD8<Int8>.self))
                let lanes = (a & 0xFFFF) | (b &<< 16)
                output.storeBytes(of: lanes, toByteOffset: 64 * pair + 32 * half, as: SIMD8<Int32>.self)
            }
        }
    }

    /// One q4 block: each group of 4 inputs (nibbles of 4 source rows) → 16 lanes of 4 unsigned bytes.
    @inline(__always)
    private static func decodeQ4(_ base: UnsafeRawPointer, _ output: UnsafeMutableRawPointer) {
        for group in 0..<8 {
            // Inputs 4g..4g+3 are the low nibbles of rows j = 4g... (g < 4) or the high nibbles of rows
            // j = 4(g − 4)... (g ≥ 4).
            let rows = base + 32 + 64 * (group & 3)
            let shift = Int32(group >> 2) &* 4
            for half in 0..<2 {
                var lanes = SIMD8<Int32>()
                for j in 0..<4 {
                    let packed = AVX2Intrinsics.zeroExtend(rows.loadUnaligned(fromByteOffset: 16 * j + 8 * half, as: SIMD8<UInt8>.self))
                    lanes |= ((packed &>> shift) & 0x0F) &<< Int32(8 * j)
                }
                output.storeBytes(of: lanes, toByteOffset: 64 * group + 32 * half, as: SIMD8<Int32>.self)
            }
        }
    }
}
#endif

import DiffuStorage

/// Decodes runs of panel-layout weight blocks into f32 tiles for the GEMM micro-kernel.
///
/// Output layout (the "f32 tile"): for a run of `blockCount` consecutive blocks of one panel, element
/// `(k, c)` (input `k` of the run, lane `c` = output `panel * 16 + c`) is at `tile[k * 16 + c]`.
/// This is exactly the `f32` block layout of ``DiffuStorage/PanelGeometry``, so `f32` payloads are read in
/// place and never decoded. Every hot loop works on `SIMD8` lanes: the `SIMD8` conversions used here
/// compile to single instructions under `-march=x86-64-v3` (checked with `objdump`):
/// `SIMD8<Float>(SIMD8<Float16>)` → `vcvtph2ps`, `SIMD8<Int32>(truncatingIfNeeded: SIMD8<Int8>)` →
/// `vpmovsxbd`, `SIMD8<Float>(SIMD8<Int32>)` → `vcvtdq2ps`, `SIMD8<UInt32>(truncatingIfNeeded: SIMD8<UInt16>)`
/// → `vpmovzxwd`. (The `SIMD16` versions of the same initializers are not specialized and run scalar.)
enum GemmTileDecoder {
    /// Floats in one decoded block (32 inputs × 16 lanes).
    static let floatsPerBlock = PanelGeometry.blockLength * PanelGeometry.panelWidth

    /// Decodes `blockCount` blocks starting at `source` (a block boundary of one panel) into `tile`.
    ///
    /// `storage` must not be `.f32` (read those in place) nor `.bytes`.
    @inline(__always)
    static func decode(_ storage: StorageType, source: UnsafeRawPointer, blockCount: Int, into tile: UnsafeMutablePointer<Float>) {
        switch storage {
        case .f16: decodeF16(source, blockCount, tile)
        case .bf16: decodeBF16(source, blockCount, tile)
        case .q8: decodeQ8(source, blockCount, tile)
        case .q4: decodeQ4(source, blockCount, tile)
        case .f32:
            UnsafeMutableRawPointer(tile).copyMemory(from: source, byteCount: blockCount * floatsPerBlock * 4)
        case .bytes:
            preconditionFailure("bytes tensors are not matrices")
        }
    }

    /// f16 block: 512 binary16 values at `k * 16 + c` → `vcvtph2ps` per 8 lanes.
    @inline(never)
    static func decodeF16(_ source: UnsafeRawPointer, _ blockCount: Int, _ tile: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(tile)
        for index in 0..<(blockCount * floatsPerBlock / 8) {
            let halves = source.loadUnaligned(fromByteOffset: 16 * index, as: SIMD8<UInt16>.self)
            out.storeBytes(of: widen(halves), toByteOffset: 32 * index, as: SIMD8<Float>.self)
        }
    }

    /// 8 binary16 bit patterns → Float, exactly. F16C builds use `vcvtph2ps`; the baseline build (no F16C,
    /// where the conversion would be a library call per lane) rebuilds the bits with integer operations:
    /// exponent and mantissa moved into place and rescaled by 2¹¹² (exact for normals and subnormals),
    /// infinities and NaNs given the all-ones exponent.
    @inline(__always)
    static func widen(_ bits: SIMD8<UInt16>) -> SIMD8<Float> {
        #if DIFFU_AVX2
        return SIMD8<Float>(unsafeBitCast(bits, to: SIMD8<Float16>.self))
        #else
        let wide = SIMD8<UInt32>(truncatingIfNeeded: bits)
        let sign = (wide & 0x8000) &<< 16
        let magnitude = wide & 0x7FFF
        let scaled = unsafeBitCast(magnitude &<< 13, to: SIMD8<Float>.self) * SIMD8(repeating: 0x1p112)
        let special = unsafeBitCast((magnitude &<< 13) | 0x7F80_0000, to: SIMD8<Float>.self)
        let value = scaled.replacing(with: special, where: magnitude .>= 0x7C00)
        return unsafeBitCast(unsafeBitCast(value, to: SIMD8<UInt32>.self) | sign, to: SIMD8<Float>.self)
        #endif
    }

    /// bf16 block: 512 bfloat16 values at `k * 16 + c` → zero-extend and shift into the high half.
    @inline(never)
    static func decodeBF16(_ source: UnsafeRawPointer, _ blockCount: Int, _ tile: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableRawPointer(tile)
        for index in 0..<(blockCount * floatsPerBlock / 8) {
            let bits = source.loadUnaligned(fromByteOffset: 16 * index, as: SIMD8<UInt16>.self)
            let wide = SIMD8<UInt32>(truncatingIfNeeded: bits) &<< 16
            out.storeBytes(of: unsafeBitCast(wide, to: SIMD8<Float>.self), toByteOffset: 32 * index, as: SIMD8<Float>.self)
        }
    }

    /// The 16 f16 scales at the start of a quantized block, as two 8-lane halves.
    @inline(__always)
    static func scales(_ block: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>) {
        (widen(block.loadUnaligned(as: SIMD8<UInt16>.self)), widen(block.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self)))
    }

    /// q8 block (544 bytes): scales `d[c]`, then int8 `q` at `32 + k * 16 + c`; value `d[c] * q`.
    @inline(never)
    static func decodeQ8(_ source: UnsafeRawPointer, _ blockCount: Int, _ tile: UnsafeMutablePointer<Float>) {
        for block in 0..<blockCount {
            let base = source + block * 544
            let out = UnsafeMutableRawPointer(tile + block * floatsPerBlock)
            let (scaleLow, scaleHigh) = scales(base)
            for k in 0..<PanelGeometry.blockLength {
                let low = base.loadUnaligned(fromByteOffset: 32 + 16 * k, as: SIMD8<Int8>.self)
                let high = base.loadUnaligned(fromByteOffset: 40 + 16 * k, as: SIMD8<Int8>.self)
                out.storeBytes(of: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: low)) * scaleLow,
                               toByteOffset: 64 * k, as: SIMD8<Float>.self)
                out.storeBytes(of: SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: high)) * scaleHigh,
                               toByteOffset: 64 * k + 32, as: SIMD8<Float>.self)
            }
        }
    }

    /// q4 block (288 bytes): scales `d[c]`, then byte `32 + j * 16 + c` holds input `j` (low nibble) and
    /// `j + 16` (high nibble) as `q + 8`; value `d[c] * q` (computed exactly as the reference decoder).
    @inline(never)
    static func decodeQ4(_ source: UnsafeRawPointer, _ blockCount: Int, _ tile: UnsafeMutablePointer<Float>) {
        for block in 0..<blockCount {
            let base = source + block * 288
            let out = UnsafeMutableRawPointer(tile + block * floatsPerBlock)
            let (scaleLow, scaleHigh) = scales(base)
            for j in 0..<(PanelGeometry.blockLength / 2) {
                let bytesLow = base.loadUnaligned(fromByteOffset: 32 + 16 * j, as: SIMD8<UInt8>.self)
                let bytesHigh = base.loadUnaligned(fromByteOffset: 40 + 16 * j, as: SIMD8<UInt8>.self)
                let offset = SIMD8<Int32>(repeating: 8)
                let q0 = SIMD8<Int32>(truncatingIfNeeded: bytesLow & 0x0F) &- offset
                let q1 = SIMD8<Int32>(truncatingIfNeeded: bytesHigh & 0x0F) &- offset
                let q2 = SIMD8<Int32>(truncatingIfNeeded: bytesLow &>> 4) &- offset
                let q3 = SIMD8<Int32>(truncatingIfNeeded: bytesHigh &>> 4) &- offset
                out.storeBytes(of: SIMD8<Float>(q0) * scaleLow, toByteOffset: 64 * j, as: SIMD8<Float>.self)
                out.storeBytes(of: SIMD8<Float>(q1) * scaleHigh, toByteOffset: 64 * j + 32, as: SIMD8<Float>.self)
                out.storeBytes(of: SIMD8<Float>(q2) * scaleLow, toByteOffset: 64 * (j + 16), as: SIMD8<Float>.self)
                out.storeBytes(of: SIMD8<Float>(q3) * scaleHigh, toByteOffset: 64 * (j + 16) + 32, as: SIMD8<Float>.self)
            }
        }
    }
}

import DiffuStorage

/// Decodes runs of panel-layout weight blocks into f32 tiles for the GEMM micro-kernel, with the storage
/// type's codec (``DiffuStorage/StorageCodec/decodeTile(_:blockCount:into:)``, which defines the tile:
/// input `k` of the run, lane `c` at `tile[k * 16 + c]`, the `f32` block layout, so `f32` payloads are
/// read in place and never decoded).
///
/// The dispatch is a switch over the storage type per call (one call per tile, as before the codecs),
/// each case a direct call to that codec's `@inline(never)` decoder: no call through an existential.
enum GemmTileDecoder {
    /// Floats in one decoded block (32 inputs × 16 lanes).
    static let floatsPerBlock = PanelGeometry.blockLength * PanelGeometry.panelWidth

    /// Decodes `blockCount` blocks starting at `source` (a block boundary of one panel) into `tile`.
    ///
    /// `storage` must not be `.bytes`; `.f32` is a copy (read those in place instead).
    @inline(__always)
    static func decode(_ storage: StorageType, source: UnsafeRawPointer, blockCount: Int, into tile: UnsafeMutablePointer<Float>) {
        guard storage.withCodec(TileDecoding(source: source, blockCount: blockCount, tile: tile)) != nil else {
            preconditionFailure("bytes tensors are not matrices")
        }
    }

    /// One tile decode with one codec.
    struct TileDecoding: StorageCodecVisitor {
        let source: UnsafeRawPointer
        let blockCount: Int
        let tile: UnsafeMutablePointer<Float>

        @inline(__always)
        func visit<Codec: StorageCodec>(_ codec: Codec.Type) {
            codec.decodeTile(source, blockCount: blockCount, into: tile)
        }
    }
}

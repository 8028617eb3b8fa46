import DiffuStorage
#if arch(x86_64) && DIFFU_AVX512
import DiffuKernelsAVX512
#endif
#if arch(x86_64) && DIFFU_AVX2_KERNELS
import DiffuKernelsAVX2
#endif

// MARK: - Blocked GEMM `y[L × N] = x[L × K] · Wᵀ (+ bias)`
//
// Layouts expected:
// - `x`: f32, row-major `[L × K]` (row = one token position), read in place: the micro-kernel broadcasts
//   from 6 row pointers (6 sequential streams), so no packing copy is made (packing cost 14 % of the
//   time at N = 192 when it was tried).
// - `W`: `panel16` (normative definition: `DiffuStorage/PanelGeometry.swift`): 16-output panels, each cut
//   into 32-input blocks stored input-major (`k * 16 + c`); q8/q4 blocks start with 16 f16 scales.
//   Read straight from the (memory-mapped) payload, never repacked.
// - `y`: f32, row-major `[L × N]`; `bias`: N f32 values.
//
// Blocking scheme (per worker; sizes for a 32 KiB L1d and a 1 MiB L2 per core):
// 1. Outputs are processed in blocks of `panelBlock` panels (256 outputs): the sums of those outputs stay
//    in L2 while they are accumulated over the input chunks — in a worker-local scratch block with a
//    padded row stride (`y`'s stride of N floats aliases in the caches when N is a multiple of 1024),
//    copied to `y` once per output block.
// 2. Inputs are processed in chunks of `chunkBlocks` blocks (256 inputs): one panel's chunk decodes to a
//    16 KiB f32 tile (L1-resident; `f32` weights are used in place), reused by every 6-row group of the
//    worker's rows; the activation rows × chunk (≤ 1 KiB per row) stay in L2 across the panel block.
// 3. Micro-kernel (`GemmMicroKernel`): 6 rows × 16 outputs held in 12 ymm accumulators over the chunk;
//    the first chunk stores (+ bias), later chunks add to `y`. The last chunk stops at K exactly (weights
//    are zero-padded to 32, activations are not), and the last group has 1...6 rows (one specialization
//    per row count), so there is no padding anywhere.
//
// Few rows (1...4, `GemmSmallRows`): one panel at a time, `rows × 16` sums held across all of K, each
// block decoded into a 2 KiB tile right before use (memory-bound, GEMV-like); panels split across threads.
//
// Threads (one fork-join per call through `Parallel.forEach`, no barrier, no shared scratch): with at
// least 8 panels per thread the panels are split (each weight is decoded once in all; every worker reads
// all activation rows); with fewer panels but at least 4 row groups per thread the rows are split (each
// worker decodes every weight: 6 % of the time for q8 at N = 576 in a profile); otherwise panels are split.
//
// Integer route (variant `avx512`, q8/q4 only): the activations are quantized once per call to int8
// blocks (`ActivationQuantizer`), each panel's weights rewritten once into a `vpdpbusd` tile and
// multiplied in int32 with the block scales applied in f32 (`DiffuKernelsAVX512/IntegerMatrixMultiply`).
// The f32 route below stays exact for every variant and storage type. (A scalar integer loop only
// vectorizes to `vpmaddwd` as a one-sum reduction, never as the vertical accumulation a GEMM needs:
// the integer kernel calls the instructions through `DiffuAVX512Intrinsics`.)

/// `y = x · Wᵀ (+ bias)` for f32 activations and panel-layout weights of any storage type.
///
/// Layouts: `x` is row-major `[rowCount × K]`, `y` row-major `[rowCount × N]` (`K` = `weights.columns`,
/// `N` = `weights.rows`), `bias` has `N` values. See the comment at the top of this file for the blocking.
public enum MatrixMultiply {
    /// Inputs per chunk, in 32-input blocks (a decoded chunk is `chunkBlocks × 2 KiB`).
    static let chunkBlocks = 8
    /// Panels per output block.
    static let panelBlock = 16
    /// Panels per worker from which work is split over panels (each weight decoded once in all).
    static let minimumPanelsPerWorker = 8
    /// Row groups per worker from which work is split over rows when there are too few panels.
    static let minimumGroupsPerWorker = 4

    /// One product of a shared input: `output = x · weightsᵀ (+ bias)`, `output` row-major `[L × N]`.
    public struct Product {
        /// The weight matrix (`columns` = the shared input width).
        public let weights: WeightMatrix
        /// Optional `N` biases.
        public let bias: UnsafePointer<Float>?
        /// `L × N` outputs, fully overwritten.
        public let output: UnsafeMutablePointer<Float>

        /// Describes one product.
        public init(weights: WeightMatrix, bias: UnsafePointer<Float>? = nil, output: UnsafeMutablePointer<Float>) {
            self.weights = weights
            self.bias = bias
            self.output = output
        }
    }

    /// Several products of the same activations (a layer's query/key/value, or gate/up): the integer
    /// route quantizes `x` once for all of them; otherwise each is ``multiply(_:rowCount:weights:bias:into:threads:variant:)``.
    ///
    /// Every product's weights must have `columns` equal to the width of `x`'s rows.
    public static func multiply(
        _ x: UnsafePointer<Float>, rowCount: Int, products: [Product], threads: Int, variant: KernelVariant = .active
    ) {
        guard rowCount > 0, let first = products.first else { return }
        precondition(products.allSatisfy { $0.weights.columns == first.weights.columns }, "products of one input share K")
        #if arch(x86_64) && DIFFU_AVX2_KERNELS
        if variant == .avx2, products.allSatisfy({ $0.weights.storage == first.weights.storage && variant.multipliesInIntegers($0.weights.storage) }) {
            withNarrowQuantizedActivations(x, rowCount: rowCount, columns: first.weights.columns, storage: first.weights.storage,
                                           threads: max(1, threads)) { activations in
                for product in products {
                    multiplyNarrowQuantized(activations, rowCount: rowCount, weights: product.weights, bias: product.bias,
                                            into: product.output, threads: max(1, threads))
                }
            }
            return
        }
        #endif
        #if arch(x86_64) && DIFFU_AVX512
        if variant == .avx512, products.allSatisfy({ variant.multipliesInIntegers($0.weights.storage) }) {
            withQuantizedActivations(x, rowCount: rowCount, columns: first.weights.columns, threads: max(1, threads)) { activations in
                for product in products {
                    multiplyQuantized(activations, rowCount: rowCount, weights: product.weights, bias: product.bias,
                                      into: product.output, threads: max(1, threads))
                }
            }
            return
        }
        #endif
        for product in products {
            multiply(x, rowCount: rowCount, weights: product.weights, bias: product.bias, into: product.output,
                     threads: threads, variant: variant)
        }
    }

    /// Computes `y[l, n] = Σ_k x[l, k] · W[n, k] + bias[n]` for `l < rowCount`, `n < N`.
    ///
    /// - Parameters:
    ///   - x: `rowCount * K` activations, row-major.
    ///   - rowCount: number of activation rows L.
    ///   - weights: the weight matrix view.
    ///   - bias: optional `N` biases.
    ///   - y: `rowCount * N` outputs, row-major; fully overwritten.
    ///   - threads: worker count (1 runs on the calling thread).
    ///   - variant: the kernel set to run (``KernelVariant/active`` by default; it must be supported).
    public static func multiply(
        _ x: UnsafePointer<Float>,
        rowCount: Int,
        weights: WeightMatrix,
        bias: UnsafePointer<Float>? = nil,
        into y: UnsafeMutablePointer<Float>,
        threads: Int,
        variant: KernelVariant = .active
    ) {
        guard rowCount > 0 else { return }
        #if arch(x86_64) && DIFFU_AVX2_KERNELS
        if variant == .avx2, variant.multipliesInIntegers(weights.storage) {
            multiplyNarrowInteger(x, rowCount: rowCount, weights: weights, bias: bias, into: y, threads: max(1, threads))
            return
        }
        #endif
        #if arch(x86_64) && DIFFU_AVX512
        if variant == .avx512, variant.multipliesInIntegers(weights.storage) {
            multiplyInteger(x, rowCount: rowCount, weights: weights, bias: bias, into: y, threads: max(1, threads))
            return
        }
        if variant == .avx512, FloatMatrixMultiply.handles(weights.storage), rowCount > GemmSmallRows.maximumRows {
            multiplyFloatAtFullWidth(x, rowCount: rowCount, weights: weights, bias: bias, into: y, threads: max(1, threads))
            return
        }
        #endif
        let panels = weights.geometry.panelCount
        let requested = max(1, threads)
        if rowCount <= GemmSmallRows.maximumRows {
            forEachPanelShare(panels: panels, threads: requested) { panelShare in
                GemmSmallRows.multiply(x, rows: rowCount, panels: panelShare, weights, bias, y)
            }
        } else {
            forEachShare(rowCount: rowCount, panels: panels, groupRows: GemmMicroKernel.groupRows,
                         minimumGroupsPerWorker: minimumGroupsPerWorker, threads: requested) { rowShare, panelShare in
                multiplyBlock(x, rows: rowShare, panels: panelShare, weights, bias, y)
            }
        }
    }

    /// Splits one product over the workers and runs `share(rows, panels)` for each: over panels (each
    /// weight decoded once in all; every worker reads all activation rows), unless there are fewer than
    /// ``minimumPanelsPerWorker`` panels but at least `minimumGroupsPerWorker` row groups per worker —
    /// then over rows, in contiguous runs of whole `groupRows`-row groups (each worker decodes every weight).
    private static func forEachShare(
        rowCount: Int, panels: Int, groupRows: Int, minimumGroupsPerWorker: Int, threads: Int,
        _ share: (Range<Int>, Range<Int>) -> Void
    ) {
        let groups = (rowCount + groupRows - 1) / groupRows
        if threads > 1, panels < minimumPanelsPerWorker * threads, groups >= minimumGroupsPerWorker * threads {
            Parallel.forEach(threads) { worker in
                let rowStart = groups * worker / threads * groupRows
                let rowEnd = min(rowCount, groups * (worker + 1) / threads * groupRows)
                share(rowStart..<rowEnd, 0..<panels)
            }
        } else {
            forEachPanelShare(panels: panels, threads: threads) { share(0..<rowCount, $0) }
        }
    }

    /// Runs `share(panels)` for contiguous, even runs of panels: ``panelSharesPerWorker`` runs per worker
    /// when there are enough panels (claimed dynamically, so a worker that starts late or runs slower
    /// takes fewer), at most one per panel.
    private static func forEachPanelShare(panels: Int, threads: Int, _ share: (Range<Int>) -> Void) {
        let shares = threads == 1 ? 1 : min(panels, threads * panelSharesPerWorker)
        Parallel.forEach(shares) { index in
            share((panels * index / shares)..<(panels * (index + 1) / shares))
        }
    }

    /// Panel runs per worker in a multi-threaded product (each run decodes its own panels, so more runs
    /// cost no repeated work, only a claim each).
    static let panelSharesPerWorker = 4

    /// Pooled scratch for one quantized activation matrix: `valueBytes` bytes of values, then `slots` Float
    /// scales and `slots` Int32 start values (the layout both integer routes' quantizers fill).
    private static func withActivationScratch(
        valueBytes: Int, slots: Int,
        _ body: (UnsafeMutableRawPointer, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>) -> Void
    ) {
        ScratchPool.shared.withBuffer(byteCount: valueBytes + 8 * slots) { scratch in
            body(scratch, (scratch + valueBytes).bindMemory(to: Float.self, capacity: slots),
                 (scratch + valueBytes + 4 * slots).bindMemory(to: Int32.self, capacity: slots))
        }
    }

    /// Runs `quantize(rows)` for even runs of the `rowCount` rows, one per worker (at most one per row).
    private static func quantizeInParallel(rowCount: Int, threads: Int, _ quantize: (Range<Int>) -> Void) {
        let workers = min(threads, rowCount)
        Parallel.forEach(workers) { worker in
            quantize((rowCount * worker / workers)..<(rowCount * (worker + 1) / workers))
        }
    }

    #if arch(x86_64) && DIFFU_AVX2_KERNELS
    /// The 256-bit integer route (variant `avx2`) for one product.
    private static func multiplyNarrowInteger(
        _ x: UnsafePointer<Float>, rowCount: Int, weights: WeightMatrix, bias: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        withNarrowQuantizedActivations(x, rowCount: rowCount, columns: weights.columns, storage: weights.storage,
                                       threads: threads) { activations in
            multiplyNarrowQuantized(activations, rowCount: rowCount, weights: weights, bias: bias, into: y, threads: threads)
        }
    }

    /// Quantizes the activation rows for weights of `storage` (split over the workers) into pooled scratch
    /// (``NarrowActivationQuantizer`` layout) and runs `body` on them.
    private static func withNarrowQuantizedActivations(
        _ x: UnsafePointer<Float>, rowCount: Int, columns: Int, storage: StorageType, threads: Int,
        _ body: (NarrowActivationQuantizer.Output) -> Void
    ) {
        let blockCount = (columns + PanelGeometry.blockLength - 1) / PanelGeometry.blockLength
        let elementWidth = NarrowActivationQuantizer.elementWidth(for: storage)
        let slots = rowCount * blockCount
        withActivationScratch(valueBytes: slots * PanelGeometry.blockLength * elementWidth, slots: slots) { values, scales, starts in
            let activations = NarrowActivationQuantizer.Output(
                values: values, scales: scales, starts: starts, rowCount: rowCount, elementWidth: elementWidth)
            quantizeInParallel(rowCount: rowCount, threads: threads) { rows in
                NarrowActivationQuantizer.quantize(x, rows: rows, columns: columns, into: activations)
            }
            body(activations)
        }
    }

    /// One 256-bit integer product of already quantized activations: panels (or, with too few panels,
    /// rows) split as the f32 route does; each worker rewrites its panels into its own pooled tile.
    private static func multiplyNarrowQuantized(
        _ activations: NarrowActivationQuantizer.Output, rowCount: Int, weights: WeightMatrix, bias: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let tileBytes = NarrowIntegerMatrixMultiply.tileByteCount(weights)
        forEachShare(rowCount: rowCount, panels: weights.geometry.panelCount, groupRows: NarrowIntegerMatrixMultiply.groupRows,
                     minimumGroupsPerWorker: 4, threads: threads) { rowShare, panelShare in
            ScratchPool.shared.withBuffer(byteCount: tileBytes) { tile in
                NarrowIntegerMatrixMultiply.multiply(activations: activations, rows: rowShare, panels: panelShare,
                                                     weights: weights, bias: bias, into: y, tile: tile)
            }
        }
    }
    #endif

    #if arch(x86_64) && DIFFU_AVX512
    /// The integer route for one product.
    private static func multiplyInteger(
        _ x: UnsafePointer<Float>, rowCount: Int, weights: WeightMatrix, bias: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        withQuantizedActivations(x, rowCount: rowCount, columns: weights.columns, threads: threads) { activations in
            multiplyQuantized(activations, rowCount: rowCount, weights: weights, bias: bias, into: y, threads: threads)
        }
    }

    /// The 512-bit f32 route for f32 / f16 / bf16 weights (``FloatMatrixMultiply``), split as the AVX2
    /// route is; each worker takes one pooled buffer for its widening tile and its accumulation scratch.
    private static func multiplyFloatAtFullWidth(
        _ x: UnsafePointer<Float>, rowCount: Int, weights: WeightMatrix, bias: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        forEachShare(rowCount: rowCount, panels: weights.geometry.panelCount, groupRows: FloatMatrixMultiply.groupRows,
                     minimumGroupsPerWorker: minimumGroupsPerWorker, threads: threads) { rowShare, panelShare in
            let tileBytes = FloatMatrixMultiply.tileByteCount
            let scratchBytes = FloatMatrixMultiply.scratchByteCount(rowCount: rowShare.count, weights: weights)
            ScratchPool.shared.withBuffer(byteCount: tileBytes + scratchBytes) { buffer in
                FloatMatrixMultiply.multiply(x, rows: rowShare, panels: panelShare, weights: weights, bias: bias,
                                             into: y, tile: buffer, scratch: buffer + tileBytes)
            }
        }
    }

    /// Quantizes the activation rows (split over the workers) into pooled scratch and runs `body` on them.
    private static func withQuantizedActivations(
        _ x: UnsafePointer<Float>, rowCount: Int, columns: Int, threads: Int, _ body: (ActivationQuantizer.Output) -> Void
    ) {
        let blockCount = (columns + PanelGeometry.blockLength - 1) / PanelGeometry.blockLength
        let rowStride = IntegerMatrixMultiply.paddedRowCount(rowCount)
        let slots = rowStride * blockCount
        withActivationScratch(valueBytes: slots * PanelGeometry.blockLength, slots: slots) { values, scales, starts in
            let activations = ActivationQuantizer.Output(
                bytes: values.bindMemory(to: Int8.self, capacity: slots * PanelGeometry.blockLength),
                scales: scales, starts: starts, rowStride: rowStride)
            quantizeInParallel(rowCount: rowCount, threads: threads) { rows in
                ActivationQuantizer.quantize(x, rows: rows, columns: columns, into: activations)
            }
            ActivationQuantizer.clear(rows: rowCount..<rowStride, columns: columns, into: activations)
            body(activations)
        }
    }

    /// One integer product of already quantized activations: split panels (or, with too few panels,
    /// rows) as the f32 route does; each worker rewrites its panels into its own pooled tile.
    private static func multiplyQuantized(
        _ activations: ActivationQuantizer.Output, rowCount: Int, weights: WeightMatrix, bias: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let tileBytes = IntegerMatrixMultiply.tileByteCount(weights)
        // Row splits need only 2 groups per worker here: a group is 8 rows, and the decode every worker
        // then repeats is cheap next to the integer products.
        forEachShare(rowCount: rowCount, panels: weights.geometry.panelCount, groupRows: IntegerMatrixMultiply.groupRows,
                     minimumGroupsPerWorker: 2, threads: threads) { rowShare, panelShare in
            ScratchPool.shared.withBuffer(byteCount: tileBytes) { tile in
                IntegerMatrixMultiply.multiply(activations: activations, rows: rowShare, panels: panelShare,
                                               weights: weights, bias: bias, into: y, tile: tile)
            }
        }
    }
    #endif

    /// One worker's share: rows `rows` of `y` for the outputs of panels `panels`.
    private static func multiplyBlock(
        _ x: UnsafePointer<Float>,
        rows: Range<Int>,
        panels: Range<Int>,
        _ weights: WeightMatrix,
        _ bias: UnsafePointer<Float>?,
        _ y: UnsafeMutablePointer<Float>
    ) {
        if rows.isEmpty || panels.isEmpty { return }
        let geometry = weights.geometry
        let width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        let groupRows = GemmMicroKernel.groupRows
        let outputs = geometry.rows
        let blockCount = geometry.blockCount
        let groups = (rows.count + groupRows - 1) / groupRows
        let columns = geometry.columns

        let decodes = weights.storage != .f32
        let tileFloats = chunkBlocks * GemmTileDecoder.floatsPerBlock
        let tile = UnsafeMutablePointer<Float>(
            UnsafeMutableRawPointer.allocate(byteCount: decodes ? tileFloats * 4 : 64, alignment: 64)
                .bindMemory(to: Float.self, capacity: decodes ? tileFloats : 16))
        defer { tile.deallocate() }

        // Equal chunks of at most `chunkBlocks` blocks (18 blocks → 6 + 6 + 6, not 8 + 8 + 2).
        let chunkCountTotal = (blockCount + chunkBlocks - 1) / chunkBlocks
        let chunkSize = (blockCount + chunkCountTotal - 1) / chunkCountTotal

        // With several input chunks, sums are accumulated in a scratch block with a padded row stride and
        // copied to `y` once per output block: `y`'s own row stride (N floats) is often a multiple of 4 KiB
        // or 64 KiB (N = 49152: every row of the block falls in the same L1 and L2 sets), which evicted
        // the block between chunks.
        let scratchStride = panelBlock * width + 16
        let usesScratch = chunkCountTotal > 1
        let scratch = UnsafeMutablePointer<Float>(
            UnsafeMutableRawPointer.allocate(byteCount: usesScratch ? rows.count * scratchStride * 4 : 64, alignment: 64)
                .bindMemory(to: Float.self, capacity: usesScratch ? rows.count * scratchStride : 16))
        defer { scratch.deallocate() }
        var blockStart = panels.lowerBound
        while blockStart < panels.upperBound {
            let blockEnd = min(panels.upperBound, blockStart + panelBlock)
            var chunkStart = 0
            while chunkStart < blockCount {
                let chunkCount = min(chunkSize, blockCount - chunkStart)
                let store: GemmMicroKernel.Store = chunkStart == 0 ? .overwrite : .accumulate
                for panel in blockStart..<blockEnd {
                    let source = weights.base + geometry.blockOffset(panel: panel, block: chunkStart)
                    let weightTile: UnsafeRawPointer
                    if decodes {
                        GemmTileDecoder.decode(weights.storage, source: source, blockCount: chunkCount, into: tile)
                        weightTile = UnsafeRawPointer(tile)
                    } else {
                        weightTile = source
                    }
                    let outputStart = panel * width
                    let lanes = min(width, outputs - outputStart)
                    let panelBias = bias.map { $0 + outputStart }
                    let kStart = chunkStart * length
                    let depth = min(chunkCount * length, columns - kStart)
                    let output = usesScratch ? scratch + (panel - blockStart) * width : y + rows.lowerBound * outputs + outputStart
                    let outputStride = usesScratch ? scratchStride : outputs
                    for group in 0..<groups {
                        let rowStart = group * groupRows
                        GemmMicroKernel.run(
                            rows: min(groupRows, rows.count - rowStart),
                            x: x + (rows.lowerBound + rowStart) * columns + kStart,
                            xStride: columns,
                            tile: weightTile,
                            depth: depth,
                            output: output + rowStart * outputStride,
                            outputStride: outputStride,
                            lanes: lanes,
                            store: store,
                            bias: panelBias)
                    }
                }
                chunkStart += chunkCount
            }
            if usesScratch {
                let outputStart = blockStart * width
                let outputCount = min(blockEnd * width, outputs) - outputStart
                for row in 0..<rows.count {
                    (y + (rows.lowerBound + row) * outputs + outputStart)
                        .update(from: scratch + row * scratchStride, count: outputCount)
                }
            }
            blockStart = blockEnd
        }
    }
}

/// Decodes one 32-input × 16-lane block of a panel-layout matrix into f32, input-major
/// (`tile[k]` holds the 16 lanes of input `k`).
public enum TileDecoder {
    /// Decodes block `block` of panel `panel` into `tile[0..<32]`.
    @inline(__always)
    public static func decode(_ weights: WeightMatrix, panel: Int, block: Int, into tile: UnsafeMutablePointer<SIMD16<Float>>) {
        let base = weights.base + weights.geometry.blockOffset(panel: panel, block: block)
        tile.withMemoryRebound(to: Float.self, capacity: GemmTileDecoder.floatsPerBlock) { floats in
            GemmTileDecoder.decode(weights.storage, source: base, blockCount: 1, into: floats)
        }
    }
}

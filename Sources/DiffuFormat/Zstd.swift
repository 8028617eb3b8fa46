import CZstd
import DiffuStorage

/// One-shot zstd compression and decompression with every size checked.
enum Zstd {
    /// `ZSTD_CONTENTSIZE_UNKNOWN`.
    static let contentSizeUnknown = UInt64.max
    /// `ZSTD_CONTENTSIZE_ERROR`.
    static let contentSizeError = UInt64.max - 1

    /// Why a zstd call failed.
    struct Failure: Error {
        let reason: String
    }

    private static func errorName(_ code: Int) -> String {
        guard let name = ZSTD_getErrorName(code) else { return "zstd error \(code)" }
        return String(cString: name)
    }

    /// Compresses `input` into a new buffer (64-byte aligned; the caller deallocates it).
    static func compress(_ input: UnsafeRawBufferPointer, level: Int32) throws(Failure) -> UnsafeMutableRawBufferPointer {
        let bound = ZSTD_compressBound(input.count)
        guard ZSTD_isError(bound) == 0 else { throw Failure(reason: "input of \(input.count) bytes is too large for zstd") }
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bound, 1), alignment: 64)
        let written = ZSTD_compress(output.baseAddress, output.count, input.baseAddress, input.count, level)
        guard ZSTD_isError(written) == 0 else {
            output.deallocate()
            throw Failure(reason: errorName(written))
        }
        return UnsafeMutableRawBufferPointer(rebasing: output[0..<written])
    }

    /// Checks that `frame` is exactly one zstd frame declaring `expectedLength` content bytes.
    static func checkFrame(_ frame: UnsafeRawBufferPointer, expectedLength: Int) throws(Failure) {
        let declared = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        if declared == contentSizeError { throw Failure(reason: "not a zstd frame") }
        if declared == contentSizeUnknown { throw Failure(reason: "the frame does not declare its content size") }
        guard declared == UInt64(expectedLength) else {
            throw Failure(reason: "the frame declares \(declared) bytes, the directory \(expectedLength)")
        }
        let frameLength = ZSTD_findFrameCompressedSize(frame.baseAddress, frame.count)
        guard ZSTD_isError(frameLength) == 0 else { throw Failure(reason: errorName(frameLength)) }
        guard frameLength == frame.count else {
            throw Failure(reason: "the frame is \(frameLength) bytes, the stored payload \(frame.count)")
        }
    }

    /// Decompresses one frame into `output`, which must be exactly the declared content size.
    static func decompress(_ frame: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(Failure) {
        try checkFrame(frame, expectedLength: output.count)
        let written = ZSTD_decompress(output.baseAddress, output.count, frame.baseAddress, frame.count)
        guard ZSTD_isError(written) == 0 else { throw Failure(reason: errorName(written)) }
        guard written == output.count else {
            throw Failure(reason: "decompressed \(written) bytes, expected \(output.count)")
        }
    }
}

/// Measures what zstd saves on payloads, grouped by storage type — for the converter's report and
/// `formats/diffu-v1.md` (call ``add(_:storage:)`` for each tensor of a real checkpoint).
public struct CompressionSurvey: Sendable {
    /// Totals for one storage type.
    public struct Totals: Sendable, Equatable {
        /// Tensors measured.
        public var tensorCount = 0
        /// Raw bytes.
        public var rawBytes = 0
        /// zstd frame bytes.
        public var compressedBytes = 0
        /// Tensors whose saving clears the `auto` threshold.
        public var tensorsPassingThreshold = 0

        /// Fraction of bytes saved (0.25 = a quarter smaller); 0 when empty.
        public var saving: Double { rawBytes == 0 ? 0 : 1 - Double(compressedBytes) / Double(rawBytes) }
    }

    /// zstd level used.
    public let level: Int32
    /// The `auto` threshold counted in ``Totals/tensorsPassingThreshold``.
    public let threshold: Double
    /// Totals per storage type.
    public private(set) var totals: [StorageType: Totals] = [:]

    /// Starts an empty survey.
    public init(level: Int32 = 3, threshold: Double = 0.10) {
        self.level = level
        self.threshold = threshold
    }

    /// Compresses `payload` once (the result is discarded) and adds it to the totals of `storage`.
    /// - Returns: the compressed size.
    /// - Throws: ``DiffuFormatError/compressionFailed(tensor:reason:)``.
    @discardableResult
    public mutating func add(_ payload: UnsafeRawBufferPointer, storage: StorageType) throws -> Int {
        let frame: UnsafeMutableRawBufferPointer
        do { frame = try Zstd.compress(payload, level: level) } catch {
            throw DiffuFormatError.compressionFailed(tensor: "(survey)", reason: error.reason)
        }
        defer { frame.deallocate() }
        var entry = totals[storage, default: Totals()]
        entry.tensorCount += 1
        entry.rawBytes += payload.count
        entry.compressedBytes += frame.count
        if payload.count > 0, Double(payload.count - frame.count) >= threshold * Double(payload.count) {
            entry.tensorsPassingThreshold += 1
        }
        totals[storage] = entry
        return frame.count
    }

    /// A Markdown table: storage type, tensors, raw MB, zstd MB, saving, tensors over the threshold.
    public func report() -> String {
        var lines = [
            "| storage | tensors | raw MB | zstd-\(level) MB | saving | tensors saving ≥ \(Int(threshold * 100)) % |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for key in totals.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let t = totals[key]!
            let raw = Double(t.rawBytes) / 1_000_000, packed = Double(t.compressedBytes) / 1_000_000
            lines.append("| \(key) | \(t.tensorCount) | \(format(raw)) | \(format(packed)) | \(format(t.saving * 100)) % | \(t.tensorsPassingThreshold) |")
        }
        return lines.joined(separator: "\n")
    }

    private func format(_ value: Double) -> String {
        let scaled = (value * 10).rounded() / 10
        return String(scaled)
    }
}

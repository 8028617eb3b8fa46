import DiffuFormat
import Dispatch

/// A read-only file opened for positioned reads (`pread`), so that a tensor's bytes can be fetched
/// without reading or mapping anything else of a multi-gigabyte checkpoint. Its system calls go through
/// DiffuFormat's `SystemFile`; their failures are reported as ``ConvertError``s.
public final class SourceFile: @unchecked Sendable {
    // @unchecked: the descriptor is immutable after init and `pread` is thread-safe.

    /// The path the file was opened from.
    public let path: String
    /// The file's size in bytes at open time.
    public let size: Int
    private let descriptor: Int32
    /// When set, every read also feeds this file's SHA-256 (see ``StreamingDigest``). Set before a
    /// conversion starts reading; reads of one conversion happen on one thread.
    public var digest: StreamingDigest?

    /// Opens `path` for reading.
    /// - Throws: ``ConvertError/unreadableFile(path:reason:)`` when it cannot be opened or is not a regular file.
    public init(path: String) throws {
        let descriptor = try Self.reportingFailures(path) { try SystemFile.openForReading(path) }
        let status: (size: Int, isRegular: Bool)
        do {
            status = try Self.reportingFailures(path) { try SystemFile.status(descriptor, path: path) }
        } catch {
            SystemFile.closeQuietly(descriptor)
            throw error
        }
        guard status.isRegular else {
            SystemFile.closeQuietly(descriptor)
            throw ConvertError.unreadableFile(path: path, reason: "not a regular file")
        }
        self.path = path
        self.size = status.size
        self.descriptor = descriptor
    }

    deinit { SystemFile.closeQuietly(descriptor) }

    /// Reads exactly `buffer.count` bytes starting at `offset`.
    /// - Throws: ``ConvertError/truncatedFile(path:expectedBytes:actualBytes:)`` when the file is shorter
    ///   (for example a shard cut short after its header was validated), ``ConvertError/unreadableFile(path:reason:)``
    ///   on an I/O error.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        try readRaw(into: buffer, at: offset)
        if let digest { try digest.observe(UnsafeRawBufferPointer(buffer), at: offset, of: self) }
    }

    /// `pread` until `buffer` is full.
    func readRaw(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        let done = try Self.reportingFailures(path) { try SystemFile.readFully(descriptor, into: buffer, at: offset, path: path) }
        if done < buffer.count {
            throw ConvertError.truncatedFile(path: path, expectedBytes: offset + buffer.count, actualBytes: offset + done)
        }
    }

    /// Hints that `[offset, offset + count)` will be read soon (no effect where unsupported).
    public func adviseWillNeed(offset: Int, count: Int) {
        SystemFile.adviseWillNeed(descriptor, offset: offset, count: count)
    }

    /// Reads `count` bytes at `offset` into a new array.
    public func read(count: Int, at offset: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        if count > 0 { try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) } }
        return bytes
    }

    /// The file's last path component.
    public var name: String { path.split(separator: "/").last.map(String.init) ?? path }

    /// Maps the whole file read-only for the duration of `body` (used to parse GGUF headers, which the
    /// parser reads from memory; only the pages it touches are read).
    public func withMappedBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        guard size > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        let mapping = try Self.reportingFailures(path) { try SystemFile.mapReadOnly(descriptor, length: size, path: path) }
        defer { SystemFile.unmap(mapping, length: size) }
        return try body(UnsafeRawBufferPointer(start: mapping, count: size))
    }

    /// Runs a `SystemFile` call, reporting its failure as ``ConvertError/unreadableFile(path:reason:)`` with the
    /// operating system's words for it.
    private static func reportingFailures<T>(_ path: String, _ call: () throws -> T) throws -> T {
        do {
            return try call()
        } catch let error as DiffuFormatError {
            throw ConvertError.unreadableFile(path: path, reason: SystemFile.reason(for: error))
        }
    }
}

/// SHA-256 of a source file computed from the reads the conversion makes anyway, so that a checkpoint
/// is read once, not once for the checksum and once for the weights.
///
/// Reads arrive at arbitrary offsets. The digest has taken the prefix `[0, position)`; a read that
/// starts at `position` extends it, a read that starts later first takes the gap (read explicitly), and
/// bytes before `position` were already taken. ``finish(_:)`` takes the tail. The result is the file's
/// SHA-256 whatever the read order; reading tensors in file order keeps the gaps small (headers and
/// skipped tensors).
///
/// The hashing itself runs on a serial background queue, overlapping the decoding and packing of the
/// tensors; at most ``maximumPendingChunks`` copied chunks (≤ 8 MB each) wait for it, which bounds the
/// extra memory. `observe` and `finish` are called from the one thread that reads the sources.
public final class StreamingDigest: @unchecked Sendable {
    // @unchecked: `hasher` is only touched on `queue`; `position` only on the reading thread.
    private var hasher = SHA256()
    private let queue = DispatchQueue(label: "diffu.convert.sha256")
    private let budget = DispatchSemaphore(value: StreamingDigest.maximumPendingChunks)
    /// Bytes taken so far (a prefix of the file).
    public private(set) var position = 0

    /// Chunks that may wait for the hashing queue.
    public static let maximumPendingChunks = 6

    /// Creates an empty digest.
    public init() {}

    func observe(_ bytes: UnsafeRawBufferPointer, at offset: Int, of file: SourceFile) throws {
        if offset > position { try takeRange(of: file, upTo: offset) }
        let end = offset + bytes.count
        guard end > position else { return }
        enqueue(UnsafeRawBufferPointer(rebasing: bytes[(position - offset)...]))
        position = end
    }

    private func enqueue(_ bytes: UnsafeRawBufferPointer) {
        let copy = Array(bytes)
        budget.wait()
        queue.async {
            copy.withUnsafeBytes { self.hasher.update($0) }
            self.budget.signal()
        }
    }

    /// Takes `[position, end)` by reading it.
    private func takeRange(of file: SourceFile, upTo end: Int) throws {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
        defer { chunk.deallocate() }
        while position < end {
            let count = min(chunk.count, end - position)
            let slice = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<count])
            try file.readRaw(into: slice, at: position)
            enqueue(UnsafeRawBufferPointer(slice))
            position += count
        }
    }

    /// Takes the rest of the file, waits for the hashing queue and returns the lower-case hexadecimal SHA-256.
    public func finish(_ file: SourceFile) throws -> String {
        do {
            try takeRange(of: file, upTo: file.size)
        } catch {
            queue.sync {}  // let pending work drain before the error propagates
            throw error
        }
        return queue.sync { SHA256.hexString(hasher.finalize()) }
    }
}

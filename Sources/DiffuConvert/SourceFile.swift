#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only file opened for positioned reads (`pread`), so that a tensor's bytes can be fetched
/// without reading or mapping anything else of a multi-gigabyte checkpoint.
public final class SourceFile: @unchecked Sendable {
    // @unchecked: the descriptor is immutable after init and `pread` is thread-safe.

    /// The path the file was opened from.
    public let path: String
    /// The file's size in bytes at open time.
    public let size: Int
    private let descriptor: Int32

    /// Opens `path` for reading.
    /// - Throws: ``ConvertError/unreadableFile(path:reason:)`` when it cannot be opened or is not a regular file.
    public init(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ConvertError.unreadableFile(path: path, reason: Self.errorText()) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let reason = Self.errorText()
            close(descriptor)
            throw ConvertError.unreadableFile(path: path, reason: reason)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw ConvertError.unreadableFile(path: path, reason: "not a regular file")
        }
        self.path = path
        self.size = Int(status.st_size)
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Reads exactly `buffer.count` bytes starting at `offset`.
    /// - Throws: ``ConvertError/truncatedFile(path:expectedBytes:actualBytes:)`` when the file is shorter
    ///   (for example a shard cut short after its header was validated), ``ConvertError/unreadableFile(path:reason:)``
    ///   on an I/O error.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if count < 0 {
                if errno == EINTR { continue }
                throw ConvertError.unreadableFile(path: path, reason: Self.errorText())
            }
            if count == 0 {
                throw ConvertError.truncatedFile(path: path, expectedBytes: offset + buffer.count, actualBytes: offset + done)
            }
            done += count
        }
    }

    /// Reads `count` bytes at `offset` into a new array.
    public func read(count: Int, at offset: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        if count > 0 { try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) } }
        return bytes
    }

    /// Calls `body` with successive chunks of the whole file, in order (for checksums).
    public func forEachChunk(size chunkSize: Int = 4 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var offset = 0
        while offset < size {
            let count = min(chunkSize, size - offset)
            try buffer.withUnsafeMutableBytes { raw in
                let slice = UnsafeMutableRawBufferPointer(rebasing: raw[0..<count])
                try read(into: slice, at: offset)
                try body(UnsafeRawBufferPointer(slice))
            }
            offset += count
        }
    }

    /// The file's last path component.
    public var name: String { path.split(separator: "/").last.map(String.init) ?? path }

    /// Maps the whole file read-only for the duration of `body` (used to parse GGUF headers, which the
    /// parser reads from memory; only the pages it touches are read).
    public func withMappedBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        guard size > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapping != MAP_FAILED else {
            throw ConvertError.unreadableFile(path: path, reason: Self.errorText())
        }
        defer { munmap(mapping, size) }
        return try body(UnsafeRawBufferPointer(start: mapping, count: size))
    }

    static func errorText() -> String { String(cString: strerror(errno)) }
}

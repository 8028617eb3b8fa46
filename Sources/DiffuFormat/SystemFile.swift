// The only file in DiffuFormat and DiffuConvert that calls the operating system's file API directly:
// open, stat, mmap, read, pread, write, fsync, rename, unlink, readdir, kill(pid, 0). Everything else goes
// through these wrappers, which turn `errno` into `DiffuFormatError` values; the converter's `SourceFile`
// uses the `package` ones and reports their failures as its own `ConvertError`s.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, typed wrappers over the POSIX calls the reader, the writer and the converter's source files need.
package enum SystemFile {
    /// The current `errno`.
    static var lastError: Int32 { errno }

    /// The text of an `errno` value.
    package static func message(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }

    /// Whether `code` means the file system ran out of space (or quota).
    static func isOutOfSpace(_ code: Int32) -> Bool {
        code == ENOSPC || code == EDQUOT
    }

    /// Builds the error for a failed call: disk-full errors get their own case.
    static func failure(_ operation: String, path: String, code: Int32) -> DiffuFormatError {
        if isOutOfSpace(code) { return .diskFull(path: path) }
        return .ioFailure(operation: operation, path: path, message: message(code))
    }

    /// Opens an existing file read-only.
    package static func openForReading(_ path: String) throws -> Int32 {
        let descriptor = retryingInterrupts { open(path, O_RDONLY | O_CLOEXEC) }
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT { throw DiffuFormatError.fileNotFound(path: path) }
            throw DiffuFormatError.ioFailure(operation: "open", path: path, message: message(code))
        }
        return descriptor
    }

    /// Creates a new file that must not exist yet (`O_EXCL`), write-only, mode 0644.
    static func createExclusive(_ path: String) throws -> Int32 {
        let descriptor = retryingInterrupts { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
        guard descriptor >= 0 else { throw failure("create", path: path, code: errno) }
        return descriptor
    }

    /// Opens a directory for `fsync`; `nil` when that is not possible (the rename still happened).
    static func openDirectory(_ path: String) -> Int32? {
        let descriptor = retryingInterrupts { open(path, O_RDONLY | O_CLOEXEC) }
        return descriptor >= 0 ? descriptor : nil
    }

    /// Closes a descriptor, ignoring errors (used on paths that already failed or only read).
    package static func closeQuietly(_ descriptor: Int32) {
        _ = close(descriptor)
    }

    /// Closes a written descriptor; a failure here can mean lost data (NFS, quota), so it is reported.
    static func closeChecked(_ descriptor: Int32, path: String) throws {
        if close(descriptor) != 0 { throw failure("close", path: path, code: errno) }
    }

    /// Size in bytes and whether the descriptor is a regular file.
    package static func status(_ descriptor: Int32, path: String) throws -> (size: Int, isRegular: Bool) {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw DiffuFormatError.ioFailure(operation: "fstat", path: path, message: message(errno))
        }
        return (Int(info.st_size), (info.st_mode & S_IFMT) == S_IFREG)
    }

    /// Whether anything (file, directory, link) exists at `path`.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Whether `path` is an existing directory.
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Maps `length` bytes of a file read-only and private. `length` must be positive.
    package static func mapReadOnly(_ descriptor: Int32, length: Int, path: String) throws -> UnsafeRawPointer {
        let address = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw DiffuFormatError.ioFailure(operation: "mmap", path: path, message: message(errno))
        }
        return UnsafeRawPointer(address)
    }

    /// Unmaps a mapping made by ``mapReadOnly(_:length:path:)``.
    package static func unmap(_ address: UnsafeRawPointer, length: Int) {
        _ = munmap(UnsafeMutableRawPointer(mutating: address), length)
    }

    /// Reads up to `buffer.count` bytes at the descriptor's current position (`read`), retrying
    /// interrupts; returns the bytes read, 0 at the end of the file.
    package static func readSome(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let count = read(descriptor, base, buffer.count)
            if count >= 0 { return count }
            let code = errno
            if code != EINTR { throw DiffuFormatError.ioFailure(operation: "read", path: path, message: message(code)) }
        }
    }

    /// Reads into `buffer` from byte `offset` of the file (`pread`), retrying short reads and interrupts,
    /// until the buffer is full or the file ends; returns the bytes read (fewer than `buffer.count` only
    /// at the end of the file).
    package static func readFully(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, base + done, buffer.count - done, off_t(offset + done))
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw DiffuFormatError.ioFailure(operation: "pread", path: path, message: message(code))
            }
            if count == 0 { break }
            done += count
        }
        return done
    }

    /// Hints that `[offset, offset + count)` of the file will be read soon (`posix_fadvise` on Linux; no
    /// effect elsewhere).
    package static func adviseWillNeed(_ descriptor: Int32, offset: Int, count: Int) {
        #if os(Linux)
        _ = posix_fadvise(descriptor, off_t(offset), off_t(count), Int32(POSIX_FADV_WILLNEED))
        #endif
    }

    /// The operating system's words for the failure behind `error` (the `strerror` text of its `errno`),
    /// for callers that report I/O failures in their own error type.
    package static func reason(for error: DiffuFormatError) -> String {
        switch error {
        case .fileNotFound: message(ENOENT)
        case .diskFull: message(ENOSPC)
        case .ioFailure(_, _, let text): text
        default: error.description
        }
    }

    /// Writes all of `bytes` at `offset` (`pwrite`), retrying short writes and interrupts.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        guard var cursor = bytes.baseAddress else { return }
        var remaining = bytes.count
        var position = offset
        while remaining > 0 {
            let written = pwrite(descriptor, cursor, remaining, off_t(position))
            if written < 0 {
                let code = errno
                if code == EINTR { continue }
                throw failure("write", path: path, code: code)
            }
            if written == 0 { throw DiffuFormatError.diskFull(path: path) }
            cursor += written
            remaining -= written
            position += written
        }
    }

    /// Flushes a file's data and metadata to stable storage.
    static func synchronize(_ descriptor: Int32, path: String) throws {
        while fsync(descriptor) != 0 {
            let code = errno
            if code == EINTR { continue }
            // Directories on some file systems do not support fsync; that is not a data loss.
            if code == EINVAL || code == EROFS { return }
            throw failure("fsync", path: path, code: code)
        }
    }

    /// Renames atomically (same file system).
    static func renameFile(from source: String, to destination: String) throws {
        guard rename(source, destination) == 0 else {
            throw failure("rename", path: destination, code: errno)
        }
    }

    /// Removes a file, ignoring errors (cleanup path).
    static func removeQuietly(_ path: String) {
        _ = unlink(path)
    }

    /// The process id (used in temporary file names).
    static var processIdentifier: Int32 { getpid() }

    /// Whether no process with this id exists (`kill(pid, 0)` fails with `ESRCH`). A process of another
    /// user answers `EPERM` and counts as alive.
    static func processIsGone(_ identifier: Int32) -> Bool {
        identifier > 0 && kill(identifier, 0) == -1 && errno == ESRCH
    }

    /// Names in a directory (without `.` and `..`), or none when it cannot be read.
    static func directoryEntries(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// Physical memory of the machine in bytes, or `nil` when unknown.
    static var physicalMemory: Int? {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return nil }
        let (total, overflow) = pages.multipliedReportingOverflow(by: pageSize)
        return overflow ? nil : total
    }

    private static func retryingInterrupts(_ call: () -> Int32) -> Int32 {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }
}

// The only file in DiffuFormat that calls the operating system directly: open, stat, mmap, write,
// fsync, rename, unlink, readdir, kill(pid, 0). Everything else goes through these wrappers, which turn `errno` into
// `DiffuFormatError` values.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, typed wrappers over the POSIX calls the reader and the writer need.
enum SystemFile {
    /// The current `errno`.
    static var lastError: Int32 { errno }

    /// The text of an `errno` value.
    static func message(_ code: Int32) -> String {
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
    static func openForReading(_ path: String) throws -> Int32 {
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
    static func closeQuietly(_ descriptor: Int32) {
        _ = close(descriptor)
    }

    /// Closes a written descriptor; a failure here can mean lost data (NFS, quota), so it is reported.
    static func closeChecked(_ descriptor: Int32, path: String) throws {
        if close(descriptor) != 0 { throw failure("close", path: path, code: errno) }
    }

    /// Size in bytes and whether the descriptor is a regular file.
    static func status(_ descriptor: Int32, path: String) throws -> (size: Int, isRegular: Bool) {
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
    static func mapReadOnly(_ descriptor: Int32, length: Int, path: String) throws -> UnsafeRawPointer {
        let address = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw DiffuFormatError.ioFailure(operation: "mmap", path: path, message: message(errno))
        }
        return UnsafeRawPointer(address)
    }

    /// Unmaps a mapping made by ``mapReadOnly(_:length:path:)``.
    static func unmap(_ address: UnsafeRawPointer, length: Int) {
        _ = munmap(UnsafeMutableRawPointer(mutating: address), length)
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

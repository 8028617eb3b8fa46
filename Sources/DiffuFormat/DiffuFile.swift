import DiffuStorage
import Foundation

/// One problem found by ``DiffuFile/verify()``.
public struct VerificationFailure: Sendable, Equatable, CustomStringConvertible {
    /// The tensor at fault, or `nil` for a whole-file problem (the file changed size).
    public let tensor: String?
    /// What is wrong.
    public let error: DiffuFormatError

    /// Creates a failure record.
    public init(tensor: String?, error: DiffuFormatError) {
        self.tensor = tensor
        self.error = error
    }

    /// The error's description.
    public var description: String { error.description }
}

/// A `.diffu` file opened read-only through `mmap`.
///
/// ``open(path:)`` validates the header, the metadata and the whole directory (bounds, overflow,
/// alignment, codes, shape × type, overlaps, limits) before returning, and touches only the header,
/// metadata and directory pages — never a weight page. Uncompressed payloads are used straight from
/// the mapping; zstd payloads are checksummed and decompressed once, on first use, into owned 64-byte
/// aligned memory. All pointers handed out stay valid while the `DiffuFile` lives.
///
/// If another process truncates the file while it is mapped, touching a page past the new end raises
/// `SIGBUS` (the OS's rule for mappings); ``verify()`` first compares the file's size with the size at
/// open and reports ``DiffuFormatError/fileChanged(path:openedLength:currentLength:)`` instead of
/// touching the pages. Files are replaced safely by renaming a new file over them (as the writer does):
/// the open mapping keeps the old contents.
public final class DiffuFile: @unchecked Sendable {
    /// The path it was opened from.
    public let path: String
    /// The decoded metadata.
    public let metadata: DiffuMetadata
    /// Every tensor, in directory order.
    public let tensors: [TensorEntry]
    /// Size of the file in bytes at open.
    public let fileLength: Int
    /// Compressed and uncompressed sizes of the metadata block.
    public let metadataLength: (stored: Int, raw: Int)

    private let indexByName: [String: Int]
    private let base: UnsafeRawPointer
    private let descriptor: Int32
    private let lock = NSLock()
    /// Decompressed zstd payloads by directory index (guarded by `lock`).
    private var decompressed: [Int: UnsafeMutableRawBufferPointer] = [:]

    private init(
        path: String, descriptor: Int32, base: UnsafeRawPointer, fileLength: Int, layout: ValidatedLayout
    ) {
        self.path = path
        self.descriptor = descriptor
        self.base = base
        self.fileLength = fileLength
        self.metadata = layout.metadata
        self.tensors = layout.tensors
        self.metadataLength = layout.metadataLength
        var names: [String: Int] = [:]
        for entry in layout.tensors { names[entry.name] = entry.index }
        self.indexByName = names
    }

    deinit {
        for buffer in decompressed.values { buffer.deallocate() }
        SystemFile.unmap(base, length: fileLength)
        SystemFile.closeQuietly(descriptor)
    }

    /// Maps and validates a `.diffu` file.
    /// - Throws: a ``DiffuFormatError`` naming the first fault found (see `formats/diffu-v1.md`,
    ///   "Validation").
    public static func open(path: String) throws -> DiffuFile {
        let descriptor = try SystemFile.openForReading(path)
        var mapped: UnsafeRawPointer?
        var length = 0
        do {
            let status = try SystemFile.status(descriptor, path: path)
            guard status.isRegular else { throw DiffuFormatError.notARegularFile(path: path) }
            length = status.size
            guard length >= FileLayout.headerLength else {
                throw DiffuFormatError.truncated(section: .header, expectedLength: FileLayout.headerLength, actualLength: length)
            }
            let base = try SystemFile.mapReadOnly(descriptor, length: length, path: path)
            mapped = base
            let layout = try validateLayout(of: UnsafeRawBufferPointer(start: base, count: length))
            return DiffuFile(path: path, descriptor: descriptor, base: base, fileLength: length, layout: layout)
        } catch {
            if let mapped { SystemFile.unmap(mapped, length: length) }
            SystemFile.closeQuietly(descriptor)
            throw error
        }
    }

    /// The tensor with this name, if any.
    public func tensor(named name: String) -> TensorEntry? {
        indexByName[name].map { tensors[$0] }
    }

    /// The usable (uncompressed) bytes of a tensor, valid while this `DiffuFile` lives.
    ///
    /// Uncompressed tensors come straight from the mapping (no copy, no page read until used).
    /// zstd tensors are checksummed and decompressed on the first call (thread-safe) into 64-byte
    /// aligned memory owned by the file.
    /// - Throws: ``DiffuFormatError/tensorNotFound(_:)`` for an entry of another file;
    ///   ``DiffuFormatError/checksumMismatch(tensor:expected:actual:)`` or
    ///   ``DiffuFormatError/decompressionFailed(tensor:reason:)`` for a bad zstd payload.
    public func payload(of entry: TensorEntry) throws -> UnsafeRawBufferPointer {
        guard entry.index >= 0, entry.index < tensors.count, tensors[entry.index] == entry else {
            throw DiffuFormatError.tensorNotFound(entry.name)
        }
        let stored = storedBytes(of: entry)
        if entry.compression == .none { return stored }
        lock.lock()
        defer { lock.unlock() }
        if let buffer = decompressed[entry.index] { return UnsafeRawBufferPointer(buffer) }
        let buffer = try decompress(entry)
        decompressed[entry.index] = buffer
        return UnsafeRawBufferPointer(buffer)
    }

    /// The usable bytes of the tensor named `name`.
    /// - Throws: ``DiffuFormatError/tensorNotFound(_:)`` and the errors of ``payload(of:)``.
    public func payload(named name: String) throws -> UnsafeRawBufferPointer {
        guard let entry = tensor(named: name) else { throw DiffuFormatError.tensorNotFound(name) }
        return try payload(of: entry)
    }

    /// Calls `body` with the usable bytes of a tensor.
    public func withPayload<Result>(of entry: TensorEntry, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        try body(try payload(of: entry))
    }

    /// A copy of a `bytes` blob (an embedded tokenizer file).
    /// - Throws: ``DiffuFormatError/tensorNotFound(_:)``, ``DiffuFormatError/notABlob(_:)``, and the
    ///   errors of ``payload(of:)``.
    public func blob(named name: String) throws -> [UInt8] {
        guard let entry = tensor(named: name) else { throw DiffuFormatError.tensorNotFound(name) }
        guard entry.storage == .bytes else { throw DiffuFormatError.notABlob(name) }
        return Array(try payload(of: entry))
    }

    /// The embedded tokenizer files: original file name → contents.
    public func tokenizerFiles() throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for (file, tensorName) in metadata.tokenizer.files { files[file] = try blob(named: tensorName) }
        return files
    }

    /// Checks every payload against its checksum (and every zstd frame decompresses to its recorded
    /// length). Reads the whole file.
    /// - Returns: the failures, each naming its tensor; empty when the file is intact.
    public func verify() -> [VerificationFailure] {
        if let current = try? SystemFile.status(descriptor, path: path), current.size != fileLength {
            return [VerificationFailure(tensor: nil, error: .fileChanged(path: path, openedLength: fileLength, currentLength: current.size))]
        }
        var failures: [VerificationFailure] = []
        for entry in tensors {
            let stored = storedBytes(of: entry)
            let actual = XXH64.hash(stored)
            if actual != entry.checksum {
                failures.append(VerificationFailure(
                    tensor: entry.name, error: .checksumMismatch(tensor: entry.name, expected: entry.checksum, actual: actual)))
                continue
            }
            guard entry.compression == .zstd else { continue }
            lock.lock()
            let cached = decompressed[entry.index] != nil
            lock.unlock()
            if cached { continue }
            do {
                let buffer = try decompress(entry)
                buffer.deallocate()
            } catch let error as DiffuFormatError {
                failures.append(VerificationFailure(tensor: entry.name, error: error))
            } catch {
                failures.append(VerificationFailure(tensor: entry.name, error: .decompressionFailed(tensor: entry.name, reason: "\(error)")))
            }
        }
        return failures
    }

    /// ``verify()`` that throws the first failure.
    public func verifyOrThrow() throws {
        if let failure = verify().first { throw failure.error }
    }

    private func storedBytes(of entry: TensorEntry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + entry.offset, count: entry.storedByteCount)
    }

    /// Checksums and decompresses a zstd payload into a new aligned buffer (caller owns it).
    private func decompress(_ entry: TensorEntry) throws -> UnsafeMutableRawBufferPointer {
        let stored = storedBytes(of: entry)
        let actual = XXH64.hash(stored)
        guard actual == entry.checksum else {
            throw DiffuFormatError.checksumMismatch(tensor: entry.name, expected: entry.checksum, actual: actual)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: entry.rawByteCount, alignment: FileLayout.alignment)
        do {
            try Zstd.decompress(stored, into: buffer)
        } catch {
            buffer.deallocate()
            throw DiffuFormatError.decompressionFailed(tensor: entry.name, reason: error.reason)
        }
        return buffer
    }
}

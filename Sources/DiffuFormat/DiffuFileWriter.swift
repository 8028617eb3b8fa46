import DiffuStorage
import Foundation

/// Writes a `.diffu` file tensor by tensor with bounded memory, then publishes it atomically.
///
/// Each ``add(name:shape:storage:layout:compression:payload:)`` writes its payload to a temporary file
/// in the destination's directory right away (the caller may free the bytes after the call returns);
/// only the small directory entries stay in memory. ``finish(metadata:)`` appends the metadata and the
/// directory, writes the header last, `fsync`s, renames the temporary file onto the destination and
/// `fsync`s the directory. After an I/O error, ``abort()``, or when the writer is released unfinished,
/// the temporary file is removed: no partial file ever appears at the destination. (A process killed
/// outright leaves its temporary file `.NAME.PID.RANDOM.tmp` next to the destination, never at it; the
/// next writer for the same destination removes such files whose process no longer exists.)
///
/// Argument errors (duplicate name, wrong payload size, invalid shape) throw without writing and leave
/// the writer usable; I/O errors (disk full, …) close it. Not thread-safe: use from one task.
public final class DiffuFileWriter {
    /// The final path.
    public let destination: String
    /// The temporary file being written (in the destination's directory).
    public let temporaryPath: String
    private let overwrite: Bool
    private var descriptor: Int32
    private var entries: [TensorEntry] = []
    private var indexByName: [String: Int] = [:]
    /// End of the bytes written so far (the next payload starts at this, rounded up to 64).
    private var position: Int
    private var isOpen = true
    /// Test seam: writing past this many bytes fails as if the disk were full (`ENOSPC`).
    var simulatedCapacity: Int?

    /// Creates the temporary file next to `destination`.
    /// - Throws: ``DiffuFormatError/destinationExists(path:)`` when `destination` exists and
    ///   `overwrite` is false (checked before anything is created), ``DiffuFormatError/notARegularFile(path:)``
    ///   when it is a directory, I/O errors when the directory is not writable.
    public init(destination: String, overwrite: Bool = false) throws {
        if SystemFile.exists(destination) {
            if SystemFile.isDirectory(destination) { throw DiffuFormatError.notARegularFile(path: destination) }
            if !overwrite { throw DiffuFormatError.destinationExists(path: destination) }
        }
        let url = URL(fileURLWithPath: destination)
        let directory = url.deletingLastPathComponent().path
        guard SystemFile.isDirectory(directory) else {
            throw DiffuFormatError.ioFailure(operation: "create", path: destination, message: "no such directory: \(directory)")
        }
        Self.removeAbandonedTemporaryFiles(of: url.lastPathComponent, in: directory)
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(SystemFile.processIdentifier).\(random).tmp").path
        self.destination = destination
        self.temporaryPath = temporary
        self.overwrite = overwrite
        self.descriptor = try SystemFile.createExclusive(temporary)
        self.position = FileLayout.headerLength
        do {
            // A zero header until `finish`: the file reads as "bad magic" if anyone opens it early.
            let zeros = [UInt8](repeating: 0, count: FileLayout.headerLength)
            try zeros.withUnsafeBytes { try write($0, at: 0) }
        } catch {
            closeAndRemove()
            throw error
        }
    }

    deinit {
        if isOpen { closeAndRemove() }
    }

    /// Removes `.NAME.PID.RANDOM.tmp` files in `directory` left by writers for the same destination name
    /// whose process is gone (killed before it could clean up). Files of live processes, including
    /// this one, are left alone.
    static func removeAbandonedTemporaryFiles(of name: String, in directory: String) {
        let prefix = ".\(name)."
        for entry in SystemFile.directoryEntries(directory) where entry.hasPrefix(prefix) && entry.hasSuffix(".tmp") {
            let middle = entry.dropFirst(prefix.count).dropLast(".tmp".count).split(separator: ".", omittingEmptySubsequences: false)
            guard middle.count == 2, let identifier = Int32(middle[0]), !middle[1].isEmpty,
                  middle[1].allSatisfy({ $0.isASCII && ($0.isNumber || $0.isLetter) }),
                  identifier != SystemFile.processIdentifier, SystemFile.processIsGone(identifier) else { continue }
            SystemFile.removeQuietly(directory + "/" + entry)
        }
    }

    /// Number of tensors added so far.
    public var tensorCount: Int { entries.count }

    /// Whether a tensor with this name was already added (one dictionary lookup).
    public func contains(tensorNamed name: String) -> Bool {
        indexByName[name] != nil
    }

    /// Writes one tensor's payload now.
    ///
    /// - Parameters:
    ///   - name: unique, 1…4096 UTF-8 bytes.
    ///   - shape: logical shape (rank 1…8; `panel16` is `[rows, columns]`; `bytes` is `[count]`).
    ///   - payload: exactly `TensorGeometry.byteCount(shape:storage:layout:)` bytes in the stored layout.
    /// - Throws: ``DiffuFormatError/duplicateTensorName(_:)``, ``DiffuFormatError/invalidTensorName(_:)``,
    ///   ``DiffuFormatError/invalidShape(tensor:shape:storage:layout:)``,
    ///   ``DiffuFormatError/payloadSizeMismatch(tensor:expected:actual:)``,
    ///   ``DiffuFormatError/limitExceeded(what:value:limit:)`` (writer stays usable);
    ///   ``DiffuFormatError/diskFull(path:)`` and other I/O errors (writer closed, temporary file removed).
    public func add(
        name: String, shape: [Int], storage: StorageType, layout: TensorLayout,
        compression: CompressionPolicy = .none, payload: UnsafeRawBufferPointer
    ) throws {
        guard isOpen else { throw DiffuFormatError.writerClosed }
        let nameLength = name.utf8.count
        guard nameLength >= 1, nameLength <= FileLayout.maximumNameLength else {
            throw DiffuFormatError.invalidTensorName(name)
        }
        guard indexByName[name] == nil else { throw DiffuFormatError.duplicateTensorName(name) }
        guard entries.count < FileLayout.maximumTensorCount else {
            throw DiffuFormatError.limitExceeded(what: "tensor count", value: entries.count + 1, limit: FileLayout.maximumTensorCount)
        }
        guard shape.count <= FileLayout.maximumRank,
              let rawLength = TensorGeometry.byteCount(shape: shape, storage: storage, layout: layout)
        else {
            throw DiffuFormatError.invalidShape(tensor: name, shape: shape, storage: storage.name, layout: layout.name)
        }
        guard payload.count == rawLength else {
            throw DiffuFormatError.payloadSizeMismatch(tensor: name, expected: rawLength, actual: payload.count)
        }

        var frame: UnsafeMutableRawBufferPointer?
        defer { frame?.deallocate() }
        switch compression {
        case .none:
            break
        case .zstd(let level):
            frame = try compress(payload, level: level, tensor: name)
        case .auto(let threshold, let level):
            let candidate = try compress(payload, level: level, tensor: name)
            if Double(rawLength - candidate.count) >= threshold * Double(rawLength) {
                frame = candidate
            } else {
                candidate.deallocate()
            }
        }
        let stored = frame.map { UnsafeRawBufferPointer($0) } ?? payload

        do {
            guard let offset = FileLayout.alignUp(position) else {
                throw DiffuFormatError.limitExceeded(what: "file size", value: position, limit: Int.max)
            }
            try writePadding(from: position, to: offset)
            try write(stored, at: offset)
            let entry = TensorEntry(
                name: name, shape: shape, storage: storage, layout: layout,
                compression: frame == nil ? .none : .zstd, offset: offset, storedByteCount: stored.count,
                rawByteCount: rawLength, checksum: XXH64.hash(stored), index: entries.count
            )
            indexByName[name] = entries.count
            entries.append(entry)
            position = offset + stored.count
        } catch {
            closeAndRemove()
            throw error
        }
    }

    /// Writes an opaque blob (an embedded tokenizer file) as a rank-1 `bytes` tensor.
    public func addBlob(name: String, bytes: [UInt8], compression: CompressionPolicy = .automatic) throws {
        guard !bytes.isEmpty else {
            throw DiffuFormatError.invalidShape(tensor: name, shape: [0], storage: StorageType.bytes.name, layout: TensorLayout.rowMajor.name)
        }
        try bytes.withUnsafeBytes {
            try add(name: name, shape: [bytes.count], storage: .bytes, layout: .rowMajor, compression: compression, payload: $0)
        }
    }

    /// Writes the metadata, the directory and the header, then publishes the file atomically.
    /// - Throws: ``DiffuFormatError/missingBlob(file:tensor:)`` when the tokenizer section names a tensor
    ///   that was not added as a blob (writer stays usable); ``DiffuFormatError/destinationExists(path:)``
    ///   if the destination appeared meanwhile without `overwrite`; I/O errors. On any I/O error the
    ///   temporary file is removed and nothing is left at the destination.
    public func finish(metadata: DiffuMetadata) throws {
        guard isOpen else { throw DiffuFormatError.writerClosed }
        for (file, tensorName) in metadata.tokenizer.files.sorted(by: { $0.key < $1.key }) {
            guard let index = indexByName[tensorName], entries[index].storage == .bytes else {
                throw DiffuFormatError.missingBlob(file: file, tensor: tensorName)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json: [UInt8]
        do { json = Array(try encoder.encode(metadata)) } catch {
            throw DiffuFormatError.corruptMetadata("cannot encode: \(error)")
        }
        guard json.count <= FileLayout.maximumMetadataLength else {
            throw DiffuFormatError.limitExceeded(what: "metadata length", value: json.count, limit: FileLayout.maximumMetadataLength)
        }
        var directory: [UInt8] = []
        for entry in entries { FileLayout.appendEntry(entry, to: &directory) }
        guard directory.count <= FileLayout.maximumDirectoryLength else {
            throw DiffuFormatError.limitExceeded(what: "directory length", value: directory.count, limit: FileLayout.maximumDirectoryLength)
        }

        do {
            let frame = try json.withUnsafeBytes { bytes in try compress(bytes, level: 19, tensor: "(metadata)") }
            defer { frame.deallocate() }
            guard let metadataOffset = FileLayout.alignUp(position),
                  let directoryOffset = FileLayout.alignUp(metadataOffset + frame.count)
            else { throw DiffuFormatError.limitExceeded(what: "file size", value: position, limit: Int.max) }
            var header = FileLayout.Header()
            header.metadataOffset = metadataOffset
            header.metadataStoredLength = frame.count
            header.metadataRawLength = json.count
            header.metadataChecksum = XXH64.hash(UnsafeRawBufferPointer(frame))
            header.directoryOffset = directoryOffset
            header.directoryLength = directory.count
            header.directoryChecksum = XXH64.hash(directory)
            header.tensorCount = entries.count
            header.fileLength = directoryOffset + directory.count

            try writePadding(from: position, to: metadataOffset)
            try write(UnsafeRawBufferPointer(frame), at: metadataOffset)
            try writePadding(from: metadataOffset + frame.count, to: directoryOffset)
            try directory.withUnsafeBytes { try write($0, at: directoryOffset) }
            try header.encoded().withUnsafeBytes { try write($0, at: 0) }
            try SystemFile.synchronize(descriptor, path: temporaryPath)
            isOpen = false
            try SystemFile.closeChecked(descriptor, path: temporaryPath)
            if !overwrite, SystemFile.exists(destination) { throw DiffuFormatError.destinationExists(path: destination) }
            try SystemFile.renameFile(from: temporaryPath, to: destination)
        } catch {
            closeAndRemove()
            throw error
        }
        let directoryPath = URL(fileURLWithPath: destination).deletingLastPathComponent().path
        if let directoryDescriptor = SystemFile.openDirectory(directoryPath) {
            try? SystemFile.synchronize(directoryDescriptor, path: directoryPath)
            SystemFile.closeQuietly(directoryDescriptor)
        }
    }

    /// Stops writing and removes the temporary file. Safe to call more than once.
    public func abort() {
        if isOpen { closeAndRemove() }
    }

    private func closeAndRemove() {
        if isOpen {
            SystemFile.closeQuietly(descriptor)
            isOpen = false
        }
        SystemFile.removeQuietly(temporaryPath)
    }

    private func compress(_ payload: UnsafeRawBufferPointer, level: Int32, tensor: String) throws -> UnsafeMutableRawBufferPointer {
        do { return try Zstd.compress(payload, level: level) } catch {
            throw DiffuFormatError.compressionFailed(tensor: tensor, reason: error.reason)
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        if let capacity = simulatedCapacity, offset + bytes.count > capacity {
            throw DiffuFormatError.diskFull(path: destination)
        }
        try SystemFile.writeAll(descriptor, bytes, at: offset, path: destination)
    }

    private func writePadding(from start: Int, to end: Int) throws {
        guard end > start else { return }
        let zeros = [UInt8](repeating: 0, count: end - start)
        try zeros.withUnsafeBytes { try write($0, at: start) }
    }
}

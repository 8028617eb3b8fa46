import DiffuFormat
import DiffuStorage
import Foundation

/// The production sink: a `.diffu` file written by `DiffuFormat.DiffuFileWriter` (temporary file next
/// to the destination, fsync, atomic rename; removed on `abort`).
public final class DiffuFileSink: TensorSink {
    private let writer: DiffuFileWriter
    private let compression: CompressionPolicy

    /// The writer's temporary file (for interrupt handlers that must remove it).
    public var temporaryPath: String { writer.temporaryPath }

    /// Creates the writer. `compress`: the writer's `auto` zstd policy per tensor (10 % threshold).
    /// - Throws: ``ConvertError/outputExists(path:)`` when `destination` exists and `overwrite` is false,
    ///   ``ConvertError/writeFailed(path:reason:)`` for other writer errors.
    public init(destination: String, overwrite: Bool, compress: Bool) throws {
        do {
            writer = try DiffuFileWriter(destination: destination, overwrite: overwrite)
        } catch DiffuFormatError.destinationExists {
            throw ConvertError.outputExists(path: destination)
        } catch {
            throw ConvertError.writeFailed(path: destination, reason: "\(error)")
        }
        compression = compress ? .automatic : .none
    }

    /// Writes one tensor (zstd per the policy).
    public func add(name: String, shape: [Int], storage: StorageType, layout: TensorLayout, payload: UnsafeRawBufferPointer) throws {
        do {
            try writer.add(name: name, shape: shape, storage: storage, layout: layout, compression: compression, payload: payload)
        } catch {
            throw ConvertError.writeFailed(path: writer.destination, reason: "\(error)")
        }
    }

    /// Writes metadata and directory and publishes the file.
    public func finish(metadata: ConversionMetadata) throws {
        do {
            try writer.finish(metadata: try metadata.diffuMetadata())
        } catch let error as ConvertError {
            throw error
        } catch {
            throw ConvertError.writeFailed(path: writer.destination, reason: "\(error)")
        }
    }

    /// Removes the temporary file.
    public func abort() { writer.abort() }
}

import Foundation

/// A fresh, empty scratch directory under the system's temporary directory, removed when the object
/// goes away. Test support only, not a product.
public final class TemporaryDirectory {
    /// The directory.
    public let url: URL
    /// The directory's file-system path.
    public var path: String { url.path }

    /// Creates the directory (named `<prefix>-<UUID>`).
    /// - Throws: the file manager's error when it cannot be created.
    public init(prefix: String = "diffu-tests") throws {
        url = try Self.make(prefix: prefix)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Creates a fresh, empty directory named `<prefix>-<UUID>` that the caller removes.
    /// - Throws: the file manager's error when it cannot be created.
    public static func make(prefix: String = "diffu-tests") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes `bytes` to the file `name` inside the directory.
    /// - Throws: the write's error.
    public func write(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: url.appendingPathComponent(name))
    }

    /// Writes `text` as UTF-8 to the file `name` inside the directory.
    /// - Throws: the write's error.
    public func write(_ name: String, text: String) throws { try write(name, Array(text.utf8)) }
}

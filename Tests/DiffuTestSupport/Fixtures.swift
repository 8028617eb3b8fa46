import Foundation

/// The committed fixtures under `Tests/Fixtures`, found from this source file's path (every test target
/// reads them through here). Test support only, not a product.
public enum TestFixtures {
    /// The `Tests/Fixtures` directory.
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// `Tests/Fixtures/<relative>` (`relative` may hold several components, such as `models/gpt2_plain_f32`).
    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// The file-system path of `Tests/Fixtures/<relative>`.
    public static func path(_ relative: String) -> String { url(relative).path }

    /// `Tests/Fixtures/<relative>`, which must exist.
    /// - Throws: ``FixtureError/missing(_:)`` when nothing is there.
    public static func existingURL(_ relative: String) throws -> URL {
        let url = url(relative)
        guard FileManager.default.fileExists(atPath: url.path) else { throw FixtureError.missing(url.path) }
        return url
    }

    /// The contents of the fixture file `Tests/Fixtures/<relative>`.
    /// - Throws: ``FixtureError/missing(_:)`` when it cannot be read.
    public static func data(_ relative: String) throws -> Data {
        try data(at: url(relative))
    }

    /// The bytes of the fixture file `Tests/Fixtures/<relative>`.
    /// - Throws: ``FixtureError/missing(_:)`` when it cannot be read.
    public static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try data(relative))
    }

    /// The contents of the fixture file at `url` (for readers that keep their own fixture directory).
    /// - Throws: ``FixtureError/missing(_:)`` when it cannot be read.
    public static func data(at url: URL) throws -> Data {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw FixtureError.missing(url.path) }
        return data
    }
}

/// Why a committed fixture could not be used; thrown out of a test, it fails the test (a missing fixture
/// never skips one).
public enum FixtureError: Error, CustomStringConvertible {
    /// The file at this path is absent or unreadable (the `tools/` generator that makes it was not run).
    case missing(String)
    /// The fixture was read but its contents are not what the reader expects; the reason says what.
    case malformed(String)

    /// A one-line message naming the path or the reason.
    public var description: String {
        switch self {
        case .missing(let path): "missing fixture \(path) (run its generator in tools/)"
        case .malformed(let reason): "malformed fixture: \(reason)"
        }
    }
}

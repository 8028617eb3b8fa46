import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuConvert

/// `SourceFile` over DiffuFormat's `SystemFile`: its failures stay ``ConvertError``s with the operating
/// system's words, reads are exact, and a mapping shows the file's bytes.
@Suite struct SourceFileTests {
    @Test func missingFileIsUnreadableWithTheSystemsReason() {
        let path = NSTemporaryDirectory() + "diffu-no-such-file-\(UUID().uuidString)"
        #expect(throws: ConvertError.unreadableFile(path: path, reason: "No such file or directory")) {
            _ = try SourceFile(path: path)
        }
    }

    @Test func directoryIsNotARegularFile() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: ConvertError.unreadableFile(path: directory.path, reason: "not a regular file")) {
            _ = try SourceFile(path: directory.path)
        }
    }

    @Test func readsAndMapsTheFilesBytes() throws {
        let directory = try TemporaryDirectory()
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        try directory.write("data.bin", bytes)
        let file = try SourceFile(path: directory.path + "/data.bin")
        #expect(file.size == 1000)
        #expect(try file.read(count: 10, at: 990) == Array(bytes[990...]))
        #expect(try file.withMappedBytes { Array($0) } == bytes)
        #expect(throws: ConvertError.truncatedFile(path: file.path, expectedBytes: 1001, actualBytes: 1000)) {
            _ = try file.read(count: 11, at: 990)
        }
    }
}

import DiffuJSON
import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuConvert

/// Committed fixtures `Tests/Fixtures/<topic>/<name>`, read through the shared ``TestFixtures``.
enum Fixtures {
    static func path(_ topic: String, _ name: String) -> String {
        TestFixtures.path("\(topic)/\(name)")
    }

    /// Reads a fixture file; a missing fixture fails the test (``FixtureError/missing(_:)``).
    static func bytes(_ topic: String, _ name: String) throws -> [UInt8] {
        try TestFixtures.bytes("\(topic)/\(name)")
    }
}

/// A canonical f32 dump: `<stem>.json` (`tensors`: name, shape, offset in bytes) + `<stem>.bin`.
struct ExpectedTensors {
    let json: JSONValue
    var tensors: [String: (shape: [Int], values: [Float])] = [:]

    init(topic: String, json jsonName: String, bin binName: String) throws {
        let json = try #require(JSONValue.parsed(try Fixtures.bytes(topic, jsonName)), "\(jsonName) is not JSON")
        self.json = json
        let blob = try Fixtures.bytes(topic, binName)
        for entry in json["tensors"]?.arrayValue ?? [] {
            let name = try #require(entry["name"]?.stringValue)
            let shapeValues = entry["shape"]?.arrayValue?.compactMap { $0.intValue }
            let shape = try #require(shapeValues)
            let offset = try #require(entry["offset"]?.intValue)
            let count = shape.reduce(1, *)
            try #require(offset + 4 * count <= blob.count, "tensor \(name) outside \(binName)")
            let values = blob[offset..<(offset + 4 * count)].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            tensors[name] = (shape, values)
        }
    }
}

/// Builds safetensors files for tests of the reader's validation.
struct SafetensorsBuilder {
    struct Entry { let name: String; let dtype: String; let shape: [Int]; let bytes: [UInt8] }
    var entries: [Entry] = []

    mutating func add(_ name: String, dtype: String = "F32", shape: [Int], floats: [Float]) {
        precondition(dtype == "F32")
        entries.append(Entry(name: name, dtype: dtype, shape: shape, bytes: floats.withUnsafeBytes { Array($0) }))
    }

    mutating func add(_ name: String, dtype: String, shape: [Int], bytes: [UInt8]) {
        entries.append(Entry(name: name, dtype: dtype, shape: shape, bytes: bytes))
    }

    /// The file; `header` lets a test rewrite the JSON before it is framed.
    func build(header transform: (String) -> String = { $0 }) -> [UInt8] {
        var offset = 0
        var parts: [String] = []
        var data: [UInt8] = []
        for entry in entries {
            let shape = entry.shape.map(String.init).joined(separator: ",")
            parts.append("\"\(entry.name)\":{\"dtype\":\"\(entry.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + entry.bytes.count)]}")
            offset += entry.bytes.count
            data += entry.bytes
        }
        let header = Array(transform("{" + parts.joined(separator: ",") + "}").utf8)
        var file: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { file += $0 }
        return file + header + data
    }
}

/// The first index where two arrays differ (bitwise for floats), or the shorter count when lengths
/// differ; `nil` when identical. Keeps failure messages short.
func firstMismatch(_ a: [Float], _ b: [Float]) -> Int? {
    if a.count != b.count { return min(a.count, b.count) }
    return a.indices.first { a[$0].bitPattern != b[$0].bitPattern }
}

import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuConvert

/// The safetensors reader's validation: every malformed file is a typed error naming the fault.
@Suite struct SafetensorsTests {
    static func file(_ bytes: [UInt8]) throws -> (TemporaryDirectory, String) {
        let directory = try TemporaryDirectory()
        try directory.write("model.safetensors", bytes)
        return (directory, directory.path + "/model.safetensors")
    }

    @Test func readsF32F16AndBF16() throws {
        var builder = SafetensorsBuilder()
        builder.add("a", shape: [2, 3], floats: [1, -2, 3.5, 0, 1e-3, -7])
        // 1.0, -2.0 as binary16: 0x3C00, 0xC000; 0.5 as bfloat16: 0x3F00, -3.0: 0xC040.
        builder.add("h", dtype: "F16", shape: [2], bytes: [0x00, 0x3C, 0x00, 0xC0])
        builder.add("b", dtype: "BF16", shape: [2], bytes: [0x00, 0x3F, 0x40, 0xC0])
        let (directory, path) = try Self.file(builder.build(header: { $0.replacingOccurrences(of: "{\"a\"", with: "{\"__metadata__\":{\"format\":\"pt\"},\"a\"") }))
        let file = try SafetensorsFile.open(path: path)
        _ = directory
        #expect(file.metadata == ["format": "pt"])
        let byName = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0) })
        #expect(try byName["a"]?.readFloats() == [1, -2, 3.5, 0, 1e-3, -7])
        #expect(try byName["a"]?.readFloats(rows: 1..<2) == [0, 1e-3, -7])
        #expect(try byName["h"]?.readFloats() == [1, -2])
        #expect(try byName["b"]?.readFloats() == [0.5, -3])
    }

    @Test func unknownDtypeStringIsRejectedAtOpen() throws {
        var builder = SafetensorsBuilder()
        builder.add("weird", dtype: "Q9", shape: [2], bytes: [0, 0])
        let (directory, path) = try Self.file(builder.build())
        _ = directory
        #expect(throws: ConvertError.unsupportedDataType(tensor: "weird", dataType: "Q9")) { _ = try SafetensorsFile.open(path: path) }
    }

    @Test func nonFloatDtypeFailsOnlyWhenRead() throws {
        var builder = SafetensorsBuilder()
        builder.add("ids", dtype: "I64", shape: [2], bytes: [UInt8](repeating: 0, count: 16))
        let (directory, path) = try Self.file(builder.build())
        _ = directory
        let file = try SafetensorsFile.open(path: path)
        #expect(throws: ConvertError.unsupportedDataType(tensor: "ids", dataType: "I64")) { _ = try file.tensors[0].readFloats() }
    }

    @Test func sizeMismatchIsATypedError() throws {
        var builder = SafetensorsBuilder()
        builder.add("a", dtype: "F32", shape: [2, 2], bytes: [UInt8](repeating: 0, count: 12))
        let (directory, path) = try Self.file(builder.build())
        _ = directory
        #expect(throws: ConvertError.tensorSizeMismatch(file: "model.safetensors", tensor: "a", expectedBytes: 16, actualBytes: 12)) {
            _ = try SafetensorsFile.open(path: path)
        }
    }

    @Test func truncatedDataIsATypedError() throws {
        var builder = SafetensorsBuilder()
        builder.add("a", shape: [4], floats: [1, 2, 3, 4])
        let bytes = builder.build()
        let (directory, path) = try Self.file(Array(bytes.dropLast(3)))
        _ = directory
        #expect(throws: ConvertError.truncatedFile(path: path, expectedBytes: bytes.count, actualBytes: bytes.count - 3)) {
            _ = try SafetensorsFile.open(path: path)
        }
        // Cut inside the header.
        let (directory2, path2) = try Self.file(Array(bytes.prefix(20)))
        _ = directory2
        #expect(throws: ConvertError.self) { _ = try SafetensorsFile.open(path: path2) }
        let (directory3, path3) = try Self.file([1, 2, 3])
        _ = directory3
        #expect(throws: ConvertError.truncatedFile(path: path3, expectedBytes: 8, actualBytes: 3)) { _ = try SafetensorsFile.open(path: path3) }
    }

    @Test func overlappingTensorsAreATypedError() throws {
        var builder = SafetensorsBuilder()
        builder.add("a", shape: [2], floats: [1, 2])
        builder.add("b", shape: [2], floats: [3, 4])
        let bytes = builder.build(header: { $0.replacingOccurrences(of: "[8,16]", with: "[4,12]") })
        let (directory, path) = try Self.file(bytes)
        _ = directory
        #expect(throws: ConvertError.overlappingTensors(file: "model.safetensors", first: "a", second: "b")) {
            _ = try SafetensorsFile.open(path: path)
        }
    }

    @Test func outOfFileOffsetsAreATypedError() throws {
        var builder = SafetensorsBuilder()
        builder.add("a", shape: [2], floats: [1, 2])
        let bytes = builder.build(header: { $0.replacingOccurrences(of: "\"shape\":[2],\"data_offsets\":[0,8]", with: "\"shape\":[2],\"data_offsets\":[800,808]") })
        let (directory, path) = try Self.file(bytes)
        _ = directory
        #expect(throws: ConvertError.self) { _ = try SafetensorsFile.open(path: path) }
    }

    @Test func hugeHeaderLengthIsATypedError() throws {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { bytes += $0 }
        bytes += Array("{}".utf8)
        let (directory, path) = try Self.file(bytes)
        _ = directory
        #expect(throws: ConvertError.safetensorsHeaderTooLarge(file: "model.safetensors", byteCount: 1 << 40)) {
            _ = try SafetensorsFile.open(path: path)
        }
    }

    @Test(arguments: ["{not json", "[1,2]", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]}}"])
    func malformedHeadersAreTypedErrors(header: String) throws {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8) + [0, 0, 0, 0]
        let (directory, path) = try Self.file(bytes)
        _ = directory
        #expect {
            _ = try SafetensorsFile.open(path: path)
        } throws: { error in
            guard case ConvertError.invalidSafetensorsHeader(let file, _) = error else { return false }
            return file == "model.safetensors"
        }
    }
}

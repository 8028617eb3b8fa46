import Foundation
import Testing
import DiffuGGUF

/// Builds GGUF bytes by hand (independently of `GGUFWriter`), following the published GGUF v3 layout.
struct HandBuiltGGUF {
    var bytes: [UInt8] = Array("GGUF".utf8)
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func string(_ value: String) { u64(UInt64(value.utf8.count)); bytes += Array(value.utf8) }
}

@Suite struct GGUFTests {
    /// One metadata key and one F32 tensor [3, 2] (ggml dims [2, 3]) with data at the aligned offset.
    func sampleFile() -> [UInt8] {
        var file = HandBuiltGGUF()
        file.u32(3); file.u64(1); file.u64(2)
        file.string("general.architecture"); file.u32(8); file.string("llama")
        file.string("tokenizer.ggml.tokens"); file.u32(9); file.u32(8); file.u64(2); file.string("a"); file.string("bc")
        file.string("w"); file.u32(2); file.u64(2); file.u64(3); file.u32(0); file.u64(0)
        while file.bytes.count % 32 != 0 { file.bytes.append(0) }
        for value: Float in [1, 2, 3, 4, 5, 6] { file.u32(value.bitPattern) }
        return file.bytes
    }

    @Test func parsesHandBuiltFile() throws {
        let bytes = sampleFile()
        let file = try GGUFFile.parse(bytes)
        #expect(file.version == 3)
        #expect(file["general.architecture"]?.stringValue == "llama")
        #expect(file["tokenizer.ggml.tokens"]?.arrayValue?.compactMap(\.stringValue) == ["a", "bc"])
        let tensor = try #require(file.tensor(named: "w"))
        #expect(tensor.dimensions == [2, 3])
        #expect(tensor.type == .f32)
        #expect(tensor.byteCount == 24)
        #expect(tensor.absoluteOffset == file.dataOffset)
        #expect(file.dataOffset % 32 == 0)
        let first = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: tensor.absoluteOffset, as: Float.self) }
        #expect(first == 1)
    }

    @Test func everyTruncationIsATypedError() throws {
        let bytes = sampleFile()
        for length in 0..<bytes.count {
            #expect(throws: GGUFError.self, "prefix of \(length) bytes") { try GGUFFile.parse(Array(bytes[0..<length])) }
        }
    }

    @Test func hostileCountsAreRejectedBeforeAllocation() throws {
        var file = HandBuiltGGUF()
        file.u32(3); file.u64(0); file.u64(1)
        file.string("k"); file.u32(9); file.u32(4); file.u64(UInt64.max / 2)
        #expect(throws: GGUFError.implausibleCount(what: "array length of 'k'", count: UInt64.max / 2)) {
            try GGUFFile.parse(file.bytes)
        }
        var huge = HandBuiltGGUF()
        huge.u32(3); huge.u64(UInt64.max); huge.u64(0)
        #expect(throws: GGUFError.implausibleCount(what: "tensor count", count: UInt64.max)) { try GGUFFile.parse(huge.bytes) }
        var badVersion = HandBuiltGGUF()
        badVersion.u32(9); badVersion.u64(0); badVersion.u64(0)
        #expect(throws: GGUFError.unsupportedVersion(9)) { try GGUFFile.parse(badVersion.bytes) }
        #expect(throws: GGUFError.badMagic) { try GGUFFile.parse(Array("GGML0000".utf8)) }
    }

    @Test func tensorOutsideTheFileIsRejected() throws {
        var bytes = sampleFile()
        bytes.removeLast(4)  // the last float is cut off
        #expect(throws: GGUFError.tensorOutOfBounds(tensor: "w")) { try GGUFFile.parse(bytes) }
    }

    @Test func writerRoundTripsEveryValueType() throws {
        let metadata: [(key: String, value: GGUFValue)] = [
            ("u8", .unsigned(200, .uint8)), ("u16", .unsigned(60000, .uint16)), ("u32", .unsigned(4_000_000_000, .uint32)),
            ("u64", .unsigned(UInt64.max, .uint64)), ("i8", .signed(-100, .int8)), ("i16", .signed(-30000, .int16)),
            ("i32", .signed(-2_000_000_000, .int32)), ("i64", .signed(Int64.min, .int64)), ("f32", .float32(1.5)),
            ("f64", .float64(-2.25)), ("b", .bool(true)), ("s", .string("héllo ▁")),
            ("scores", .array(elementType: .float32, values: [.float32(-1), .float32(0.5)])),
            ("nested", .array(elementType: .array, values: [.array(elementType: .int32, values: [.signed(7, .int32)])])),
        ]
        let file = try GGUFFile.parse(GGUFWriter.metadataOnly(metadata))
        #expect(file.tensors.isEmpty)
        #expect(file.metadata.map(\.key) == metadata.map(\.key))
        for (index, entry) in metadata.enumerated() { #expect(file.metadata[index].value == entry.value, "\(entry.key)") }
    }

    @Test func randomCorruptionNeverTraps() throws {
        let original = sampleFile()
        var state: UInt64 = 99
        for _ in 0..<2000 {
            var bytes = original
            for _ in 0..<3 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let position = Int(state >> 33) % bytes.count
                bytes[position] = UInt8(truncatingIfNeeded: state >> 17)
            }
            _ = try? GGUFFile.parse(bytes)  // any outcome but a trap is acceptable
        }
    }
}

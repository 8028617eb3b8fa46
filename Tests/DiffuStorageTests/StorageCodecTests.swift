import Testing
import DiffuStorage
import DiffuTestSupport

/// The codec registry (``StorageType/withCodec(_:)``) and the contract every codec keeps; the tests
/// that take `StorageType.allCases` cover a new storage type without being edited.
@Suite struct StorageCodecTests {
    /// Every type but `bytes` has a codec, and its traits agree with the type's.
    @Test func everyTypeButBytesHasAConsistentCodec() throws {
        for storage in StorageType.allCases {
            guard let codec = storage.codec else {
                #expect(storage == .bytes)
                #expect(PanelGeometry(rows: 16, columns: 32, storage: storage) == nil)
                continue
            }
            #expect(StorageType(name: codec.name) == storage)
            #expect(codec.blockByteCount > 0 && codec.blockByteCount % 32 == 0, "\(storage): 32-byte aligned blocks")
            #expect(PanelGeometry.blockByteCount(storage) == codec.blockByteCount)
            #expect(try #require(PanelGeometry(rows: 17, columns: 33, storage: storage)).byteCount == 4 * codec.blockByteCount)
            #expect((codec.codeRange != nil) == (codec is any ScaledIntegerCodec.Type), "\(storage): integer types store codes")
            #expect(storage.isQuantized == (codec.codeRange != nil))
        }
    }

    /// The traits of the released types (the file format's, unchanged by the codecs).
    @Test func releasedTypesKeepTheirTraits() {
        let types = StorageType.allCases
        #expect(types.map(\.name) == ["f32", "f16", "bf16", "q8", "q4", "bytes"])
        #expect(types.map { PanelGeometry.blockByteCount($0) } == [2048, 1024, 1024, 544, 288, 0])
        #expect(types.map(\.elementByteCount) == [4, 2, 2, nil, nil, 1])
        #expect(types.map(\.codeRange) == [nil, nil, nil, -128...127, -8...7, nil])
        #expect(types.map(\.isQuantized) == [false, false, false, true, true, false])
        #expect(types.map(\.hasIntegerKernels) == [false, false, false, true, true, false])
    }

    /// Each codec's tile decoder (the f32 route's) gives its reference decoder's values bit for bit: on
    /// random bytes (every code, and scales or values that are subnormal, infinite or NaN) and on packed
    /// random values.
    @Test(arguments: StorageType.allCases.filter { $0.codec != nil })
    func tileDecoderMatchesReferenceDecoder(storage: StorageType) throws {
        let codec = try #require(storage.codec)
        let blockCount = 3, width = PanelGeometry.panelWidth, length = PanelGeometry.blockLength
        var generator = SplitMix64(state: 0xC0DEC + UInt64(storage.rawValue))
        let randomBytes = (0..<(blockCount * codec.blockByteCount)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let geometry = try #require(PanelGeometry(rows: width, columns: blockCount * length, storage: storage))
        let values = (0..<(width * blockCount * length)).map { _ in generator.nextSignedUnit() * 5 }
        var packed = [UInt8](repeating: 0, count: geometry.byteCount)
        try values.withUnsafeBufferPointer { source in
            try packed.withUnsafeMutableBytes { try WeightPacking.pack(source, geometry: geometry, into: $0) }
        }
        let tile = UnsafeMutableRawPointer.allocate(byteCount: blockCount * length * width * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: blockCount * length * width)
        defer { tile.deallocate() }
        for payload in [randomBytes, packed] {
            var mismatches: [String] = []
            payload.withUnsafeBytes { bytes in
                let source = bytes.baseAddress!
                codec.decodeTile(source, blockCount: blockCount, into: tile)
                var reference = [Float](repeating: 0, count: length)
                for block in 0..<blockCount {
                    for lane in 0..<width {
                        reference.withUnsafeMutableBufferPointer {
                            codec.decode(source + block * codec.blockByteCount, lane: lane, count: length, into: $0.baseAddress!)
                        }
                        for k in 0..<length where tile[(block * length + k) * width + lane].bitPattern != reference[k].bitPattern {
                            mismatches.append("block \(block) lane \(lane) input \(k): \(tile[(block * length + k) * width + lane]) ≠ \(reference[k])")
                        }
                    }
                }
            }
            #expect(mismatches.isEmpty, "\(storage): \(mismatches.prefix(4))")
        }
    }

    /// A partial lane decode (`count` < 32, the last block of a row) writes exactly `count` values.
    @Test(arguments: StorageType.allCases.filter { $0.codec != nil })
    func partialLaneDecodeWritesCountValues(storage: StorageType) throws {
        let codec = try #require(storage.codec)
        let geometry = try #require(PanelGeometry(rows: 3, columns: 37, storage: storage))
        var generator = SplitMix64(state: 99)
        let values = (0..<(3 * 37)).map { _ in generator.nextSignedUnit() }
        var packed = [UInt8](repeating: 0, count: geometry.byteCount)
        try values.withUnsafeBufferPointer { source in
            try packed.withUnsafeMutableBytes { try WeightPacking.pack(source, geometry: geometry, into: $0) }
        }
        var output = [Float](repeating: .infinity, count: 32)
        packed.withUnsafeBytes { bytes in
            output.withUnsafeMutableBufferPointer {
                codec.decode(bytes.baseAddress! + codec.blockByteCount, lane: 2, count: 5, into: $0.baseAddress!)
            }
        }
        #expect(output[0..<5].allSatisfy { $0.isFinite })
        #expect(output[5...].allSatisfy { $0 == .infinity })
    }
}

@Suite struct HalfPrecisionTests {
    /// The library-call-free binary16 widening (``HalfPrecision/widen(_:)``, and the scalar conversion
    /// built on it in baseline builds) gives the standard library's bits for all 65 536 patterns: zeros,
    /// subnormals, normals, infinities and NaN payloads.
    @Test func wideningMatchesTheStandardLibraryForEveryPattern() {
        var mismatches: [UInt16] = []
        for first in stride(from: 0, through: Int(UInt16.max), by: 8) {
            let bits = SIMD8<UInt16>((0..<8).map { UInt16(first + $0) })
            let widened = HalfPrecision.widen(bits)
            for lane in 0..<8 {
                let expected = Float(Float16(bitPattern: bits[lane])).bitPattern
                if widened[lane].bitPattern != expected || HalfPrecision.float(float16Bits: bits[lane]).bitPattern != expected {
                    mismatches.append(bits[lane])
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) patterns differ, first \(mismatches.prefix(4).map { String($0, radix: 16) })")
    }
}

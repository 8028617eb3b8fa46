import DiffuTestSupport
import Foundation
import Testing
@testable import DiffuFormat

private struct HashVectors: Decodable {
    struct Vector: Decodable {
        let length: Int
        let xxh64: String
        let sha256: String
    }
    let vectors: [Vector]
}

private func pattern(_ length: Int) -> [UInt8] {
    (0..<length).map { UInt8(($0 * 31 + 7) % 256) }
}

private func loadVectors() throws -> [HashVectors.Vector] {
    let data = try Data(contentsOf: try fixtureURL("hash_vectors.json"))
    let vectors = try JSONDecoder().decode(HashVectors.self, from: data).vectors
    try #require(vectors.count > 20)
    return vectors
}

@Test func xxh64MatchesTheReferenceImplementation() throws {
    // Vectors from the `xxhash` Python package (the C reference), see tools/fixtures/make_format_fixtures.py.
    for vector in try loadVectors() {
        #expect(hex(XXH64.hash(pattern(vector.length))) == vector.xxh64, "length \(vector.length)")
    }
    // Published value for the empty input (xxHash documentation).
    #expect(XXH64.hash([UInt8]()) == 0xEF46_DB37_51D8_E999)
}

@Test func xxh64StreamingEqualsOneShot() {
    let bytes = pattern(300)
    let expected = XXH64.hash(bytes)
    for split in [0, 1, 7, 31, 32, 33, 64, 65, 150, 299, 300] {
        for secondSplit in [split, min(300, split + 5), min(300, split + 40)] {
            var hasher = XXH64()
            hasher.update(Array(bytes[0..<split]))
            hasher.update(Array(bytes[split..<secondSplit]))
            hasher.update(Array(bytes[secondSplit...]))
            #expect(hasher.finalize() == expected, "splits \(split), \(secondSplit)")
        }
    }
}

@Test func sha256MatchesFIPSVectorsAndHashlib() throws {
    let known: [(String, String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ]
    for (message, digest) in known {
        #expect(SHA256.hexString(SHA256.hash(Array(message.utf8))) == digest, "\(message)")
    }
    for vector in try loadVectors() {
        #expect(SHA256.hexString(SHA256.hash(pattern(vector.length))) == vector.sha256, "length \(vector.length)")
    }
}

@Test func sha256OfOneMillionAsInUnevenChunks() {
    // FIPS 180-2 appendix B.3: one million repetitions of "a".
    var hasher = SHA256()
    let chunk = [UInt8](repeating: 0x61, count: 997)
    var remaining = 1_000_000
    while remaining > 0 {
        let count = min(remaining, chunk.count)
        hasher.update(Array(chunk[0..<count]))
        remaining -= count
    }
    #expect(SHA256.hexString(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
}

@Test func sha256OfAFileMatchesInMemoryHash() throws {
    let directory = try TemporaryDirectory.make(prefix: "diffu-format-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("source.bin")
    let bytes = pattern((4 << 20) + 1000)  // crosses the 4 MiB read chunk
    try Data(bytes).write(to: url)
    let result = try SHA256.hashFile(atPath: url.path)
    #expect(result.size == bytes.count)
    #expect(result.digest == SHA256.hash(bytes))
    #expect(throws: DiffuFormatError.fileNotFound(path: directory.appendingPathComponent("missing").path)) {
        try SHA256.hashFile(atPath: directory.appendingPathComponent("missing").path)
    }
}

import ArgumentParser
import Diffu
import Foundation

/// Writes a JSON object with one member.
private func printJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes, .sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// `diffu tokenize PATH "text"`: prints the token ids of a text.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text.")

    @Argument(help: "Tokenizer folder, tokenizer file, .gguf or .diffu file.")
    var path: String

    @Argument(help: "The text to encode.")
    var text: String

    @Flag(name: .long, help: "Match special-token spellings (<s>, <|endoftext|>, <|im_start|>) as those tokens.")
    var special = false

    @Flag(name: .long, help: "Add the tokenizer's bos/eos tokens (LLaMA: <s> in front).")
    var addSpecialTokens = false

    @Flag(name: .long, help: "Print {\"ids\": [...]}.")
    var json = false

    func run() throws {
        let tokenizer = try Tokenizer.load(path: path)
        let ids = tokenizer.encode(text, addSpecialTokens: addSpecialTokens, parseSpecial: special)
        if json {
            try printJSON(["ids": ids.map { Int($0) }])
        } else {
            for id in ids { print("\(id)\t\(tokenizer.token(forId: id)?.debugDescription ?? "?")") }
        }
    }
}

/// `diffu detokenize PATH --ids 1,2,3`: prints the text of token ids.
struct DetokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detokenize",
        abstract: "Print the text of token ids.")

    @Argument(help: "Tokenizer folder, tokenizer file, .gguf or .diffu file.")
    var path: String

    @Option(name: .long, help: "Comma-separated token ids.")
    var ids: String

    @Flag(name: .long, help: "Leave special tokens out of the text.")
    var skipSpecial = false

    @Flag(name: .long, help: "Print {\"text\": \"...\"}.")
    var json = false

    func run() throws {
        let tokenizer = try Tokenizer.load(path: path)
        var values: [Int32] = []
        for part in ids.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let id = Int32(trimmed) else { throw ValidationError("--ids: '\(trimmed)' is not a token id") }
            values.append(id)
        }
        let text = tokenizer.decode(values, skipSpecialTokens: skipSpecial)
        if json { try printJSON(["text": text]) } else { print(text) }
    }
}

/// `diffu tokenizer-bench PATH --file text.txt`: encode throughput.
struct TokenizerBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer-bench",
        abstract: "Measure encode throughput (MB/s) on a text file.")

    @Argument(help: "Tokenizer folder, tokenizer file, .gguf or .diffu file.")
    var path: String

    @Option(name: .long, help: "UTF-8 text file to encode.")
    var file: String

    @Option(name: .long, help: "Timed repetitions (the best is reported).")
    var repeats = 5

    @Flag(name: .long, help: "Encode each line separately instead of the whole file as one text.")
    var lines = false

    func run() throws {
        let tokenizer = try Tokenizer.load(path: path)
        let bytes = try Self.readWholeFile(file)
        let pieces: [[UInt8]] = lines ? bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init) : [bytes]
        // Ids are counted batch by batch (`encode(bytes:_:)`), so memory does not grow with the text.
        func encodeAll() -> Int {
            var count = 0
            for piece in pieces { tokenizer.encode(bytes: piece) { count += $0.count } }
            return count
        }
        var tokenCount = encodeAll()  // warm-up
        var best = Double.infinity
        var total = 0.0
        for _ in 0..<max(repeats, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            tokenCount = encodeAll()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = min(best, seconds)
            total += seconds
        }
        let megabytes = Double(bytes.count) / 1e6
        print(String(format: "%@: %d bytes -> %d tokens; best %.3f s = %.2f MB/s; mean %.2f MB/s (%d runs)",
                     (path as NSString).lastPathComponent, bytes.count, tokenCount, best, megabytes / best,
                     megabytes / (total / Double(max(repeats, 1))), max(repeats, 1)))
    }

    /// The file's bytes, read in 1 MiB pieces into one array sized up front, so peak memory holds the
    /// text once (the memory measurement in tools/bench/measure_tokenizer_memory.sh relies on it).
    static func readWholeFile(_ path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ValidationError("cannot read \(path)") }
        defer { try? handle.close() }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { bytes.append(contentsOf: chunk) }
        return bytes
    }
}

import ArgumentParser
import Diffu
import Foundation

/// `diffu logits FILE --ids … --out logits.npy`: raw logits of one forward pass.
struct LogitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "Write the raw logits (no shift) of one forward pass as float32 .npy [L, V].")

    @Argument(help: "A .diffu model file.")
    var file: String

    @Option(help: "Comma-separated token ids.")
    var ids: String

    @Flag(help: "Causal (autoregressive) attention instead of bidirectional.")
    var causal = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "Output .npy path.")
    var out: String

    func run() async throws {
        let model = try DiffuModel.open(path: file)
        let tokens = try parseIds(ids)
        let logits = try model.logits(tokens: tokens, causal: causal, threads: threads ?? DiffuModel.defaultThreadCount)
        try NumpyFile.writeFloat32(logits, shape: [tokens.count, model.configuration.vocabularySize], to: out)
    }
}

/// Writes `.npy` files (format version 1.0, little-endian float32, C order).
enum NumpyFile {
    /// Writes `values` with `shape` to `path` (atomically: temp file + rename).
    static func writeFloat32(_ values: [Float], shape: [Int], to path: String) throws {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// `diffu bench FILE --tokens 256 --threads N`: forward-pass time, GFLOP/s and peak RSS.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time bidirectional forward passes over a fixed token sequence (all logits).")

    @Argument(help: "A .diffu model file.")
    var file: String

    @Option(help: "Sequence length.")
    var tokens: Int = 256

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "Timed runs (after one warm-up); the median is reported.")
    var runs: Int = 5

    @Flag(help: "Causal attention.")
    var causal = false

    @Flag(help: "Logits for the last position only (default: every position, as llama.cpp's peer run).")
    var lastOnly = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        guard tokens >= 1, runs >= 1 else { throw ValidationError("--tokens and --runs must be at least 1") }
        let openStart = DispatchTime.now().uptimeNanoseconds
        let model = try DiffuModel.open(path: file)
        let openSeconds = Double(DispatchTime.now().uptimeNanoseconds - openStart) / 1e9
        let threadCount = threads ?? DiffuModel.defaultThreadCount
        let ids = (0..<tokens).map { Int32(($0 * 7919 + 100) % model.configuration.vocabularySize) }
        let positions: [Int]? = lastOnly ? [tokens - 1] : nil
        let session = try ForwardSession(model: model, threads: threadCount)
        var times: [Double] = []
        var logits: [Float] = []  // one output array for every run, as a decoding loop keeps it
        for run in 0...runs {
            let start = DispatchTime.now().uptimeNanoseconds
            try session.logits(tokens: ids, positions: positions, causal: causal, into: &logits)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if run > 0 { times.append(seconds) }
        }
        times.sort()
        let median = times[times.count / 2]
        let flops = model.forwardFLOPs(tokens: tokens, logitRows: lastOnly ? 1 : tokens)
        let rssMegabytes = Double(Self.peakResidentKilobytes()) / 1024
        if json {
            let object: [String: Any] = [
                "file": file, "tokens": tokens, "threads": threadCount, "runs": runs, "median_seconds": median,
                "best_seconds": times[0], "gflops": flops / median / 1e9, "peak_rss_mb": rssMegabytes,
                "open_seconds": openSeconds, "storage": model.quantization,
                "kernel_variant": model.kernelVariant.rawValue,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "%@ (%@ kernels): %d tokens, %d threads: median %.3f s (best %.3f s) over %d runs, %.1f GFLOP/s, peak RSS %.0f MB, open %.3f s",
                         file, model.kernelVariant.rawValue, tokens, threadCount, median, times[0], runs, flops / median / 1e9,
                         rssMegabytes, openSeconds))
        }
    }

    /// Peak resident set size of this process in KiB: `VmHWM` from `/proc/self/status` on Linux (it
    /// belongs to this program's address space; `getrusage`'s `ru_maxrss` also counts a parent's peak
    /// inherited across fork + exec, which inflates it under harnesses), `getrusage` elsewhere.
    static func peakResidentKilobytes() -> Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kilobytes = Int(line.dropFirst("VmHWM:".count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") {
            return kilobytes
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss)
    }
}

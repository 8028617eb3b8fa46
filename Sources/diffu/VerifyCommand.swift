import ArgumentParser
import DiffuConversion

/// `diffu verify FILE`: checks every payload checksum of a `.diffu` file.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every checksum of a .diffu file.",
        discussion: "Validates the header, metadata and directory, then reads every tensor and compares its XXH64 "
            + "checksum (zstd tensors are also decompressed). Prints OK, or each bad tensor by name. "
            + "Exit status 0 when intact, 1 when the file cannot be opened or a check fails."
    )

    @Argument(help: "The .diffu file.")
    var file: String

    func run() throws {
        let diffu: DiffuFile
        do { diffu = try DiffuFile.open(path: file) } catch {
            printError("diffu verify: \(error)")
            throw ExitCode(1)
        }
        let failures = diffu.verify()
        guard failures.isEmpty else {
            for failure in failures {
                printError("BAD \(failure.tensor ?? "(file)"): \(failure.error)")
            }
            printError("diffu verify: \(failures.count) of \(diffu.tensors.count) tensors failed in \(file)")
            throw ExitCode(1)
        }
        print("OK \(file): \(diffu.tensors.count) tensors, \(InspectReport.bytes(diffu.fileLength)) verified")
    }
}

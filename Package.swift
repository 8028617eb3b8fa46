// swift-tools-version: 6.2
// Diffu: a pure-Swift CPU runtime for diffusion language models.
//
// The module graph is the data flow (docs/ARCHITECTURE.md has the table; every import matches a
// declared dependency):
//   CZstd (libzstd shim), CDiffuSystem (CPU probe, SIGBUS report; baseline ISA)
//   DiffuJSON (the JSON value type + strict parser; no dependencies)
//   DiffuStorage (storage types + byte layouts) ─┬─ DiffuFormat (.diffu read/write, mmap) ← CZstd, DiffuJSON
//                                                ├─ DiffuKernelsAVX2, DiffuKernelsAVX512 (variants) ← their intrinsics
//                                                ├─ DiffuKernels (SIMD math, no model knowledge) ← the variants, CDiffuSystem
//                                                └─ DiffuGGUF (GGUF container, ggml block types + dequantizers)
//   DiffuTokenizers (BPE / SentencePiece) ← DiffuGGUF, DiffuJSON
//   DiffuModels (GPT-2, LLaMA, Qwen2; no file-format knowledge) ← DiffuKernels
//   DiffuSamplers (diffusion samplers over a logits provider; the softmax weights of a row: LogitsRow) ← DiffuKernels
//   DiffuConvert (safetensors / GGUF importers + quantizer) ← DiffuFormat, DiffuGGUF, DiffuJSON, DiffuKernels, DiffuModels, DiffuTokenizers
//   Diffu (public facade; re-exports only the types its API names) ← DiffuFormat, DiffuJSON, DiffuKernels, DiffuModels, DiffuTokenizers, DiffuSamplers
//   DiffuConversion (conversion product: DiffuModel.convert, re-exports DiffuConvert + DiffuFormat) ← Diffu, DiffuConvert
//   DiffuServer (OpenAI-compatible HTTP server on Hummingbird/NIO) ← Diffu
//   diffu (thin CLI) ← Diffu, DiffuConversion, DiffuServer, ArgumentParser
// Only DiffuServer links the server stack, and only DiffuConversion the converter: an app that runs
// models depends on the `Diffu` product alone.
import PackageDescription
import Foundation

// AVX2 + FMA + F16C code generation for release builds on x86-64 (the README's and the benchmarks'
// build). Set DIFFU_PORTABLE=1 to build without these flags (for example when Diffu is a remote
// dependency, where SwiftPM refuses unsafe flags); the CLI checks the CPU at start-up either way.
//
// A package that depends on Diffu by version (`.package(url:from:)`) may not use unsafe flags, so when
// this manifest is evaluated inside a dependency checkout (SwiftPM's `.build/checkouts/`, Xcode's
// `SourcePackages/checkouts/`) it builds the portable baseline on its own: no flags for the app's
// developer to type, no per-lane library calls. `DIFFU_NATIVE=1` restores the native flags in a checkout
// (SwiftPM accepts them when the dependency is pinned to a branch or revision; see README, "As a
// dependency").
let packageDirectory = Context.packageDirectory
let isDependencyCheckout = packageDirectory.contains("/.build/checkouts/") || packageDirectory.contains("/SourcePackages/checkouts/")
let environment = ProcessInfo.processInfo.environment
let portable = environment["DIFFU_PORTABLE"] != nil || (isDependencyCheckout && environment["DIFFU_NATIVE"] == nil)
var fastSettings: [SwiftSetting] = []
#if arch(x86_64)
if !portable {
    fastSettings = [
        .unsafeFlags(["-Xcc", "-march=x86-64-v3"], .when(configuration: .release)),
        .define("DIFFU_AVX2", .when(configuration: .release)),
    ]
}
#endif

// The AVX-512 kernel variant (DiffuKernelsAVX512 and the LLVM intrinsics it calls): compiled for
// AVX-512 F/BW/VL/VNNI in every configuration (debug too, so `swift test` checks it) and chosen at run
// time only on CPUs that have those instructions (`KernelVariant`, probed once). The define guards its
// code so a portable build compiles these targets empty.
var avx512Settings: [SwiftSetting] = []
var avx512IntrinsicSettings: [SwiftSetting] = []
var kernelSettings = fastSettings  // DiffuKernels: the build's ISA, and it dispatches to the AVX-512 variant
// The AVX2 integer kernels (DiffuKernelsAVX2 and its intrinsics): compiled for x86-64-v3 in every
// configuration, so debug builds (`swift test`) run the `avx2` variant's integer route too.
var avx2Settings: [SwiftSetting] = []
var avx2IntrinsicSettings: [SwiftSetting] = []
#if arch(x86_64)
if !portable {
    let avx2Flags = ["-Xcc", "-march=x86-64-v3"]
    avx2Settings = [.unsafeFlags(avx2Flags), .define("DIFFU_AVX2_KERNELS")]
    avx2IntrinsicSettings = [.unsafeFlags(avx2Flags + ["-parse-stdlib"]), .define("DIFFU_AVX2_KERNELS")]
    kernelSettings.append(.define("DIFFU_AVX2_KERNELS"))
}
if !portable {
    let flags = ["-Xcc", "-march=x86-64-v4", "-Xcc", "-mavx512vnni"]
    avx512Settings = [.unsafeFlags(flags), .define("DIFFU_AVX512")]
    // `-parse-stdlib` exposes the `Builtin` module: LLVM's x86 intrinsics (vpdpbusd, vpermd, vpshufb)
    // called from Swift, the way the standard library implements SIMD.
    avx512IntrinsicSettings = [.unsafeFlags(flags + ["-parse-stdlib"]), .define("DIFFU_AVX512")]
    kernelSettings.append(.define("DIFFU_AVX512"))
}
#endif

let package = Package(
    name: "Diffu",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Diffu", targets: ["Diffu"]),
        // For the apps that convert checkpoints or read `.diffu` files as files (the importers, the
        // quantizer, the container's reader and writer): an app that only runs models needs `Diffu` alone.
        .library(name: "DiffuConversion", targets: ["DiffuConversion"]),
        .executable(name: "diffu", targets: ["diffu"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The server (DiffuServer and the CLI only). Hummingbird's default traits (swift-configuration
        // support, full Foundation) are off: the server needs neither, and they cost build time.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0", traits: []),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        .target(name: "CDiffuSystem"),  // compiled for the baseline ISA: it runs before any AVX2 code
        .target(name: "DiffuJSON", swiftSettings: fastSettings),
        .target(name: "DiffuStorage", swiftSettings: fastSettings),
        .target(name: "DiffuFormat", dependencies: ["CZstd", "DiffuStorage", "DiffuJSON"], swiftSettings: fastSettings),
        .target(name: "DiffuAVX512Intrinsics", swiftSettings: avx512IntrinsicSettings),
        .target(name: "DiffuKernelsAVX512", dependencies: ["DiffuStorage", "DiffuAVX512Intrinsics"], swiftSettings: avx512Settings),
        .target(name: "DiffuAVX2Intrinsics", swiftSettings: avx2IntrinsicSettings),
        .target(name: "DiffuKernelsAVX2", dependencies: ["DiffuStorage", "DiffuAVX2Intrinsics"], swiftSettings: avx2Settings),
        .target(
            name: "DiffuKernels", dependencies: ["DiffuStorage", "DiffuKernelsAVX2", "DiffuKernelsAVX512", "CDiffuSystem"],
            swiftSettings: kernelSettings),
        .target(name: "DiffuGGUF", dependencies: ["DiffuStorage"], swiftSettings: fastSettings),
        .target(name: "DiffuTokenizers", dependencies: ["DiffuGGUF", "DiffuJSON"], swiftSettings: fastSettings),
        .target(name: "DiffuModels", dependencies: ["DiffuKernels", "DiffuStorage"], swiftSettings: fastSettings),
        .target(name: "DiffuSamplers", dependencies: ["DiffuKernels"], swiftSettings: fastSettings),
        .target(
            name: "DiffuConvert",
            dependencies: ["DiffuFormat", "DiffuJSON", "DiffuStorage", "DiffuGGUF", "DiffuKernels", "DiffuModels", "DiffuTokenizers"],
            swiftSettings: fastSettings
        ),
        .target(
            name: "Diffu",
            dependencies: [
                "DiffuFormat", "DiffuJSON", "DiffuStorage", "DiffuKernels", "DiffuModels", "DiffuTokenizers", "DiffuSamplers", "CDiffuSystem",
            ],
            swiftSettings: fastSettings
        ),
        .target(name: "DiffuConversion", dependencies: ["Diffu", "DiffuConvert", "DiffuFormat"], swiftSettings: fastSettings),
        .target(
            name: "DiffuServer",
            dependencies: [
                "Diffu",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "diffu",
            dependencies: ["Diffu", "DiffuConversion", "DiffuServer", .product(name: "ArgumentParser", package: "swift-argument-parser")]
            // No AVX2 flags here: the CLI checks the CPU at start-up before calling any kernel.
        ),
        // Opt-in developer tools (in no product, so an app that depends on Diffu never builds them), built by
        // SwiftPM so that they run the package's own flags and kernel variants: `swift run -c release NAME`.
        .executableTarget(name: "SamplerBenchmark", dependencies: ["DiffuSamplers", "DiffuKernels"], path: "tools/bench/SamplerBenchmark"),
        .executableTarget(name: "SamplerExponentialCheck", dependencies: ["DiffuKernels"], path: "tools/reference/SamplerExponentialCheck"),
        // Shared by the test targets (fixture lookup, scratch directories, the .npy reader, and DiffuSamplers'
        // SplitMix64 re-exported as the deterministic generator); not part of any product.
        .target(name: "DiffuTestSupport", dependencies: ["DiffuSamplers"], path: "Tests/DiffuTestSupport"),
        .testTarget(name: "DiffuJSONTests", dependencies: ["DiffuJSON"]),
        .testTarget(name: "DiffuStorageTests", dependencies: ["DiffuStorage", "DiffuTestSupport"]),
        .testTarget(name: "DiffuFormatTests", dependencies: ["DiffuFormat", "DiffuStorage", "DiffuTestSupport"]),
        .testTarget(name: "DiffuKernelsTests", dependencies: ["DiffuKernels", "DiffuStorage", "DiffuTestSupport", "CDiffuSystem"]),
        .testTarget(name: "DiffuTokenizersTests", dependencies: ["DiffuTokenizers", "DiffuGGUF", "DiffuFormat", "DiffuTestSupport"]),
        .testTarget(name: "DiffuModelsTests", dependencies: ["DiffuModels", "DiffuKernels", "DiffuStorage", "DiffuTestSupport"]),
        .testTarget(name: "DiffuSamplersTests", dependencies: ["DiffuSamplers", "DiffuTestSupport"]),
        .testTarget(name: "DiffuConvertTests", dependencies: ["DiffuConvert", "DiffuFormat", "DiffuJSON", "DiffuTokenizers", "DiffuStorage", "DiffuGGUF", "DiffuModels", "DiffuTestSupport"]),
        .testTarget(name: "DiffuGGUFTests", dependencies: ["DiffuGGUF"]),
        .testTarget(name: "DiffuTests", dependencies: ["Diffu", "DiffuConversion", "DiffuSamplers", "DiffuTestSupport"]),
        .testTarget(
            name: "DiffuServerTests",
            dependencies: ["DiffuServer", "Diffu", "DiffuConversion", "DiffuTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
    ]
)

import CDiffuSystem
import DiffuStorage
import Foundation

/// A set of kernels compiled for one instruction set, chosen at run time.
///
/// One binary holds every variant its build could compile; ``active`` is the best one the running CPU
/// executes, probed once (cpuid), unless the environment variable `DIFFU_KERNELS` names another
/// supported one (benchmarks and tests). Models take the variant when they are built and pass it to
/// every kernel call: kernels never look it up themselves.
public enum KernelVariant: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The portable build (`DIFFU_PORTABLE=1`, a version-pinned SwiftPM dependency, debug builds, arm64):
    /// every kernel compiled for the target's baseline, f32 activations, weights decoded to f32 tiles,
    /// no per-lane library calls.
    case baseline
    /// x86-64 builds with AVX2 + FMA + F16C: q8/q4 products in integer arithmetic at 256 bits
    /// (activations quantized to int8 blocks, `vpmaddubsw` / `vpmaddwd`, `DiffuKernelsAVX2`); every
    /// other kernel compiled for `x86-64-v3` in release builds (for the baseline in debug builds, where
    /// only the integer kernels carry the AVX2 flags), f32 activations, weights decoded to f32 tiles.
    case avx2
    /// AVX-512 F/BW/VL + VNNI: q8/q4 products in integer arithmetic (activations quantized to int8
    /// blocks, `vpdpbusd` at 512 bits); f32/f16/bf16 products (5 rows or more) and attention (head widths
    /// that are a multiple of 16) in f32 at 512 bits; every other kernel as the build's own (``avx2``).
    case avx512

    /// The name used by `DIFFU_KERNELS`, `diffu inspect` and `diffu bench --json`.
    public var description: String { rawValue }

    /// Whether this build contains the variant and the running CPU executes it.
    public var isSupported: Bool {
        switch self {
        case .baseline:
            #if DIFFU_AVX2
            return false
            #else
            return true
            #endif
        case .avx2:
            #if DIFFU_AVX2 || DIFFU_AVX2_KERNELS
            return diffu_cpu_supports_avx2_fma() != 0
            #else
            return false
            #endif
        case .avx512:
            #if arch(x86_64) && DIFFU_AVX512
            return diffu_cpu_supports_avx512_vnni() != 0
            #else
            return false
            #endif
        }
    }

    /// Whether this variant multiplies weights of `storage` in integer arithmetic, rounding the
    /// activations to int8 blocks first (llama.cpp's Q8_0 rule): `avx512`, and `avx2` where the build has
    /// its integer kernels, with q8/q4 weights. Every other pair keeps f32 activations and exact results.
    public func multipliesInIntegers(_ storage: StorageType) -> Bool {
        guard storage.hasIntegerKernels else { return false }
        switch self {
        case .baseline: return false
        case .avx2:
            #if DIFFU_AVX2_KERNELS
            return true
            #else
            return false
            #endif
        case .avx512: return true
        }
    }

    /// Every variant this build and CPU support, best last.
    public static let supported: [KernelVariant] = allCases.filter(\.isSupported)

    /// The best supported variant.
    public static let detected: KernelVariant = supported.last ?? .baseline

    /// The variant models use by default: `DIFFU_KERNELS` when it names a supported variant, otherwise
    /// ``detected``. (An unknown or unsupported name is reported by ``requested``.)
    public static let active: KernelVariant = (try? requested()) ?? detected

    /// The variant `DIFFU_KERNELS` asks for, ``detected`` when it is unset or empty.
    ///
    /// - Throws: ``KernelVariantError`` when the name is unknown or the CPU lacks the variant.
    public static func requested(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KernelVariant {
        guard let name = environment["DIFFU_KERNELS"], !name.isEmpty else { return detected }
        guard let variant = KernelVariant(rawValue: name) else { throw KernelVariantError.unknown(name) }
        guard variant.isSupported else { throw KernelVariantError.unsupported(variant) }
        return variant
    }
}

/// Why a requested kernel variant cannot be used.
public enum KernelVariantError: Error, Equatable, CustomStringConvertible {
    /// `DIFFU_KERNELS` names no variant.
    case unknown(String)
    /// The build lacks the variant or the CPU cannot execute it.
    case unsupported(KernelVariant)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .unknown(let name):
            "DIFFU_KERNELS=\(name) names no kernel variant (\(KernelVariant.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .unsupported(let variant):
            "kernel variant \(variant) is not supported by this CPU or build (supported: \(KernelVariant.supported.map(\.rawValue).joined(separator: ", ")))"
        }
    }
}

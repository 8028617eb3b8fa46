import CDiffuSystem

/// What the running CPU and this build of Diffu support.
public enum CPUSupport {
    /// Whether this build's kernels were compiled for AVX2/FMA/F16C (release builds on x86-64).
    public static var builtForAVX2: Bool {
        #if DIFFU_AVX2
        return true
        #else
        return false
        #endif
    }

    /// Whether the running CPU executes AVX2, FMA and F16C.
    public static var cpuHasAVX2: Bool { diffu_cpu_supports_avx2_fma() != 0 }

    /// Throws ``DiffuError/unsupportedCPU`` when this build needs instructions the CPU lacks.
    /// Call it before running any kernel (the CLI does so at start-up; `DiffuModel.open` does too).
    public static func check() throws {
        if builtForAVX2 && !cpuHasAVX2 { throw DiffuError.unsupportedCPU }
    }
}

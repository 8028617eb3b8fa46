import CDiffuSystem

/// What the running CPU and this build of Diffu support, and the process set-up a program runs first.
public enum CPUSupport {
    /// Whether this build's kernels were compiled for AVX2/FMA/F16C (release builds on x86-64).
    public static var builtForAVX2: Bool {
        #if DIFFU_AVX2
        return true
        #else
        return false
        #endif
    }

    /// Whether the running CPU executes AVX2, FMA and F16C. Compiled into the caller (so a program built
    /// for the baseline ISA can ask before it runs any code of this module, which an AVX2 build compiles
    /// for AVX2).
    @_alwaysEmitIntoClient
    public static var cpuHasAVX2: Bool { diffu_cpu_supports_avx2_fma() != 0 }

    /// Throws ``DiffuError/unsupportedCPU`` when this build needs instructions the CPU lacks.
    /// Call it before running any kernel (the CLI does so at start-up; `DiffuModel.open` does too).
    public static func check() throws {
        if builtForAVX2 && !cpuHasAVX2 { throw DiffuError.unsupportedCPU }
    }

    /// Installs a SIGBUS handler that reports a memory-mapped model file truncated or replaced in place
    /// while in use (one line on standard error, exit status 135) instead of dying silently. For
    /// programs, not libraries: it replaces any SIGBUS handler.
    /// - Returns: whether the handler was installed.
    @discardableResult
    public static func installMappedFileFaultHandler() -> Bool {
        diffu_install_mapped_file_fault_handler() == 0
    }
}

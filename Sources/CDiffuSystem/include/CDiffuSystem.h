#ifndef CDIFFU_SYSTEM_H
#define CDIFFU_SYSTEM_H
/// Returns 1 when the running CPU executes AVX2, FMA and F16C instructions, 0 otherwise
/// (always 0 on CPUs that are not x86). Compiled for the baseline ISA, so it is safe to call first.
int diffu_cpu_supports_avx2_fma(void);

/// Returns 1 when the running CPU executes AVX-512 F, BW, VL and VNNI instructions (with the OS saving
/// the 512-bit state), 0 otherwise (always 0 on CPUs that are not x86).
int diffu_cpu_supports_avx512_vnni(void);

/// Installs a SIGBUS handler that reports a memory-mapped model file truncated or replaced in place while
/// in use (one line on standard error) and exits with status 135, instead of dying silently. Returns 0 on
/// success, -1 (errno set) otherwise. For programs, not libraries: it replaces any SIGBUS handler.
int diffu_install_mapped_file_fault_handler(void);
#endif

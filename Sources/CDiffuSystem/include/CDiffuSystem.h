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
/// Sequentially consistent atomic load / store / fetch-add / exchange of a machine word (the kernels'
/// thread pool); `diffu_spin_pause` is one spin-wait hint (`pause` on x86, `yield` on arm64).
long diffu_atomic_load(const long *address);
void diffu_atomic_store(long *address, long value);
long diffu_atomic_fetch_add(long *address, long value);
long diffu_atomic_exchange(long *address, long value);
/// Stores `desired` when the word equals `expected`; returns 1 when it did.
int diffu_atomic_compare_exchange(long *address, long expected, long desired);
void diffu_spin_pause(void);
#endif

#ifndef CDIFFU_SYSTEM_H
#define CDIFFU_SYSTEM_H
/// Returns 1 when the running CPU executes AVX2, FMA and F16C instructions, 0 otherwise
/// (always 0 on CPUs that are not x86). Compiled for the baseline ISA, so it is safe to call first.
int diffu_cpu_supports_avx2_fma(void);
#endif

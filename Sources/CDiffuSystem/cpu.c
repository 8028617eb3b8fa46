// CPU feature detection. This target is compiled for the baseline ISA (no -march flags), so calling it
// cannot itself execute an AVX2 instruction on a CPU that lacks one.
#include "CDiffuSystem.h"

int diffu_cpu_supports_avx2_fma(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

int diffu_cpu_supports_avx512_vnni(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
           diffu_cpu_supports_avx2_fma();
#else
    return 0;
#endif
}

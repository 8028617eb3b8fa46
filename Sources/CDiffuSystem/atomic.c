// Sequentially consistent atomic operations on machine words, for the kernels' spinning thread pool
// (Swift's Synchronization.Atomic needs macOS 15; this runs wherever C11 atomics do).
#include "CDiffuSystem.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

long diffu_atomic_load(const long *address) { return __atomic_load_n(address, __ATOMIC_SEQ_CST); }

void diffu_atomic_store(long *address, long value) { __atomic_store_n(address, value, __ATOMIC_SEQ_CST); }

long diffu_atomic_fetch_add(long *address, long value) { return __atomic_fetch_add(address, value, __ATOMIC_SEQ_CST); }

long diffu_atomic_exchange(long *address, long value) { return __atomic_exchange_n(address, value, __ATOMIC_SEQ_CST); }

void diffu_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

int diffu_atomic_compare_exchange(long *address, long expected, long desired) {
    return __atomic_compare_exchange_n(address, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

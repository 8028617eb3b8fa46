"""Times llama.cpp's own CPU matrix multiply (ggml `mul_mat`) through ctypes, for tools/peers/bench_gemm.py.

Environment: a Python with llama-cpp-python installed (its wheel ships libggml-base.so / libggml-cpu.so):
    CMAKE_ARGS=-DGGML_NATIVE=ON pip install llama-cpp-python
(or pass the directory holding those libraries to `GgmlMatmul(library_dir=...)`).

What this measures: one `ggml_mul_mat(W[N × K], X[L × K])` graph computed by `ggml_graph_compute_with_ctx`
with n threads — the code path llama.cpp runs for every projection of a forward pass whose weights live in
ordinary CPU buffers: llamafile's tinyBLAS (`sgemm.cpp`) when it accepts the type/shape, otherwise ggml's
vec_dot loops with the activations quantized to Q8_0/Q8_1 first. It does *not* use the load-time weight
repacking (Q4_0 → interleaved 8×8 blocks on AVX2) that llama.cpp applies to model weights loaded through its
"CPU_REPACK" buffer type, so llama.cpp's Q4_0 numbers here may be below what a full model run gets.
"""
import ctypes
import os
import time

import numpy as np

GGML_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 8, "BF16": 30}


class _InitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


def _default_library_dir():
    import llama_cpp  # noqa: F401  (only to locate the bundled libraries)
    return os.path.join(os.path.dirname(llama_cpp.__file__), "lib")


class GgmlMatmul:
    """Loads libggml and times `mul_mat` for a given weight type and shape."""

    def __init__(self, library_dir=None):
        library_dir = library_dir or _default_library_dir()
        self.base = ctypes.CDLL(os.path.join(library_dir, "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
        self.cpu = ctypes.CDLL(os.path.join(library_dir, "libggml-cpu.so"), mode=ctypes.RTLD_GLOBAL)
        b, c = self.base, self.cpu
        b.ggml_init.restype = ctypes.c_void_p
        b.ggml_init.argtypes = [_InitParams]
        b.ggml_free.argtypes = [ctypes.c_void_p]
        b.ggml_new_tensor_2d.restype = ctypes.c_void_p
        b.ggml_new_tensor_2d.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        b.ggml_mul_mat.restype = ctypes.c_void_p
        b.ggml_mul_mat.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        b.ggml_new_graph.restype = ctypes.c_void_p
        b.ggml_new_graph.argtypes = [ctypes.c_void_p]
        b.ggml_build_forward_expand.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        b.ggml_get_data.restype = ctypes.c_void_p
        b.ggml_get_data.argtypes = [ctypes.c_void_p]
        b.ggml_nbytes.restype = ctypes.c_size_t
        b.ggml_nbytes.argtypes = [ctypes.c_void_p]
        b.ggml_row_size.restype = ctypes.c_size_t
        b.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
        b.ggml_quantize_chunk.restype = ctypes.c_size_t
        b.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                          ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        c.ggml_cpu_init.argtypes = []
        c.ggml_cpu_init()
        c.ggml_graph_compute_with_ctx.restype = ctypes.c_int
        c.ggml_graph_compute_with_ctx.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]

    def gflops(self, type_name, rows, k, n, threads, repeat):
        """(median, best, per-CPU-second) GFLOP/s of y[rows × n] = x[rows × k] · W[n × k]ᵀ with W stored as `type_name`."""
        b = self.base
        ggml_type = GGML_TYPES[type_name]
        weight_bytes = b.ggml_row_size(ggml_type, k) * n
        memory = weight_bytes + 4 * (rows * k + rows * n) + 8 * rows * k + (64 << 20)
        context = b.ggml_init(_InitParams(memory, None, False))
        if not context:
            raise RuntimeError("ggml_init failed")
        try:
            weights = b.ggml_new_tensor_2d(context, ggml_type, k, n)
            activations = b.ggml_new_tensor_2d(context, GGML_TYPES["F32"], k, rows)
            rng = np.random.default_rng(1)
            values = (rng.standard_normal((n, k)) * 0.05).astype(np.float32)
            if type_name == "F32":
                ctypes.memmove(b.ggml_get_data(weights), values.ctypes.data, values.nbytes)
            elif type_name == "F16":
                half = values.astype(np.float16)
                ctypes.memmove(b.ggml_get_data(weights), half.ctypes.data, half.nbytes)
            elif type_name == "BF16":
                bits = (values.view(np.uint32) >> 16).astype(np.uint16)
                ctypes.memmove(b.ggml_get_data(weights), bits.ctypes.data, bits.nbytes)
            else:
                written = b.ggml_quantize_chunk(ggml_type, values.ctypes.data, b.ggml_get_data(weights), 0, n, k, None)
                if written != b.ggml_nbytes(weights):
                    raise RuntimeError(f"quantize wrote {written} bytes, expected {b.ggml_nbytes(weights)}")
            x = rng.standard_normal((rows, k)).astype(np.float32)
            ctypes.memmove(b.ggml_get_data(activations), x.ctypes.data, x.nbytes)
            product = b.ggml_mul_mat(context, weights, activations)
            graph = b.ggml_new_graph(context)
            b.ggml_build_forward_expand(graph, product)
            compute = self.cpu.ggml_graph_compute_with_ctx
            if compute(context, graph, threads) != 0:
                raise RuntimeError("ggml_graph_compute_with_ctx failed")
            # Sanity check against numpy on the first rows (catches a wrong layout or type code).
            result = np.ctypeslib.as_array(ctypes.cast(b.ggml_get_data(product), ctypes.POINTER(ctypes.c_float)),
                                           shape=(rows, n))
            reference = x[:2] @ values.T
            error = np.max(np.abs(result[:2] - reference)) / max(1e-6, np.max(np.abs(reference)))
            if error > 0.1:
                raise RuntimeError(f"ggml {type_name} result differs from numpy (relative error {error:.3f})")
            times, cpu_times = [], []
            for _ in range(repeat):
                cpu_start, start = time.process_time(), time.perf_counter()
                compute(context, graph, threads)
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu_start)
            times.sort()
            cpu_times.sort()
            flops = 2.0 * rows * k * n
            return (flops / times[len(times) // 2] / 1e9, flops / times[0] / 1e9,
                    flops / max(1e-9, cpu_times[len(cpu_times) // 2]) / 1e9)
        finally:
            b.ggml_free(context)

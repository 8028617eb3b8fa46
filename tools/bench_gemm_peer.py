#!/usr/bin/env python3
"""GEMM peer benchmark: Diffu's `diffu bench-gemm` against numpy's OpenBLAS sgemm in the same run.

Environment (tools only, never CI):
    tools/setup_python.sh /work/venv && /work/venv/bin/pip install threadpoolctl
    swift build -c release --product diffu
Run (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when this machine sets them, pin an old OpenBLAS kernel and
slow numpy down; unset them for this command only — the script re-executes itself without them and
prints the kernel threadpoolctl reports):
    /work/venv/bin/python tools/bench_gemm_peer.py [--diffu .build/release/diffu] [--large] [--markdown]
With --llamacpp (needs a Python where llama-cpp-python is installed, plus numpy and threadpoolctl) it also
times llama.cpp's own ggml `mul_mat` for the matching weight type (tools/ggml_matmul.py):
f32→F32, f16→F16, bf16→BF16, q8→Q8_0, q4→Q4_0.

For 1 and 2 threads it measures, alternating peer and Diffu shape by shape:
- numpy float32 `A @ B` at 2048³ (the machine's sgemm peak for this run) and at each model shape
  (x[L × K] @ W[N × K]ᵀ, the same product Diffu computes);
- `diffu bench-gemm --json` for each storage type at each shape.
It prints GFLOP/s medians and bests (the best run is the least disturbed one on a shared machine),
Diffu / peak ratios, Diffu / same-shape sgemm ratios and the 2-thread speedup.
"""
import argparse
import json
import os
import subprocess
import sys
import time

OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(name in os.environ for name in OPENBLAS_VARIABLES) and "--keep-openblas-env" not in sys.argv:
    environment = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARIABLES}
    os.execve(sys.executable, [sys.executable] + sys.argv, environment)

import numpy as np  # noqa: E402  (after the re-exec on purpose)
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

# (label, L, K, N): SmolLM2-135M projections at 256 tokens, then LLaMA-7B ones (--large).
SMOLLM2 = [
    ("smollm2 q/o 576→576", 256, 576, 576),
    ("smollm2 k/v 576→192", 256, 576, 192),
    ("smollm2 gate/up 576→1536", 256, 576, 1536),
    ("smollm2 down 1536→576", 256, 1536, 576),
    ("smollm2 lm-head 576→49152", 256, 576, 49152),
]
# How many times each SmolLM2 shape occurs in one forward (30 layers; q and o share a shape, so do k/v
# and gate/up), for the "GEMM time of one forward" estimate.
SMOLLM2_COUNTS = {"smollm2 q/o 576→576": 60, "smollm2 k/v 576→192": 60, "smollm2 gate/up 576→1536": 60,
                  "smollm2 down 1536→576": 30, "smollm2 lm-head 576→49152": 1}
# llama.cpp forward times from issue 6 (same machine, 2 threads, SmolLM2-135M, 256 tokens, all logits,
# bidirectional, best of 7) — measured by the author in another run; shown for scale only.
LLAMA_CPP_FORWARD_2T = {"F16": 0.62, "F32": 0.81, "Q8_0": 0.86, "Q4_1": 1.48}
LLAMA7B = [
    ("llama7b q/k/v/o 4096→4096", 256, 4096, 4096),
    ("llama7b gate/up 4096→11008", 256, 4096, 11008),
    ("llama7b down 11008→4096", 256, 11008, 4096),
]


def numpy_gflops(rows, k, n, threads, repeat):
    """(median, best) GFLOP/s of float32 x[rows × k] @ w[n × k]ᵀ with `threads` OpenBLAS threads."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, k), dtype=np.float32)
    w = rng.standard_normal((n, k), dtype=np.float32)
    out = np.empty((rows, n), dtype=np.float32)
    times = []
    with threadpool_limits(limits=threads, user_api="blas"):
        np.matmul(x, w.T, out=out)
        for _ in range(repeat):
            start = time.perf_counter()
            np.matmul(x, w.T, out=out)
            times.append(time.perf_counter() - start)
    times.sort()
    flops = 2.0 * rows * k * n
    return flops / times[len(times) // 2] / 1e9, flops / times[0] / 1e9


def diffu_gflops(binary, rows, k, n, storage, threads, repeat):
    """(median, best) GFLOP/s reported by `diffu bench-gemm --json` over `repeat` runs."""
    command = [binary, "bench-gemm", "--rows", str(rows), "--k", str(k), "--n", str(n),
               "--storage", storage, "--threads", str(threads), "--repeat", str(repeat), "--json"]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["gflops"], 2.0 * rows * k * n / report["min_seconds"] / 1e9


def better(first, second):
    """Element-wise maximum of two (median, best) pairs."""
    return max(first[0], second[0]), max(first[1], second[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--diffu", default=".build/release/diffu")
    parser.add_argument("--storages", default="f32,f16,bf16,q8,q4")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--large", action="store_true", help="also the LLaMA-7B shapes (slow)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--llamacpp", action="store_true", help="also time llama.cpp's ggml mul_mat")
    parser.add_argument("--keep-openblas-env", action="store_true", help="do not unset OPENBLAS_* variables")
    arguments = parser.parse_args()

    storages = arguments.storages.split(",")
    thread_counts = [int(t) for t in arguments.threads.split(",")]
    shapes = SMOLLM2 + (LLAMA7B if arguments.large else [])
    blas = [entry for entry in threadpool_info() if entry.get("user_api") == "blas"]
    print(f"# numpy {np.__version__}; BLAS: " + "; ".join(
        f"{b.get('internal_api')} {b.get('version')} kernel {b.get('architecture')}" for b in blas))
    print(f"# OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
    print(f"# date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()}")

    ggml = None
    if arguments.llamacpp:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from ggml_matmul import GgmlMatmul
        ggml = GgmlMatmul()
    ggml_type = {"f32": "F32", "f16": "F16", "bf16": "BF16", "q8": "Q8_0", "q4": "Q4_0"}
    llama = {}    # (label, storage, threads) -> (median, best) for llama.cpp's matching type
    peak = {}
    results = {}  # (label, storage, threads) -> gflops
    sgemm = {}    # (label, threads) -> gflops
    for threads in thread_counts:
        peak[threads] = numpy_gflops(2048, 2048, 2048, threads, max(3, arguments.repeat // 2))
        for label, rows, k, n in shapes:
            repeat = arguments.repeat if rows * k * n < 2e9 else max(3, arguments.repeat // 3)
            sgemm[(label, threads)] = numpy_gflops(rows, k, n, threads, repeat)
            for storage in storages:
                results[(label, storage, threads)] = diffu_gflops(arguments.diffu, rows, k, n, storage, threads, repeat)
                if ggml is not None:
                    llama[(label, storage, threads)] = ggml.gflops(ggml_type[storage], rows, k, n, threads, repeat)
        # The peak once more after the Diffu runs: report the better of the two (noise on a shared box).
        peak[threads] = better(peak[threads], numpy_gflops(2048, 2048, 2048, threads, max(3, arguments.repeat // 2)))

    header = ["shape", "storage", "threads", "Diffu median (best)", "sgemm same shape median (best)",
              "Diffu/peak median", "Diffu/peak best", "Diffu/same-shape best", "2-thread speedup best"]
    if ggml is not None:
        header += ["llama.cpp type", "llama.cpp median (best)", "Diffu/llama.cpp median"]
    rows_out = []
    for label, rows, k, n in shapes:
        for storage in storages:
            for threads in thread_counts:
                median, best = results[(label, storage, threads)]
                same_median, same_best = sgemm[(label, threads)]
                speedup = ""
                if threads != 1 and 1 in thread_counts:
                    speedup = f"{best / results[(label, storage, 1)][1]:.2f}×"
                rows_out.append([f"{label} (L={rows})", storage, str(threads), f"{median:.1f} ({best:.1f})",
                                 f"{same_median:.1f} ({same_best:.1f})", f"{median / peak[threads][0]:.2f}",
                                 f"{best / peak[threads][1]:.2f}", f"{best / same_best:.2f}", speedup])
                if ggml is not None:
                    llama_median, llama_best = llama[(label, storage, threads)]
                    rows_out[-1] += [ggml_type[storage], f"{llama_median:.1f} ({llama_best:.1f})",
                                     f"{median / llama_median:.2f}"]
    if arguments.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows_out:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(header[i]), *(len(r[i]) for r in rows_out)) for i in range(len(header))]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for row in rows_out:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    shape_by_label = {label: (rows, k, n) for label, rows, k, n in shapes}
    if all(label in shape_by_label for label in SMOLLM2_COUNTS):
        print("# SmolLM2-135M, 256 tokens: projection + lm-head GEMM time of one forward from the medians above")
        for storage in storages:
            for threads in thread_counts:
                seconds = sum(count * 2.0 * rows * k * n / (results[(label, storage, threads)][0] * 1e9)
                              for label, count in SMOLLM2_COUNTS.items()
                              for rows, k, n in [shape_by_label[label]])
                line = f"#   {storage} {threads} thread(s): Diffu {seconds:.3f} s (from medians)"
                if ggml is not None:
                    llama_seconds = sum(count * 2.0 * rows * k * n / (llama[(label, storage, threads)][0] * 1e9)
                                        for label, count in SMOLLM2_COUNTS.items()
                                        for rows, k, n in [shape_by_label[label]])
                    line += f", llama.cpp {ggml_type[storage]} mul_mat {llama_seconds:.3f} s"
                print(line)
        print("#   llama.cpp whole forward, 2 threads (issue 6, another run): " +
              ", ".join(f"{name} {value} s" for name, value in LLAMA_CPP_FORWARD_2T.items()))
    for threads in thread_counts:
        print(f"# numpy sgemm 2048³ peak, {threads} thread(s): median {peak[threads][0]:.1f}, "
              f"best {peak[threads][1]:.1f} GFLOP/s")
    print(f"# end {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()}")


if __name__ == "__main__":
    main()

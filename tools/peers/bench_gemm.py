"""GEMM peer benchmark: Diffu's `diffu bench-gemm` against numpy's OpenBLAS sgemm in the same run.

Environment (tools only, never CI):
    tools/ci/setup_python.sh .venv-tools && .venv-tools/bin/pip install threadpoolctl
    swift build -c release --product diffu
Run (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when this machine sets them, pin an old OpenBLAS kernel and
slow numpy down; unset them for this command only — the script re-executes itself without them and
prints the kernel threadpoolctl reports):
    .venv-tools/bin/python -m tools.peers.bench_gemm [--diffu .build/release/diffu] [--large] [--markdown]
With --llamacpp (needs a Python where llama-cpp-python is installed, plus numpy and threadpoolctl) it also
times llama.cpp's own ggml `mul_mat` for the matching weight type (tools/peers/ggml_matmul.py):
f32→F32, f16→F16, bf16→BF16, q8→Q8_0, q4→Q4_0.

For 1 and 2 threads it measures, alternating peer and Diffu shape by shape:
- numpy float32 `A @ B` at 2048³ (the machine's sgemm peak for this run) and at each model shape
  (x[L × K] @ W[N × K]ᵀ, the same product Diffu computes);
- `diffu bench-gemm --json` for each storage type at each shape.
It prints, per product, three rates: the median and the best wall-clock GFLOP/s, and GFLOP per second of
process CPU time ("cpu"). On a shared, loaded machine the wall-clock numbers mostly measure the other
tenants; CPU time is not inflated by waiting for a core, so at 1 thread the cpu rates compare the kernels
fairly. At 2 threads only Diffu's cpu rate is meaningful (OpenBLAS and ggml worker threads spin while they
wait, which counts as CPU time), giving Diffu's "CPU-time speedup" = cpu-time(1 thread) / (cpu-time(2) / 2):
the speedup on two idle cores, load imbalance excluded.
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
    os.execve(sys.executable, [sys.executable, "-m", __spec__.name] + sys.argv[1:], environment)

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


class Rate:
    """GFLOP/s of one product: median and best wall clock, and per second of process CPU time (median)."""

    def __init__(self, flops, wall_seconds, cpu_seconds):
        wall_seconds, cpu_seconds = sorted(wall_seconds), sorted(cpu_seconds)
        self.median = flops / wall_seconds[len(wall_seconds) // 2] / 1e9
        self.best = flops / wall_seconds[0] / 1e9
        self.cpu = flops / max(1e-9, cpu_seconds[len(cpu_seconds) // 2]) / 1e9

    def better(self, other):
        """The element-wise better of two measurements of the same thing."""
        merged = Rate(1, [1], [1])
        merged.median, merged.best = max(self.median, other.median), max(self.best, other.best)
        merged.cpu = max(self.cpu, other.cpu)
        return merged

    def text(self):
        return f"{self.median:.1f} ({self.best:.1f}) [{self.cpu:.1f}]"


def numpy_rate(rows, k, n, threads, repeat):
    """float32 x[rows × k] @ w[n × k]ᵀ with `threads` OpenBLAS threads."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, k), dtype=np.float32)
    w = rng.standard_normal((n, k), dtype=np.float32)
    out = np.empty((rows, n), dtype=np.float32)
    wall, cpu = [], []
    with threadpool_limits(limits=threads, user_api="blas"):
        np.matmul(x, w.T, out=out)
        for _ in range(repeat):
            cpu_start, start = time.process_time(), time.perf_counter()
            np.matmul(x, w.T, out=out)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
    return Rate(2.0 * rows * k * n, wall, cpu)


def diffu_rate(binary, rows, k, n, storage, threads, repeat):
    """`diffu bench-gemm --json` over `repeat` runs."""
    command = [binary, "bench-gemm", "--rows", str(rows), "--k", str(k), "--n", str(n),
               "--storage", storage, "--threads", str(threads), "--repeat", str(repeat), "--json"]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    flops = 2.0 * rows * k * n
    return Rate(flops, [report["median_seconds"], report["min_seconds"], report["median_seconds"]],
                [report["median_cpu_seconds"]])


def print_table(header, rows_out, markdown):
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows_out:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(header[i]), *(len(r[i]) for r in rows_out)) for i in range(len(header))]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for row in rows_out:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--diffu", default=".build/release/diffu")
    parser.add_argument("--storages", default="f32,f16,bf16,q8,q4")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--large", action="store_true", help="also the LLaMA-7B shapes (slow)")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
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
    print(f"# start {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()}")
    print("# rates: GFLOP/s median (best) [per CPU-second]")

    ggml = None
    if arguments.llamacpp:
        from tools.peers.ggml_matmul import GgmlMatmul
        ggml = GgmlMatmul()
    ggml_type = {"f32": "F32", "f16": "F16", "bf16": "BF16", "q8": "Q8_0", "q4": "Q4_0"}
    peak, sgemm, results, llama = {}, {}, {}, {}
    peak_repeat = max(3, arguments.repeat // 2)
    for threads in thread_counts:
        peak[threads] = numpy_rate(2048, 2048, 2048, threads, peak_repeat)
        for label, rows, k, n in shapes:
            repeat = arguments.repeat if rows * k * n < 2e9 else max(3, arguments.repeat // 3)
            sgemm[(label, threads)] = numpy_rate(rows, k, n, threads, repeat)
            for storage in storages:
                results[(label, storage, threads)] = diffu_rate(arguments.diffu, rows, k, n, storage, threads, repeat)
                if ggml is not None:
                    median, best, cpu = ggml.gflops(ggml_type[storage], rows, k, n, threads, repeat)
                    rate = Rate(1, [1], [1])
                    rate.median, rate.best, rate.cpu = median, best, cpu
                    llama[(label, storage, threads)] = rate
        # The peak once more after the Diffu runs: keep the better of the two (noise on a shared box).
        peak[threads] = peak[threads].better(numpy_rate(2048, 2048, 2048, threads, peak_repeat))

    for threads in thread_counts:
        header = ["shape", "storage", f"Diffu {threads}T", "sgemm same shape", "Diffu/sgemm cpu",
                  "Diffu/peak cpu", "Diffu/peak median"]
        if threads != 1 and 1 in thread_counts:
            header = header[:5] + ["Diffu/peak best", "CPU-time speedup", "wall speedup best"]
        if ggml is not None:
            header += ["llama.cpp", "llama.cpp rate", "Diffu/llama.cpp " + ("cpu" if threads == 1 else "best")]
        rows_out = []
        for label, rows, k, n in shapes:
            for storage in storages:
                rate, same = results[(label, storage, threads)], sgemm[(label, threads)]
                row = [f"{label} (L={rows})", storage, rate.text(), same.text(), f"{rate.cpu / same.cpu:.2f}"]
                if threads == 1 or 1 not in thread_counts:
                    row += [f"{rate.cpu / peak[threads].cpu:.2f}", f"{rate.median / peak[threads].median:.2f}"]
                else:
                    single = results[(label, storage, 1)]
                    row += [f"{rate.best / peak[threads].best:.2f}",
                            f"{single.cpu and threads * rate.cpu / single.cpu:.2f}×",
                            f"{rate.best / single.best:.2f}×"]
                if ggml is not None:
                    peer = llama[(label, storage, threads)]
                    ratio = rate.cpu / peer.cpu if threads == 1 else rate.best / peer.best
                    row += [ggml_type[storage], peer.text(), f"{ratio:.2f}"]
                rows_out.append(row)
        print(f"\n# {threads} thread(s); numpy sgemm 2048³ peak {peak[threads].text()}")
        print_table(header, rows_out, arguments.markdown)

    shape_by_label = {label: (rows, k, n) for label, rows, k, n in shapes}
    if all(label in shape_by_label for label in SMOLLM2_COUNTS):
        print("\n# SmolLM2-135M, 256 tokens: projection + lm-head GEMM seconds of one forward, from the rates above")
        for storage in storages:
            for threads in thread_counts:
                def seconds(table, pick):
                    return sum(count * 2.0 * rows * k * n / (pick(table[(label, storage, threads)]) * 1e9)
                               for label, count in SMOLLM2_COUNTS.items() for rows, k, n in [shape_by_label[label]])
                line = (f"#   {storage} {threads}T: Diffu median {seconds(results, lambda r: r.median):.3f} s, "
                        f"best {seconds(results, lambda r: r.best):.3f} s")
                if threads == 1:
                    line += f", per CPU {seconds(results, lambda r: r.cpu):.3f} s"
                if ggml is not None:
                    line += (f"; llama.cpp {ggml_type[storage]} median {seconds(llama, lambda r: r.median):.3f} s, "
                             f"best {seconds(llama, lambda r: r.best):.3f} s")
                    if threads == 1:
                        line += f", per CPU {seconds(llama, lambda r: r.cpu):.3f} s"
                print(line)
        print("#   llama.cpp whole forward, 2 threads (issue 6, another run): " +
              ", ".join(f"{name} {value} s" for name, value in LLAMA_CPP_FORWARD_2T.items()))
    print(f"# end {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()}")


if __name__ == "__main__":
    main()

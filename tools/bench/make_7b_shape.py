"""Writes a synthetic checkpoint with DiffuLLaMA's exact 7B shape (or Dream-7B's with --dream) for
measuring `diffu convert` (peak RSS, wall time, MB/s). Random weights, real layout: bf16 safetensors
shards + model.safetensors.index.json + config.json + a real tokenizer.

Environment: python3 -m venv .venv-tools && .venv-tools/bin/pip install numpy   (numpy only — no torch,
so that memory stays low: tensors are streamed to disk from a reusable pool of random bf16 values).
Usage:
    python -m tools.bench.make_7b_shape $DIFFU_DATA/diffullama-shape            # ~13.5 GB, 3 shards
    python -m tools.bench.make_7b_shape --dream $DIFFU_DATA/dream-shape         # ~15.2 GB, 4 shards
    python -m tools.bench.make_7b_shape --dream --layers 2 $DIFFU_DATA/dream-2  # same widths, 2 layers (~3.3 GB)
Tokenizer files are copied from --tokenizer-dir (default: $DIFFU_DATA/testdata/tokenizers/llama2 or qwen2).
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

from tools.diffutools import locations

POOL_ELEMENTS = 64 << 20  # 64 Mi bf16 values (128 MB) reused cyclically at varying offsets


def llama_config():
    return {
        "_name_or_path": "diffusionfamily/diffullama (synthetic shape)",
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "attention_bias": False,
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "hidden_act": "silu", "hidden_size": 4096,
        "initializer_range": 0.02, "intermediate_size": 11008, "max_position_embeddings": 4096,
        "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32, "pretraining_tp": 1,
        "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000.0, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "transformers_version": "4.44.2", "use_cache": True, "vocab_size": 32000,
    }


def dream_config():
    return {
        "architectures": ["DreamModel"], "model_type": "Dream", "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151643, "pad_token_id": 151643, "mask_token_id": 151666,
        "hidden_act": "silu", "hidden_size": 3584, "initializer_range": 0.02, "intermediate_size": 18944,
        "max_position_embeddings": 131072, "max_window_layers": 28, "num_attention_heads": 28,
        "num_hidden_layers": 28, "num_key_value_heads": 4, "rms_norm_eps": 1e-06, "rope_scaling": None,
        "rope_theta": 1000000.0, "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.46.2", "use_cache": True, "use_sliding_window": False, "vocab_size": 152064,
    }


def tensor_list(config):
    """(name, shape) in Hugging Face save order."""
    hidden, ffn = config["hidden_size"], config["intermediate_size"]
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = hidden // heads
    bias = config["model_type"] != "llama"
    tensors = [("model.embed_tokens.weight", (config["vocab_size"], hidden))]
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        tensors += [(p + "self_attn.q_proj.weight", (heads * head_dim, hidden)),
                    (p + "self_attn.k_proj.weight", (kv * head_dim, hidden)),
                    (p + "self_attn.v_proj.weight", (kv * head_dim, hidden)),
                    (p + "self_attn.o_proj.weight", (hidden, heads * head_dim))]
        if bias:
            tensors += [(p + "self_attn.q_proj.bias", (heads * head_dim,)), (p + "self_attn.k_proj.bias", (kv * head_dim,)),
                        (p + "self_attn.v_proj.bias", (kv * head_dim,))]
        tensors += [(p + "mlp.gate_proj.weight", (ffn, hidden)), (p + "mlp.up_proj.weight", (ffn, hidden)),
                    (p + "mlp.down_proj.weight", (hidden, ffn)),
                    (p + "input_layernorm.weight", (hidden,)), (p + "post_attention_layernorm.weight", (hidden,))]
    tensors += [("model.norm.weight", (hidden,)), ("lm_head.weight", (config["vocab_size"], hidden))]
    return tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output")
    parser.add_argument("--dream", action="store_true", help="Dream-7B (Qwen2) shape instead of DiffuLLaMA")
    parser.add_argument("--shards", type=int, default=None)
    parser.add_argument("--tokenizer-dir", default=None,
                        help=f"default {locations.under_data('testdata')}/tokenizers/llama2 (qwen2 with --dream)")
    parser.add_argument("--layers", type=int, default=None, help="fewer layers (a quick check of the same widths)")
    args = parser.parse_args()

    config = dream_config() if args.dream else llama_config()
    if args.layers:
        config["num_hidden_layers"] = args.layers
    shards = args.shards or (4 if args.dream else 3)
    tokenizer_dir = args.tokenizer_dir or os.path.join(locations.resolve("testdata", None, "--tokenizer-dir"),
                                                       "tokenizers", "qwen2" if args.dream else "llama2")
    os.makedirs(args.output, exist_ok=True)

    tensors = tensor_list(config)
    sizes = [2 * int(np.prod(shape)) for _, shape in tensors]
    total = sum(sizes)
    # Split into shards of about equal size, in save order.
    assignment, shard, filled = [], 0, 0
    for size in sizes:
        if filled >= total * (shard + 1) / shards and shard < shards - 1:
            shard += 1
        assignment.append(shard)
        filled += size

    rng = np.random.default_rng(7)
    pool32 = (rng.standard_normal(POOL_ELEMENTS, dtype=np.float32) * 0.02)
    pool = (pool32.view(np.uint32) >> 16).astype(np.uint16)  # bf16 by truncation
    del pool32
    ones = np.full(1 << 20, 0x3F80, dtype=np.uint16)  # bf16 1.0 for norm weights
    cursor = 0

    weight_map = {}
    names = [f"model-{i + 1:05d}-of-{shards:05d}.safetensors" for i in range(shards)]
    for index, file_name in enumerate(names):
        members = [(t, s) for t, s, a in zip(tensors, sizes, assignment) if a == index]
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for (name, shape), size in members:
            header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
            offset += size
            weight_map[name] = file_name
        encoded = json.dumps(header, separators=(",", ":")).encode()
        encoded += b" " * ((8 - len(encoded) % 8) % 8)
        path = os.path.join(args.output, file_name)
        with open(path, "wb") as handle:
            handle.write(struct.pack("<Q", len(encoded)))
            handle.write(encoded)
            for (name, shape), size in members:
                count = size // 2
                if name.endswith("norm.weight"):
                    handle.write(ones[:count].tobytes())
                    continue
                written = 0
                while written < count:
                    start = (cursor * 7919) % POOL_ELEMENTS
                    piece = min(count - written, POOL_ELEMENTS - start, 16 << 20)
                    handle.write(pool[start:start + piece].tobytes())
                    written += piece
                    cursor += 1
        print(f"{file_name}: {os.path.getsize(path) / 1e9:.2f} GB", flush=True)

    with open(os.path.join(args.output, "model.safetensors.index.json"), "w") as handle:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, handle, indent=2)
    with open(os.path.join(args.output, "config.json"), "w") as handle:
        json.dump(config, handle, indent=2)
    for name in os.listdir(tokenizer_dir):
        if name.endswith((".json", ".model", ".txt")):
            shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(args.output, name))
    print(f"total {total / 1e9:.2f} GB of bf16 weights in {shards} shards")
    return 0


if __name__ == "__main__":
    sys.exit(main())

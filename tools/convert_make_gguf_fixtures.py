#!/usr/bin/env python3
"""Writes the tiny GGUF fixtures of the converter tests and their expected canonical tensors.

Environment: python3 -m venv .venv-tools && .venv-tools/bin/pip install gguf numpy
(or tools/setup_python.sh). Run from the repository root:
    .venv-tools/bin/python tools/convert_make_gguf_fixtures.py
Outputs (Tests/Fixtures/convert/):
    tiny-llama.gguf, tiny-qwen2.gguf   GGUF v3 files written by the `gguf` package
    tiny-llama.expected.json/.bin      the canonical tensors Diffu's importer must produce
    tiny-qwen2.expected.json/.bin      (f32 little-endian, row-major; .json lists name, shape, offset)

The expected values are independent of Diffu: every tensor is read back with gguf.GGUFReader and
dequantized with gguf.quants.dequantize (the package's port of llama.cpp's reference dequantizers).
The LLaMA Q and K matrices were permuted with llama.cpp's converter formula before quantization; the
expected canonical Q/K undo it with numpy's own inverse reshape, and the F32 Q of tiny-llama must come
back bit-identical to the Hugging Face-layout matrix we started from (a round trip through the forward
permutation).
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "convert")


def hf_to_gguf_permute(weights, n_head):
    """llama.cpp convert_hf_to_gguf.py LlamaModel.permute (per head: rows [2, d/2] -> [d/2, 2])."""
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def gguf_to_hf_unpermute(weights, n_head):
    """The inverse, written independently: per head, rows [d/2, 2] -> [2, d/2]."""
    d = weights.shape[0] // n_head
    return weights.reshape(n_head, d // 2, 2, -1).transpose(0, 2, 1, 3).reshape(weights.shape)


def tokenizer_keys(writer, vocab):
    tokens = ["<unk>", "<s>", "</s>"] + [f"t{i}" for i in range(3, vocab - 2)] + ["t1 t2", "t3t4"]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types([3, 3, 3] + [1] * (vocab - 3))
    writer.add_token_merges(["t3 t4"])  # both parts and their merge are tokens: the vocabulary loads
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_chat_template("{{ messages }}")


def write_model(name, arch, hidden, layers, heads, kv_heads, ffn, vocab, tied, types, rng, permute):
    path = os.path.join(OUT, f"{name}.gguf")
    writer = gguf.GGUFWriter(path, arch=arch)
    writer.add_name(name)
    writer.add_context_length(256)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(50000.0 if arch == "llama" else 1000000.0)
    writer.add_layer_norm_rms_eps(1e-5 if arch == "llama" else 1e-6)
    writer.add_rope_dimension_count(hidden // heads)
    tokenizer_keys(writer, vocab)

    head_dim = hidden // heads
    originals = {}  # HF-layout matrices before permutation (canonical name -> array)
    canonical_of = {}  # gguf name -> (canonical name, unpermute heads or None)

    def add(gguf_name, canonical, array, qtype, unpermute_heads=None):
        array = np.ascontiguousarray(array.astype(np.float32))
        if qtype == T.F32:
            data = array
        elif qtype == T.F16:
            data = array.astype(np.float16)
        else:
            data = gguf.quants.quantize(array, qtype)
        writer.add_tensor(gguf_name, data, raw_dtype=qtype)
        canonical_of[gguf_name] = (canonical, unpermute_heads)

    def matrix(rows, cols, scale=0.5):
        return rng.standard_normal((rows, cols)).astype(np.float32) * scale

    add("token_embd.weight", "token_embedding.weight", matrix(vocab, hidden), types["embd"])
    for layer in range(layers):
        b, p = f"blk.{layer}.", f"layers.{layer}."
        add(b + "attn_norm.weight", p + "attention_norm.weight", 1 + 0.1 * rng.standard_normal(hidden), T.F32)
        q_hf = matrix(heads * head_dim, hidden)
        k_hf = matrix(kv_heads * head_dim, hidden)
        originals[p + "attention.query.weight"] = q_hf
        q_src = hf_to_gguf_permute(q_hf, heads) if permute else q_hf
        k_src = hf_to_gguf_permute(k_hf, kv_heads) if permute else k_hf
        add(b + "attn_q.weight", p + "attention.query.weight", q_src, types["q"], heads if permute else None)
        add(b + "attn_k.weight", p + "attention.key.weight", k_src, types["k"], kv_heads if permute else None)
        add(b + "attn_v.weight", p + "attention.value.weight", matrix(kv_heads * head_dim, hidden), types["v"])
        if arch == "qwen2":
            add(b + "attn_q.bias", p + "attention.query.bias", rng.standard_normal(heads * head_dim), T.F32)
            add(b + "attn_k.bias", p + "attention.key.bias", rng.standard_normal(kv_heads * head_dim), T.F32)
            add(b + "attn_v.bias", p + "attention.value.bias", rng.standard_normal(kv_heads * head_dim), T.F32)
        add(b + "attn_output.weight", p + "attention.output.weight", matrix(hidden, heads * head_dim), types["o"])
        add(b + "ffn_norm.weight", p + "ffn_norm.weight", 1 + 0.1 * rng.standard_normal(hidden), T.F32)
        add(b + "ffn_gate.weight", p + "ffn.gate.weight", matrix(ffn, hidden), types["gate"])
        add(b + "ffn_up.weight", p + "ffn.up.weight", matrix(ffn, hidden), types["up"])
        add(b + "ffn_down.weight", p + "ffn.down.weight", matrix(hidden, ffn), types["down"])
    add("output_norm.weight", "output_norm.weight", 1 + 0.1 * rng.standard_normal(hidden), T.F32)
    if not tied:
        add("output.weight", "output.weight", matrix(vocab, hidden), types["output"])

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    # Read back and dequantize with the gguf package; undo the permutation with numpy.
    reader = gguf.GGUFReader(path)
    entries, blob, offset = [], bytearray(), 0
    for tensor in reader.tensors:
        canonical, heads_to_undo = canonical_of[tensor.name]
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        shape = [int(d) for d in reversed(tensor.shape.tolist())]
        values = values.reshape(shape)
        if heads_to_undo is not None:
            values = gguf_to_hf_unpermute(values, heads_to_undo)
        if canonical in originals and tensor.tensor_type == T.F32:
            assert np.array_equal(values, originals[canonical]), "F32 round trip through the permutation failed"
        data = np.ascontiguousarray(values, dtype="<f4").tobytes()
        entries.append({"name": canonical, "shape": shape, "offset": offset, "gguf_name": tensor.name,
                        "gguf_type": tensor.tensor_type.name})
        blob += data
        offset += len(data)
    config = {"architecture": "llama" if arch == "llama" else "qwen2", "vocab_size": vocab, "hidden_size": hidden,
              "num_layers": layers, "num_heads": heads, "num_kv_heads": kv_heads, "head_dim": head_dim,
              "intermediate_size": ffn, "max_positions": 256,
              "norm_eps": float(np.float32(1e-5 if arch == "llama" else 1e-6)),
              "rope_theta": 50000.0 if arch == "llama" else 1000000.0, "tied_embeddings": tied,
              "attention_bias": arch == "qwen2"}
    with open(os.path.join(OUT, f"{name}.expected.json"), "w") as handle:
        json.dump({"config": config, "tensors": entries, "bos_token_id": 1, "eos_token_id": 2,
                   "vocab_keys": [f.name for f in reader.fields.values() if f.name.startswith("tokenizer.")]},
                  handle, indent=1)
    with open(os.path.join(OUT, f"{name}.expected.bin"), "wb") as handle:
        handle.write(blob)
    print(f"{name}: {os.path.getsize(path)} bytes, {len(entries)} tensors")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261127)
    # Every importable type appears: F32, F16, Q8_0, Q4_0, Q4_1 (and Q/K permuted in F32 and Q4_1).
    write_model("tiny-llama", "llama", hidden=64, layers=2, heads=4, kv_heads=2, ffn=96, vocab=48, tied=False,
                types={"embd": T.Q8_0, "q": T.F32, "k": T.Q4_1, "v": T.Q4_0, "o": T.F16, "gate": T.Q4_1,
                       "up": T.Q8_0, "down": T.Q4_0, "output": T.Q4_1},
                rng=rng, permute=True)
    write_model("tiny-qwen2", "qwen2", hidden=64, layers=1, heads=4, kv_heads=1, ffn=64, vocab=40, tied=True,
                types={"embd": T.F16, "q": T.Q8_0, "k": T.Q4_0, "v": T.Q4_1, "o": T.Q8_0, "gate": T.F16,
                       "up": T.Q4_0, "down": T.F32},
                rng=rng, permute=False)


if __name__ == "__main__":
    sys.exit(main())

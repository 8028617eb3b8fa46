"""Writes the small seed corpora of the libFuzzer targets into tools/fuzz/seeds/<target>/.

Setup: python3 -m venv venv && venv/bin/pip install numpy safetensors gguf   (tools only, never in CI)
Usage: venv/bin/python -m tools.fuzz.make_seeds

Seeds are cut-down versions of the real fixtures under Tests/Fixtures (a few hundred tokens instead of
50 000) so that each execution is fast; run_all.sh adds the full fixtures it can afford.
"""
import json
import os
import struct

import numpy as np
from gguf import GGUFReader, GGUFWriter
from safetensors.numpy import save

from tools.diffutools.locations import FIXTURES, REPOSITORY

ROOT = REPOSITORY
FIX = FIXTURES
OUT = ROOT / "tools" / "fuzz" / "seeds"


def put(target, name, data):
    folder = OUT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def small_vocab(count=300):
    vocab = json.loads((FIX / "tokenizers/gpt2/vocab.json").read_text())
    kept = {token: index for token, index in vocab.items() if index < count}
    merges = []
    for line in (FIX / "tokenizers/gpt2/merges.txt").read_text().splitlines()[1:]:
        left, right = line.split(" ")
        if left in kept and right in kept and left + right in kept:
            merges.append(line)
    return kept, merges


def safetensors_seeds():
    put("safetensors", "f32.safetensors", save({"a": np.arange(6, dtype=np.float32).reshape(2, 3)}))
    put("safetensors", "mixed.safetensors", save({
        "w": np.ones((4, 2), dtype=np.float16), "b": np.zeros(3, dtype=np.int64), "s": np.array(1.5, dtype=np.float32),
        "e": np.zeros((0, 5), dtype=np.float32)}, metadata={"format": "pt"}))
    header = json.dumps({"x": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}).encode()
    put("safetensors", "bf16.safetensors", struct.pack("<Q", len(header)) + header + bytes(range(8)))


def gguf_seeds():
    for name in ["tiny-qwen2.gguf"]:
        put("gguf", name, (FIX / "convert" / name).read_bytes())
    # Every ggml block type Diffu reads (K-quants, Q5_x, Q8_0, Q4_x, F16, BF16) plus the refused Q2_K/Q3_K.
    put("gguf", "blocks.gguf", (FIX / "convert" / "blocks" / "blocks.gguf").read_bytes())


def tokenizer_seeds():
    vocab, merges = small_vocab()
    config = (FIX / "tokenizers/gpt2/tokenizer_config.json").read_text()
    specials = (FIX / "tokenizers/gpt2/special_tokens_map.json").read_text()
    merges_text = "#version: 0.2\n" + "\n".join(merges) + "\n"
    put("vocab-merges", "gpt2-small", json.dumps(vocab) + "\0" + merges_text + "\0" + config)
    put("vocab-merges", "gpt2-small-noconfig", json.dumps(vocab) + "\0" + merges_text)

    for name in ["synthetic/tokenizer.json", "variants/gpt2-llama3-split.skeleton.json",
                 "variants/gpt2-prefix-space.skeleton.json", "qwen2/tokenizer.skeleton.json"]:
        put("tokenizer-json", name.replace("/", "-"), (FIX / "tokenizers" / name).read_bytes())
    for name, keep in [("gpt2", 300), ("llama2", 300)]:
        document = json.loads((FIX / "tokenizers" / name / "tokenizer.json").read_text())
        model = document["model"]
        model["vocab"] = {token: index for token, index in model["vocab"].items() if index < keep}
        pieces = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
        model["merges"] = [m for m in pieces if all(p in model["vocab"] for p in m.split(" ")) and m.replace(" ", "") in model["vocab"]][:200]
        document["added_tokens"] = [t for t in document.get("added_tokens", []) if t["id"] < keep]
        text = json.dumps(document)
        folder = FIX / "tokenizers" / name
        put("tokenizer-json", name + "-small", text + "\0" + (folder / "tokenizer_config.json").read_text()
            + "\0" + (folder / "special_tokens_map.json").read_text())

    # SentencePiece: keep the first 300 pieces of LLaMA-2's model and every other top-level field.
    raw = (FIX / "tokenizers/llama2/tokenizer.model").read_bytes()
    out, position, pieces = bytearray(), 0, 0

    def varint(at):
        value, shift = 0, 0
        while True:
            byte = raw[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value, at

    while position < len(raw):
        start = position
        key, position = varint(position)
        wire = key & 7
        if wire == 2:
            length, position = varint(position)
            position += length
        elif wire == 0:
            _, position = varint(position)
        elif wire == 5:
            position += 4
        elif wire == 1:
            position += 8
        if key >> 3 == 1:
            pieces += 1
            if pieces > 300:
                continue
        out += raw[start:position]
    put("sentencepiece", "llama2-300.model", bytes(out))

    # GGUF vocabularies: the first 300 tokens of llama.cpp's gpt-2 and llama-spm vocabularies.
    for name in ["gpt-2", "llama-spm"]:
        reader = GGUFReader(str(FIX / "tokenizers/vocab" / f"ggml-vocab-{name}.gguf"))
        writer = GGUFWriter(str(OUT / "tmp.gguf"), "llama" if name == "llama-spm" else "gpt2")
        for field in reader.fields.values():
            key = field.name
            if not key.startswith("tokenizer.") or key == "tokenizer.chat_template":
                continue
            value = field.contents()
            if isinstance(value, list):
                value = value[:300]
                if key == "tokenizer.ggml.merges":
                    toks = set(v for v in reader.fields["tokenizer.ggml.tokens"].contents()[:300])
                    value = [m for m in field.contents() if all(p in toks for p in m.split(" ")) and m.replace(" ", "") in toks][:200]
                writer.add_key_value(key, value, field.types[0], sub_type=field.types[-1])
            else:
                if key.endswith("_id") and isinstance(value, int) and value >= 300:
                    value = 2
                writer.add_key_value(key, value, field.types[0])
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.close()
        put("gguf-vocab", f"{name}-300.gguf", (OUT / "tmp.gguf").read_bytes())
        put("gguf", f"vocab-{name}-300.gguf", (OUT / "tmp.gguf").read_bytes())
        os.remove(OUT / "tmp.gguf")

    texts = (FIX / "tokenizers/vocab/ggml-vocab-gpt-2.gguf.inp").read_text().split("\n__ggml_vocab_test__\n")
    for index, text in enumerate(texts):
        put("encode-decode", f"text-{index:02d}", bytes([index % 64]) + text.encode())


def config_seeds():
    for index, name in enumerate(["gpt2_plain_f32", "llama_sharded_bf16", "qwen2_gqa_f32"]):
        put("config", name, bytes([index]) + (FIX / "models" / name / "config.json").read_bytes())
    put("shard-index", "llama_sharded_bf16", (FIX / "models/llama_sharded_bf16/model.safetensors.index.json").read_bytes())


def llada_seeds():
    """LLaDA: its config.json (selector 3 = the llada_gqa_bf16 tensors in ConfigFuzz.swift) and the `llada`
    GGUF architecture with llama.cpp's diffusion metadata."""
    put("config", "llada_gqa_bf16", bytes([3]) + (FIX / "models/llada_gqa_bf16/config.json").read_bytes())
    put("gguf", "tiny-llada.gguf", (FIX / "convert/tiny-llada.gguf").read_bytes())


if __name__ == "__main__":
    safetensors_seeds()
    gguf_seeds()
    tokenizer_seeds()
    config_seeds()
    llada_seeds()


def regression_inputs():
    """Hand-made inputs for faults found by reading the code while writing the fuzz targets (each traps or
    runs away without its fix); written to Tests/Fixtures/fuzz/<target>/ next to fuzzer-found crashes."""
    folder = ROOT / "Tests" / "Fixtures" / "fuzz"

    def put_regression(target, name, data):
        (folder / target).mkdir(parents=True, exist_ok=True)
        (folder / target / name).write_bytes(data)

    gpt2 = json.loads((FIX / "models/gpt2_plain_f32/config.json").read_text())
    llama = json.loads((FIX / "models/llama_sharded_bf16/config.json").read_text())
    cases = {
        "gpt2-embd-overflow": (0, dict(gpt2, n_embd=1 << 62, n_head=1, n_inner=None)),  # 4 · n_embd overflowed
        "gpt2-layers-1e15": (0, dict(gpt2, n_layer=10 ** 15)),  # planned 10^15 layers
        "llama-heads-overflow": (1, dict(llama, num_attention_heads=1 << 40, num_key_value_heads=1 << 40, head_dim=1 << 40)),
        "llama-layers-1e15": (1, dict(llama, num_hidden_layers=10 ** 15)),
    }
    for name, (selector, config) in cases.items():
        put_regression("config", name, bytes([selector]) + json.dumps(config).encode())

    # JSON nested 100 000 deep (a recursive parser without a depth limit overflows its stack).
    put_regression("config", "deep-nesting", bytes([0]) + b"[" * 100000 + b"]" * 100000)
    deep = b'{"a":' * 50000 + b"1" + b"}" * 50000
    put_regression("safetensors", "deep-nesting.safetensors", struct.pack("<Q", len(deep)) + deep)

    # A zero-sized tensor whose inner dimensions multiply past Int.max (its row length overflowed).
    header = json.dumps({"z": {"dtype": "F32", "shape": [0, 1 << 62, 1 << 62], "data_offsets": [0, 0]}}).encode()
    put_regression("safetensors", "zero-dim-row-overflow.safetensors", struct.pack("<Q", len(header)) + header)

    # A GGUF LLaMA whose block_count is 10^15 (and one whose head counts overflow head_count · key_length).
    for name, keys in [("llama-block-count-1e15.gguf", {"block_count": 10 ** 15}),
                       ("llama-heads-overflow.gguf", {"attention.head_count": 1 << 40, "attention.head_count_kv": 1 << 40,
                                                      "attention.key_length": 1 << 40})]:
        writer = GGUFWriter(str(OUT / "tmp.gguf"), "llama")
        values = {"embedding_length": 8, "block_count": 1, "attention.head_count": 2, "feed_forward_length": 16,
                  "context_length": 16}
        values.update(keys)
        for key, value in values.items():
            writer.add_uint64(f"llama.{key}", value)
        writer.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
        writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        put_regression("gguf", name, (OUT / "tmp.gguf").read_bytes())
        os.remove(OUT / "tmp.gguf")


if __name__ == "__main__":
    regression_inputs()

#!/usr/bin/env python3
"""Writes the server's test model: a tiny Qwen2-shaped GGUF with a byte-level tokenizer and Qwen2's ChatML
chat template, so that `diffu serve` can be driven end to end (completions on any text, and chat).

Random weights (seeded): the model's text is noise; the tests check the protocol and that the server answers
exactly what the library and the CLI generate. Run from the repository root (numpy and gguf installed, as
tools/setup_python.sh does):
    python3 tools/make_server_fixture.py
Output: Tests/Fixtures/server/tiny-chatml.gguf (about 80 KB). Vocabulary: the 256 byte-level symbols of
GPT-2/Qwen2 (bytes_to_unicode), three merges, and the specials <|endoftext|> (EOS), <|im_start|>, <|im_end|>
and <|mask|> (the mask token, id 262: pass --mask-id 262 to diffu convert). The chat template is the one in
Tests/Fixtures/tokenizers/qwen2/tokenizer_config.json (Qwen's tokenizer configuration, Apache-2.0).
"""
import json
import os
import sys

import numpy as np
import gguf

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "server", "tiny-chatml.gguf")


def bytes_to_unicode():
    """GPT-2's byte-level alphabet (the published table: printable bytes map to themselves, the rest above 255)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    characters = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            characters.append(256 + extra)
            extra += 1
    return {byte: chr(character) for byte, character in zip(printable, characters)}


def main():
    alphabet = bytes_to_unicode()
    tokens = [alphabet[byte] for byte in range(256)]
    merges = ["Ġ t", "h e", "Ġt he"]
    tokens += ["Ġt", "he", "Ġthe"]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|mask|>"]
    tokens += specials
    vocab = len(tokens)
    types = [1] * (vocab - len(specials)) + [3] * len(specials)
    with open(os.path.join(ROOT, "Tests", "Fixtures", "tokenizers", "qwen2", "tokenizer_config.json")) as handle:
        template = json.load(handle)["chat_template"]
    assert "<|im_start|>" in template

    hidden, layers, heads, kv_heads, ffn = 32, 2, 4, 2, 64
    head_dim = hidden // heads
    rng = np.random.default_rng(20261202)
    writer = gguf.GGUFWriter(OUT, arch="qwen2")
    writer.add_name("tiny-chatml")
    writer.add_context_length(512)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(1000000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_dimension_count(head_dim)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_eos_token_id(tokens.index("<|endoftext|>"))
    writer.add_chat_template(template)

    def tensor(name, *shape, scale=0.5, offset=0.0):
        writer.add_tensor(name, (offset + scale * rng.standard_normal(shape)).astype(np.float16))

    tensor("token_embd.weight", vocab, hidden)
    for layer in range(layers):
        b = f"blk.{layer}."
        writer.add_tensor(b + "attn_norm.weight", (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32))
        tensor(b + "attn_q.weight", heads * head_dim, hidden)
        tensor(b + "attn_k.weight", kv_heads * head_dim, hidden)
        tensor(b + "attn_v.weight", kv_heads * head_dim, hidden)
        writer.add_tensor(b + "attn_q.bias", (0.1 * rng.standard_normal(heads * head_dim)).astype(np.float32))
        writer.add_tensor(b + "attn_k.bias", (0.1 * rng.standard_normal(kv_heads * head_dim)).astype(np.float32))
        writer.add_tensor(b + "attn_v.bias", (0.1 * rng.standard_normal(kv_heads * head_dim)).astype(np.float32))
        tensor(b + "attn_output.weight", hidden, heads * head_dim)
        writer.add_tensor(b + "ffn_norm.weight", (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32))
        tensor(b + "ffn_gate.weight", ffn, hidden)
        tensor(b + "ffn_up.weight", ffn, hidden)
        tensor(b + "ffn_down.weight", hidden, ffn)
    writer.add_tensor("output_norm.weight", (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32))
    # An untied head whose rows for ASCII letters, space and full stop are large and all others small: the
    # largest logits (and so the generated text) are almost always readable ASCII.
    readable = {alphabet[byte] for byte in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ."} | {"Ġt", "he", "Ġthe"}
    scale = np.array([2.0 if token in readable else 0.02 for token in tokens], dtype=np.float32)[:, None]
    writer.add_tensor("output.weight", (scale * rng.standard_normal((vocab, hidden))).astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"{OUT}: {os.path.getsize(OUT)} bytes, vocabulary {vocab}, mask id {tokens.index('<|mask|>')}")


if __name__ == "__main__":
    sys.exit(main())

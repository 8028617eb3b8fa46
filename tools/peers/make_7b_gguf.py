"""Writes a random Q4_0 GGUF with DiffuLLaMA-7B's shape (LLaMA: 32 layers, hidden 4096, ffn 11008, 32 heads,
vocab 32000) for the llama.cpp peer measurement of issue 7, and (with --bench) measures llama.cpp on it:
load time, peak RSS and one bidirectional forward over N tokens with logits for every row.

Every matrix (embedding and head included) is Q4_0 (18-byte blocks: f16 scale + 16 bytes of nibbles) with
random nibbles and scales ~U(0.001, 0.004) (weights of magnitude ~0.01, like a trained 7B); norms are f32
ones. The vocabulary is the real LLaMA-2 one read from a tokenizer.json (scores = −id). Tensors are
streamed one at a time (peak memory ~100 MB while writing).

Environment: python3 -m venv .venv && .venv/bin/pip install numpy gguf llama-cpp-python
Usage:
    python3 -m tools.peers.make_7b_gguf $DIFFU_DATA/7b-peer-q4_0.gguf [--tokenizer-json FILE]
    python3 -m tools.peers.make_7b_gguf $DIFFU_DATA/7b-peer-q4_0.gguf --bench --tokens 256 --threads 2 [--no-mmap]
(--tokenizer-json default: $DIFFU_DATA/diffullama-shape/tokenizer.json, written by tools/bench/make_7b_shape.py;
Tests/Fixtures/tokenizers/llama2/tokenizer.json holds the same vocabulary.)
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np

from tools.diffutools import locations

LAYERS, HIDDEN, FFN, HEADS, VOCAB = 32, 4096, 11008, 32, 32000


def write(path, tokenizer_json):
    import gguf
    rng = np.random.default_rng(7)
    pool_blocks = 1 << 22  # 4 Mi blocks = 72 MB, reused cyclically at varying offsets
    pool = rng.integers(0, 256, size=(pool_blocks, 18), dtype=np.uint8)
    scales = rng.uniform(0.001, 0.004, size=pool_blocks).astype(np.float16)
    pool[:, 0:2] = scales.view(np.uint8).reshape(-1, 2)

    with open(tokenizer_json) as handle:
        vocabulary = json.load(handle)["model"]["vocab"]
    tokens = [""] * VOCAB
    for piece, index in vocabulary.items():
        if index < VOCAB:
            tokens[index] = piece
    types = []
    for index, piece in enumerate(tokens):
        if index == 0:
            types.append(gguf.TokenType.UNKNOWN)
        elif index in (1, 2):
            types.append(gguf.TokenType.CONTROL)
        elif piece.startswith("<0x") and piece.endswith(">") and len(piece) == 6:
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)

    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("DiffuLLaMA-7B shape (random Q4_0)")
    writer.add_context_length(4096)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    writer.add_vocab_size(VOCAB)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([float(-index) for index in range(VOCAB)])
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)

    matrices = [("token_embd.weight", VOCAB, HIDDEN)]
    for layer in range(LAYERS):
        p = f"blk.{layer}."
        matrices += [(p + "attn_q.weight", HIDDEN, HIDDEN), (p + "attn_k.weight", HIDDEN, HIDDEN),
                     (p + "attn_v.weight", HIDDEN, HIDDEN), (p + "attn_output.weight", HIDDEN, HIDDEN),
                     (p + "ffn_gate.weight", FFN, HIDDEN), (p + "ffn_up.weight", FFN, HIDDEN),
                     (p + "ffn_down.weight", HIDDEN, FFN)]
    matrices.append(("output.weight", VOCAB, HIDDEN))
    norms = [f"blk.{layer}.{name}.weight" for layer in range(LAYERS) for name in ("attn_norm", "ffn_norm")]
    norms.append("output_norm.weight")
    order = []
    for name, rows, columns in matrices:
        nbytes = rows * columns // 32 * 18
        writer.add_tensor_info(name, (rows, columns // 32 * 18), np.dtype(np.uint8), nbytes,
                               raw_dtype=gguf.GGMLQuantizationType.Q4_0)
        order.append(("q", name, rows, columns))
    for name in norms:
        writer.add_tensor_info(name, (HIDDEN,), np.dtype(np.float32), HIDDEN * 4)
        order.append(("n", name, HIDDEN, 0))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    offset = 0
    for kind, name, rows, columns in order:
        if kind == "q":
            blocks = rows * columns // 32
            start = offset % pool_blocks
            indices = (np.arange(blocks) + start) % pool_blocks
            writer.write_tensor_data(pool[indices])
            offset += 7919 * 32 + blocks
        else:
            writer.write_tensor_data(np.ones(rows, dtype=np.float32))
        print(f"wrote {name}", file=sys.stderr, flush=True)
    writer.close()


def peak_rss_mb():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench(path, token_count, threads, mmap):
    import llama_cpp
    cpu0, wall0 = time.process_time(), time.monotonic()
    llm = llama_cpp.Llama(model_path=path, n_ctx=max(512, token_count), n_batch=token_count, n_ubatch=token_count,
                          n_threads=threads, n_threads_batch=threads, logits_all=True, use_mmap=mmap, verbose=False)
    load_wall, load_cpu = time.monotonic() - wall0, time.process_time() - cpu0
    print(f"load: {load_wall:.1f} s wall, {load_cpu:.1f} s cpu, peak RSS {peak_rss_mb():.0f} MB", flush=True)
    llama_cpp.llama_set_causal_attn(llm._ctx.ctx, False)
    tokens = [1] + [int(x) for x in np.random.default_rng(3).integers(3, VOCAB, size=token_count - 1)]
    cpu0, wall0 = time.process_time(), time.monotonic()
    llm.eval(tokens)
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    logits = np.asarray(llm.scores[:token_count])
    print(f"bidirectional forward of {token_count} tokens ({threads} threads, mmap={mmap}): {wall:.1f} s wall, "
          f"{cpu:.1f} s cpu; logits {logits.shape}, finite {bool(np.isfinite(logits).all())}; peak RSS {peak_rss_mb():.0f} MB",
          flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--tokenizer-json",
                        help=f"the LLaMA-2 tokenizer.json (default {locations.under_data('diffullama_shape')}/tokenizer.json)")
    parser.add_argument("--bench", action="store_true", help="measure llama.cpp on an existing file")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-mmap", dest="mmap", action="store_false")
    args = parser.parse_args()
    if args.bench:
        bench(args.path, args.tokens, args.threads, args.mmap)
    else:
        tokenizer_json = args.tokenizer_json or os.path.join(
            locations.resolve("diffullama_shape", None, "--tokenizer-json"), "tokenizer.json")
        write(args.path, tokenizer_json)


if __name__ == "__main__":
    main()

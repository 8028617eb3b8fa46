#!/usr/bin/env python3
"""Independent reference of the diffusion likelihood bound and the AR negative log-likelihood;
writes Tests/Fixtures/likelihood/expected.json.

Environment: numpy, torch (CPU) and transformers (tools/setup_python.sh). Run from the repository root:
    python3 tools/make_likelihood_fixtures.py

Models: two tiny checkpoints of Tests/Fixtures/models (tools/make_model_fixtures.py), loaded from their
files by transformers in float32 and run with the causal mask removed (an all-zero 4-D additive mask),
as DiffuGPT / DiffuLLaMA run them:
- gpt2_diffugpt_f16: the DiffuGPT-S wrapper layout (embed_tokens / denoise_model.*), mapped back to
  GPT2LMHeadModel keys here; f16 values computed in f32;
- llama_sharded_bf16: LlamaForCausalLM, two bf16 shards, upcast to f32 (exact).

The bound, written from the official trainer's semantics (HKUNLP/DiffuLLaMA
LLaMA-Factory/src/llamafactory/train/ddm/trainer.py, `inner_forward` + `transition`, linear schedule,
weight rate_noise(t) = 1/t): per sample t = (1 - 1e-3) * u + 1e-3; each non-context token masked when
its own uniform < t; one full-attention forward of the masked sequence; cross-entropy of the true
tokens at the masked positions, read with the shift (logits[:-1] against x[1:]) or without it;
sample value = sum(CE) / t / N (N = scored tokens); estimate = mean over samples. Unlike the trainer
(which divides by the masked count and whose loss mask is `x_t == mask_id`) the sum is divided by N —
the per-token bound of the paper's Eq. 7 — and the masked set is the drawn one.

Draws: the uniforms are those of Diffu's SeededRandomSource (xoshiro256** seeded through SplitMix64,
re-implemented in tools/reference_samplers.py: u = (next >> 11) * 2^-53), consumed per sample as: one
for t, then one per scored position in ascending order. So Diffu and this script mask the same
positions and must agree to float32 rounding of the logits.

AR: one causal forward (transformers' own causal mask), row p - 1 predicts token p for every scored p.
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import GPT2Config, GPT2LMHeadModel, LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_samplers import xoshiro256starstar  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "Tests", "Fixtures", "models")
OUTPUT = os.path.join(ROOT, "Tests", "Fixtures", "likelihood", "expected.json")
EPSILON = 1e-3
MASK_ID = 1  # the mask id the Swift tests convert the fixtures with (EndToEndTests.convertedFile)


class Uniforms:
    """The SeededRandomSource stream of uniforms in [0, 1)."""

    def __init__(self, seed, count):
        self.values = [(x >> 11) * 2.0 ** -53 for x in xoshiro256starstar(seed, count)]
        self.next_index = 0

    def next(self):
        value = self.values[self.next_index]
        self.next_index += 1
        return value


def load_gpt2_wrapper(directory):
    config = GPT2Config.from_pretrained(directory)
    config._attn_implementation = "eager"
    model = GPT2LMHeadModel(config).eval()
    state = {}
    for key, value in load_file(os.path.join(directory, "model.safetensors")).items():
        if key == "embed_tokens.weight":
            state["transformer.wte.weight"] = value.float()
        elif key.startswith("denoise_model."):
            state["transformer." + key[len("denoise_model."):]] = value.float()
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k == "lm_head.weight" or k.endswith(".attn.bias") for k in missing), (missing, unexpected)
    model.tie_weights()
    return model


def load_llama(directory):
    return LlamaForCausalLM.from_pretrained(directory, dtype=torch.float32, attn_implementation="eager").eval()


def logits_of(model, tokens, causal):
    ids = torch.tensor([tokens], dtype=torch.long)
    with torch.no_grad():
        if causal:
            out = model(input_ids=ids).logits
        else:
            mask = torch.zeros((1, 1, len(tokens), len(tokens)), dtype=torch.float32)
            out = model(input_ids=ids, attention_mask=mask).logits
    return out[0].float().numpy().astype(np.float64)


def cross_entropy(rows, targets):
    top = rows.max(axis=1, keepdims=True)
    log_sum = top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))
    return log_sum - rows[np.arange(len(targets)), targets]


def diffusion_bound(model, tokens, context, samples, seed, shift):
    """The Monte Carlo bound in the official style: whole-sequence boolean masks, all rows computed."""
    x = np.array(tokens)
    length = len(tokens)
    scored = length - context
    uniforms = Uniforms(seed, samples * (1 + scored))
    maskable = np.arange(length) >= context  # ~src_mask
    values, draws = [], []
    for _ in range(samples):
        t = (1 - EPSILON) * uniforms.next() + EPSILON
        u = np.ones(length)
        u[context:] = [uniforms.next() for _ in range(scored)]
        masked = (u < t) & maskable
        draws.append({"time": t, "masked": [int(p) for p in np.nonzero(masked)[0]]})
        if not masked.any():
            values.append(0.0)
            continue
        x_t = np.where(masked, MASK_ID, x)
        logits = logits_of(model, [int(v) for v in x_t], causal=False)
        if shift:
            logits, loss_mask, labels = logits[:-1], masked[1:], x[1:]
        else:
            loss_mask, labels = masked, x
        loss = cross_entropy(logits, labels)
        values.append(float(loss[loss_mask].sum() / t / scored))
    values = np.array(values)
    mean = values.mean()
    standard_error = values.std(ddof=1) / np.sqrt(samples) if samples > 1 else 0.0
    return {"nll": mean * scored, "nll_per_token": mean, "standard_error": standard_error, "draws": draws}


def autoregressive(model, tokens, context):
    logits = logits_of(model, tokens, causal=True)
    loss = cross_entropy(logits[context - 1 : -1], np.array(tokens[context:]))
    return {"nll": float(loss.sum()), "nll_per_token": float(loss.mean())}


def sequence(rng, vocab, count):
    """Random ids avoiding the mask id (so the official `x_t == mask_id` and the drawn set agree)."""
    values = rng.integers(2, vocab, size=count)
    return [int(v) for v in values]


def model_cases(name, model, vocab, rng):
    text = sequence(rng, vocab, 20)
    context = text[:6]
    continuation = text[6:14]
    cases = []
    for label, tokens, context_length, samples, seed, shift in [
        ("bound, shifted", text, 1, 24, 11, True),
        ("conditional bound, shifted", context + continuation, 6, 24, 5, True),
        ("bound, no shift", text, 0, 8, 2, False),
        ("conditional bound, no shift", context + continuation, 6, 8, 3, False),
    ]:
        case = {"name": label, "tokens": tokens, "context_length": context_length, "samples": samples, "seed": seed,
                "shift": shift}
        case.update(diffusion_bound(model, tokens, context_length, samples, seed, shift))
        cases.append(case)
    ar_cases = []
    for label, tokens, context_length in [("AR", text, 1), ("conditional AR", context + continuation, 6)]:
        case = {"name": label, "tokens": tokens, "context_length": context_length}
        case.update(autoregressive(model, tokens, context_length))
        ar_cases.append(case)
    score = score_case(model, context, [sequence(rng, vocab, 4), sequence(rng, vocab, 7), sequence(rng, vocab, 4)])
    return {"name": name, "mask_id": MASK_ID, "bound": cases, "autoregressive": ar_cases, "score": score}


def score_case(model, context, choices, samples=16, seed=9):
    """Conditional bounds of each choice with the same seed; the rankings by total and per token."""
    results = []
    for choice in choices:
        bound = diffusion_bound(model, context + choice, len(context), samples, seed, True)
        results.append({"tokens": choice, "nll": bound["nll"], "nll_per_token": bound["nll_per_token"]})
    for key in ("nll", "nll_per_token"):
        values = sorted(r[key] for r in results)
        gaps = [b - a for a, b in zip(values, values[1:])]
        assert min(gaps) > 1e-3 * max(abs(v) for v in values), f"near-tie in the {key} ranking: {values}"
    by_total = sorted(range(len(results)), key=lambda i: results[i]["nll"])
    by_token = sorted(range(len(results)), key=lambda i: results[i]["nll_per_token"])
    return {"context": context, "samples": samples, "seed": seed, "choices": results,
            "order_total": by_total, "order_per_token": by_token}


def main():
    rng = np.random.default_rng(20261202)
    fixtures = []
    for name, loader in [("gpt2_diffugpt_f16", load_gpt2_wrapper), ("llama_sharded_bf16", load_llama)]:
        model = loader(os.path.join(MODELS, name))
        fixtures.append(model_cases(name, model, model.config.vocab_size, rng))
        print(name, [round(float(c["nll_per_token"]), 4) for c in fixtures[-1]["bound"]],
              [round(float(c["nll_per_token"]), 4) for c in fixtures[-1]["autoregressive"]],
              fixtures[-1]["score"]["order_total"], fixtures[-1]["score"]["order_per_token"])
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w") as f:
        json.dump({"generator": "tools/make_likelihood_fixtures.py", "epsilon": EPSILON, "models": fixtures}, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(OUTPUT, ROOT))


if __name__ == "__main__":
    sys.exit(main())

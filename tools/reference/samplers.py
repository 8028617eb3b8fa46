"""Independent numpy reference of the diffusion samplers, and the test cases built with it
(tools/fixtures/make_sampler_fixtures.py writes them to Tests/Fixtures/samplers/).

Environment: numpy, plus torch (CPU) and transformers for the tiny-GPT-2 cases (tools/ci/setup_python.sh).
Not a script: `from tools.reference import samplers`.

Written from the official code's semantics (HKUNLP/DiffuLLaMA `model.py::generate_samples` = random-keep,
`LLaMA-Factory/.../ddm/trainer.py::generate_samples` = confidence; Dream `generation_utils.py::_sample`
and `sample_tokens`; LLaDA `generate` + `get_num_transfer_tokens` for the block schedule; Fast-dLLM
`get_transfer_index` for threshold decoding; LLaDA `generate.py` for its own sampler, written to
cases_llada.json), in the official style: every forward computes all L rows,
draws happen for all rows, masks are whole-sequence boolean arrays. Logits come from the fake function
in tools/reference/fake_logits.py, and, for cases_tiny_gpt2.json, from a tiny random GPT-2 run by
transformers with the causal mask removed (its logits are recorded per input sequence so the Swift test
serves exactly those).

Randomness: numpy's Generator. A draw whose outcome the official code discards (rows of positions
that are not maskable, the last row under the shift) is made but not recorded, since it cannot change
the output; the recorded draws are those that matter, in the order the official code consumes them
(ascending position within a tensor). Uniforms are float32, as torch.rand gives. Categorical draws
are recorded as indices together with the probability of the drawn index and the support size, so
the Swift side verifies its temperature / top-p / top-k arithmetic while replaying.

Robustness: floating-point near-ties (a top-p cumulative sum within 1e-5 of p, two confidence scores
within 1e-4 around a cut) would make a fixture depend on rounding; such candidate cases are rejected
and the next seed is tried, so every committed case is decided with a margin.
"""
import json
import os
import sys

import numpy as np

from tools.diffutools.locations import FIXTURES
from tools.reference.fake_logits import fake_logits

FINFO_MIN = np.finfo(np.float32).min

# The logits function the samplers call: the fake function, or a recording tiny transformers model.
LOGITS = fake_logits


class TinyGPT2Table:
    """Logits of a tiny randomly initialised GPT-2 (transformers) with the causal mask removed, as
    DiffuGPT runs it (a 4-D all-zero additive attention mask), recorded per input sequence so the Swift
    test can serve exactly these logits."""

    def __init__(self, vocab):
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel
        torch.manual_seed(0)
        config = GPT2Config(vocab_size=vocab, n_positions=32, n_embd=32, n_layer=2, n_head=2,
                            initializer_range=0.6, bos_token_id=0, eos_token_id=0, attn_implementation="eager")
        self.torch = torch
        self.model = GPT2LMHeadModel(config).eval()
        self.table = {}

    def __call__(self, tokens, vocab, causal=False, mask_token=None):
        torch = self.torch
        ids = torch.tensor([[int(t) for t in tokens]])
        mask = None if causal else torch.zeros(1, 1, len(tokens), len(tokens))
        with torch.no_grad():
            logits = self.model(ids, attention_mask=mask).logits[0].float().numpy().astype(np.float32)
        self.table[(tuple(int(t) for t in tokens), causal)] = logits
        return logits


class Fragile(Exception):
    """A decision too close to a floating-point boundary for a robust fixture."""


class Recorder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.uniforms = []
        self.categoricals = []
        self.checks = []
        self.rows = []  # rows of logits each forward pass actually needs

    def gumbel_uniforms(self, length, vocab, rows):
        """generate.py's rand_like over the whole [L, V] float64 tensor; the given rows are recorded."""
        noise = self.rng.random((length, vocab))
        for p in rows:
            self.uniforms.extend(float(v) for v in noise[p])
        return noise

    def remask_uniforms(self, length, positions):
        """generate.py's rand((L,)) float32 confidences of `random` remasking; `positions` are recorded."""
        u = self.rng.random(length, dtype=np.float32)
        self.uniforms.extend(float(u[p]) for p in positions)
        return u

    def uniforms_for(self, length, record_positions):
        u = self.rng.random(length, dtype=np.float32)
        for position in record_positions:
            self.uniforms.append(float(u[position]))
        return u

    def categorical(self, probabilities, record):
        """Inverse-CDF draw over a float64 probability vector (official: one draw per row)."""
        p = np.asarray(probabilities, dtype=np.float64)
        cdf = np.cumsum(p / p.sum())
        u = self.rng.random()
        index = int(np.searchsorted(cdf, u, side="right"))
        index = min(index, len(p) - 1)
        while p[index] <= 0:
            index -= 1
        if record:
            self.categoricals.append(index)
            self.checks.append([float(p[index] / p.sum()), int((p > 0).sum())])
        return index


def softmax64(z):
    z = np.asarray(z, dtype=np.float64)
    finite = z > FINFO_MIN / 2
    e = np.where(finite, np.exp(z - z.max()), 0.0)
    return e / e.sum()


def top_p_filter(z, p):
    """Official top_p_logits on one row: sort descending, cumulative softmax, remove where the
    cumulative sum *before* a token exceeds p; removed logits = finfo(float32).min."""
    order = np.argsort(-z.astype(np.float64), kind="stable")
    cumulative = np.cumsum(softmax64(z[order]))
    remove = cumulative > p
    near = np.abs(cumulative[:-1] - p) < 1e-5
    if near.any():
        raise Fragile("top-p boundary")
    remove[1:] = remove[:-1].copy()
    remove[0] = False
    out = z.copy()
    out[order[remove]] = FINFO_MIN
    return out


def top_k_filter(z, k):
    k = min(k, len(z))
    kth = np.sort(z)[::-1][k - 1]
    return np.where(z < kth, FINFO_MIN, z).astype(np.float32)


def shifted_rows(positions, shift, length):
    """Rows of logits that feed `positions` under the DiffuLLaMA shift (x0 = [x[0], drawn[:-1]])."""
    rows = set()
    for p in positions:
        if not shift:
            rows.add(p)
        elif p >= 1:
            rows.add(p - 1)
    return sorted(rows)


# ---------------------------------------------------------------- DiffuLLaMA model.py (random-keep)

def random_keep(x, src_mask, steps, temperature, top_p, shift, mask_id, vocab, rec, causal=False):
    x = np.array(x, dtype=np.int64)
    length = len(x)
    maskable = ~np.array(src_mask, dtype=bool)
    xt = np.where(maskable, mask_id, x)
    revealed_per_step = []

    def step(xt, maskable):
        logits = LOGITS(xt, vocab, causal, mask_id)
        z = logits / np.float32(temperature)
        needed = shifted_rows(np.nonzero(maskable)[0], shift, length)
        rec.rows.append(needed)
        drawn = np.zeros(length, dtype=np.int64)
        for row in range(length):
            filtered = top_p_filter(z[row], top_p) if top_p is not None and top_p < 1 else z[row]
            drawn[row] = rec.categorical(softmax64(filtered), record=row in needed)
        if shift:
            drawn = np.concatenate([x[:1], drawn[:-1]])
        return np.where(maskable, drawn, xt)

    x0 = step(xt, maskable)
    for t in range(steps - 1, 0, -1):
        u = rec.uniforms_for(length, np.nonzero(maskable)[0])
        reveal = maskable & (u < np.float32(1 / (t + 1)))
        revealed_per_step.append(np.nonzero(reveal)[0].tolist())
        xt = np.where(reveal, x0, xt)
        maskable = maskable & ~reveal
        if not maskable.any():
            # Nothing left to reveal: the official remaining iterations return x0 == xt unchanged.
            break
        x0 = step(xt, maskable)
    if maskable.any():
        revealed_per_step.append(np.nonzero(maskable)[0].tolist())
    return x0, revealed_per_step


# ---------------------------------------------------------- DiffuLLaMA trainer.py (top-k confidence)

def confidence(x, src_mask, steps, temperature, greedy, shift, mask_id, vocab, rec, causal=False):
    x = np.array(x, dtype=np.int64)
    length = len(x)
    init_maskable = ~np.array(src_mask, dtype=bool)
    maskable = init_maskable.copy()
    n_maskable = int(init_maskable.sum())
    xt = np.where(maskable, mask_id, x)
    revealed_per_step = []

    def step(xt, maskable):
        logits = LOGITS(xt, vocab, causal, mask_id)
        z = logits / np.float32(temperature) if temperature > 0 else logits
        needed = set(shifted_rows(np.nonzero(init_maskable)[0], shift, length))
        if shift and init_maskable[0]:
            needed.add(0)  # position 0 keeps row 0's score
        rec.rows.append(sorted(needed))
        tokens = np.zeros(length, dtype=np.int64)
        scores = np.zeros(length, dtype=np.float64)
        for row in range(length):
            p = softmax64(z[row])
            if greedy or temperature == 0:
                tokens[row] = int(np.argmax(z[row]))
            else:
                tokens[row] = rec.categorical(p, record=row in needed)
            scores[row] = np.log(p[tokens[row]])
        if shift:
            tokens = np.concatenate([x[:1], tokens[:-1]])
            scores = np.concatenate([scores[:1], scores[:-1]])
        return np.where(maskable, tokens, xt), scores.astype(np.float32)

    x0, x0_scores = step(xt, maskable)
    for t in range(steps - 1, 0, -1):
        rate = t / steps
        cutoff_len = int(np.float32(n_maskable) * np.float32(rate))
        ranking = np.where(init_maskable, x0_scores, np.float32(1000.0)).astype(np.float32)
        cutoff = np.sort(ranking)[cutoff_len]
        gaps = np.abs(ranking.astype(np.float64) - float(cutoff))
        if ((gaps > 0) & (gaps < 1e-4)).any():
            raise Fragile("confidence cut")
        lowest = ranking < cutoff
        reveal = maskable & ~lowest
        revealed_per_step.append(np.nonzero(reveal)[0].tolist())
        xt = np.where(reveal, x0, xt)
        maskable = maskable & lowest
        if not maskable.any():
            # Nothing left to reveal: the official remaining iterations change nothing.
            break
        x0, x0_scores = step(xt, maskable)
    if maskable.any():
        revealed_per_step.append(np.nonzero(maskable)[0].tolist())
    return x0, revealed_per_step


# --------------------------------------------------------------------------------- Dream _sample

def torch_linspace_float32(start, end, count):
    """torch.linspace(start, end, count) in float32: start + step*i for the first half and
    end - step*(count-1-i) for the second, each a fused multiply-add (one rounding)."""
    f = np.float32
    if count == 1:
        return np.array([f(start)], dtype=np.float32)
    step = f((f(end) - f(start)) / f(count - 1))
    half = count // 2
    out = []
    for i in range(count):
        if i < half:
            out.append(f(np.float64(step) * i + np.float64(f(start))))
        else:
            out.append(f(np.float64(f(end)) - np.float64(step) * (count - 1 - i)))
    return np.array(out, dtype=np.float32)


def sample_tokens(rows_logits, temperature, top_p, top_k, alg, rec):
    """Dream sample_tokens over rows (one per masked position, ascending)."""
    confidences, tokens = [], []
    for z in rows_logits:
        z = z / np.float32(temperature) if temperature > 0 else z.copy()
        if top_p is not None and top_p < 1:
            z = top_p_filter(z, top_p)
        if top_k is not None:
            z = top_k_filter(z, top_k)
        p = softmax64(z)
        if temperature > 0:
            token = rec.categorical(p, record=True)
        else:
            token = int(np.argmax(p))
        if alg == "topk_margin":
            ordered = np.sort(p)[::-1]
            conf = ordered[0] - ordered[1]
        elif alg == "entropy":
            conf = float(np.sum(p * np.log(p + 1e-10)))
        else:
            conf = p[token]
        confidences.append(np.float32(conf))
        tokens.append(token)
    return np.array(confidences, dtype=np.float32), np.array(tokens, dtype=np.int64)


def check_ranking_margin(values, count):
    """The top-`count` choice must not hinge on values closer than 1e-4."""
    if count <= 0 or count >= len(values):
        return
    ordered = np.sort(values.astype(np.float64))[::-1]
    if ordered[count - 1] - ordered[count] < 1e-4:
        raise Fragile("ranking cut")


def dream_shift(logits, shift):
    return np.concatenate([logits[:1], logits[:-1]]) if shift else logits


def choose(confidence_values, count, alg_temp, rec):
    """Dream: torch.topk(full_confidence, n), or multinomial without replacement from
    softmax(full_confidence / alg_temp). Returns indices into the masked list."""
    if alg_temp is None or alg_temp == 0:
        check_ranking_margin(confidence_values, count)
        return list(np.argsort(-confidence_values.astype(np.float64), kind="stable")[:count])
    scaled = confidence_values / np.float32(alg_temp)
    weights = np.exp(scaled.astype(np.float64) - scaled.max())
    chosen = []
    for _ in range(count):
        index = rec.categorical(weights, record=True)
        chosen.append(index)
        weights[index] = 0.0
    return chosen


def dream(x, src_mask, steps, eps, alg, alg_temp, temperature, top_p, top_k, shift, mask_id, vocab, rec,
          causal=False):
    x = np.array(x, dtype=np.int64)
    x = np.where(np.array(src_mask, dtype=bool), x, mask_id)
    length = len(x)
    timesteps = torch_linspace_float32(1.0, eps, steps + 1)
    revealed_per_step = []
    rows_of = (lambda p: max(p - 1, 0)) if shift else (lambda p: p)
    for i in range(steps):
        mask_index = x == mask_id
        masked_positions = np.nonzero(mask_index)[0]
        if len(masked_positions) == 0:
            # The official loop still runs its forward pass here, but with nothing masked the step
            # draws nothing and changes nothing; Diffu ends the run instead. Not recorded as a step.
            continue
        logits = dream_shift(LOGITS(x, vocab, causal, mask_id), shift)
        t, s = timesteps[i], timesteps[i + 1]
        before = x.copy()
        if alg == "origin":
            p_transfer = np.float32(1) - s / t if i < steps - 1 else np.float32(1)
            u = rec.rng.random(len(masked_positions), dtype=np.float32)
            rec.uniforms.extend(float(v) for v in u)
            transfer = u < p_transfer
            chosen_positions = masked_positions[transfer]
            rec.rows.append(sorted({rows_of(p) for p in chosen_positions}))
            _, tokens = sample_tokens(logits[chosen_positions], temperature, top_p, top_k, alg, rec)
            x[chosen_positions] = tokens
        else:
            rec.rows.append(sorted({rows_of(p) for p in masked_positions}))
            conf, tokens = sample_tokens(logits[masked_positions], temperature, top_p, top_k, alg, rec)
            num_mask = np.float32(mask_index.sum())
            count = int(num_mask * (np.float32(1) - s / t)) if i < steps - 1 else int(num_mask)
            if count > 0:
                chosen = choose(conf, count, alg_temp, rec)
                x[masked_positions[chosen]] = tokens[chosen]
        revealed_per_step.append(np.nonzero(before != x)[0].tolist())
    return x, revealed_per_step


# ---------------------------------------------- block schedule (LLaDA generate / llama.cpp) + threshold

def num_transfer_tokens(mask_count, steps):
    base, remainder = divmod(mask_count, steps)
    return [base + (1 if j < remainder else 0) for j in range(steps)]


def dream_blocks(x, src_mask, steps, block_length, alg, alg_temp, temperature, top_p, top_k, shift, mask_id,
                 vocab, rec, threshold=None, causal=False):
    """Semi-autoregressive schedule: LLaDA's block loop (steps split over blocks, per-step counts from
    get_num_transfer_tokens, candidates restricted to the active block), with Dream's sample_tokens
    confidences; with `threshold`, Fast-dLLM's rule (confidence > tau, at least the argmax) and the block
    runs until it has no mask."""
    x = np.array(x, dtype=np.int64)
    x = np.where(np.array(src_mask, dtype=bool), x, mask_id)
    generated = np.nonzero(~np.array(src_mask, dtype=bool))[0]
    first, end = int(generated[0]), int(generated[-1]) + 1
    starts = list(range(first, end, block_length))
    n_blocks = len(starts)
    base, remainder = divmod(steps, n_blocks)
    revealed_per_step = []
    rows_of = (lambda p: max(p - 1, 0)) if shift else (lambda p: p)
    for b, start in enumerate(starts):
        stop = min(start + block_length, end)
        block_steps = max(1, base + (1 if b < remainder else 0))
        in_block = np.zeros(len(x), dtype=bool)
        in_block[start:stop] = True
        block_masks = int(((x == mask_id) & in_block).sum())
        if block_masks == 0:
            continue
        schedule = num_transfer_tokens(block_masks, block_steps)
        j = 0
        while True:
            mask_index = (x == mask_id) & in_block
            if not mask_index.any() or (threshold is None and j >= block_steps):
                break
            positions = np.nonzero(mask_index)[0]
            logits = dream_shift(LOGITS(x, vocab, causal, mask_id), shift)
            last = threshold is None and j == block_steps - 1
            before = x.copy()
            if alg == "origin":
                p_transfer = np.float32(1) if last else np.float32(schedule[j]) / np.float32(len(positions))
                u = rec.rng.random(len(positions), dtype=np.float32)
                rec.uniforms.extend(float(v) for v in u)
                chosen_positions = positions[u < p_transfer]
                rec.rows.append(sorted({rows_of(p) for p in chosen_positions}))
                _, tokens = sample_tokens(logits[chosen_positions], temperature, top_p, top_k, alg, rec)
                x[chosen_positions] = tokens
            else:
                rec.rows.append(sorted({rows_of(p) for p in positions}))
                conf, tokens = sample_tokens(logits[positions], temperature, top_p, top_k, alg, rec)
                if threshold is not None:
                    if (np.abs(conf.astype(np.float64) - threshold) < 1e-4).any():
                        raise Fragile("threshold")
                    transfer = conf > np.float32(threshold)
                    if not transfer.any():
                        check_ranking_margin(conf, 1)
                        transfer[int(np.argmax(conf))] = True
                    chosen = list(np.nonzero(transfer)[0])
                else:
                    count = len(positions) if last else min(schedule[j], len(positions))
                    chosen = choose(conf, count, alg_temp, rec) if count > 0 else []
                x[positions[chosen]] = tokens[chosen]
            revealed_per_step.append(np.nonzero(before != x)[0].tolist())
            j += 1
    return x, revealed_per_step


# ------------------------------------------------------------------------------- LLaDA generate.py

def llada_generate(x, src_mask, steps, block_length, temperature, cfg_scale, remasking, shift, mask_id, vocab, rec,
                   causal=False, argmax_margin=0.0):
    """LLaDA `generate.py::generate` in its own style: the canvas x (prompt fixed, the rest MASK), blocks of
    `block_length` over the generated span, steps split over blocks, `get_num_transfer_tokens` per block,
    whole-canvas logits each step (twice with cfg_scale > 0: the second with every prompt position
    masked, logits = un + (cfg + 1)·(cond − un)), `add_gumbel_noise` in float64 (exp(logits) /
    (−log u)^temperature, u from rand_like over the whole [L, V] tensor), x0 = argmax, confidence =
    softmax(logits)[x0] (`low_confidence`) or rand(L) (`random`), −inf beyond the block and at unmasked
    positions, topk of the schedule's count. Draws are made for the whole tensors as the official code
    does; only those of the block's masked positions can matter and are recorded. Generalised as Diffu
    documents: the generated span may be followed by a fixed suffix, a ragged last block and an uneven
    step split (earlier blocks take the remainder) are allowed (the official code asserts they do not
    occur). `argmax_margin` > 0 rejects runs whose token choices hinge on a closer top-2 gap (for model
    logits, which two correct implementations compute only to float32 rounding)."""
    x = np.array(x, dtype=np.int64)
    prompt_index = np.array(src_mask, dtype=bool)
    x = np.where(prompt_index, x, mask_id)
    length = len(x)
    generated = np.nonzero(~prompt_index)[0]
    first, end = int(generated[0]), int(generated[-1]) + 1
    starts = list(range(first, end, block_length))
    base, remainder = divmod(steps, len(starts))
    revealed_per_step = []
    rows_of = (lambda p: max(p - 1, 0)) if shift else (lambda p: p)

    def model_logits(tokens):
        logits = LOGITS(tokens, vocab, causal, mask_id)
        return np.concatenate([logits[:1], logits[:-1]]) if shift else logits

    for b, start in enumerate(starts):
        stop = min(start + block_length, end)
        block_steps = max(1, base + (1 if b < remainder else 0))
        in_block = np.zeros(length, dtype=bool)
        in_block[start:stop] = True
        block_masks = int(((x == mask_id) & in_block).sum())
        if block_masks == 0:
            continue
        schedule = num_transfer_tokens(block_masks, block_steps)
        for i in range(block_steps):
            mask_index = x == mask_id
            candidates = np.nonzero(mask_index & in_block)[0]
            if len(candidates) == 0:
                break  # the official remaining steps have k = 0 and change nothing
            rows = sorted({rows_of(p) for p in candidates})
            logits = model_logits(x)
            rec.rows.append(rows)
            if cfg_scale > 0:
                un_x = x.copy()
                un_x[prompt_index] = mask_id
                un_logits = model_logits(un_x)
                rec.rows.append(rows)
                logits = (un_logits + np.float32(cfg_scale + 1) * (logits - un_logits)).astype(np.float32)
            if temperature == 0:
                noisy = logits.astype(np.float64)
            else:
                noise = rec.gumbel_uniforms(length, vocab, candidates)  # float64, as rand_like(float64 logits)
                noisy = np.exp(logits.astype(np.float64)) / (-np.log(noise)) ** temperature
            x0 = np.argmax(noisy, axis=-1)
            for p in candidates:  # the drawn token must not hinge on a near-tie of the (noisy) scores
                ordered = np.sort(noisy[p])[::-1]
                if temperature > 0 and ordered[0] - ordered[1] < max(1e-9, argmax_margin) * ordered[0]:
                    raise Fragile("Gumbel argmax tie")
                if temperature == 0 and argmax_margin > 0 and ordered[0] - ordered[1] < argmax_margin:
                    raise Fragile("argmax tie")
            if remasking == "low_confidence":
                p_all = np.exp(logits.astype(np.float64) - logits.max(axis=-1, keepdims=True))
                p_all = p_all / p_all.sum(axis=-1, keepdims=True)
                x0_p = p_all[np.arange(length), x0]
            else:
                x0_p = rec.remask_uniforms(length, candidates).astype(np.float64)
            x0_p = np.where(np.arange(length) >= stop, -np.inf, x0_p)
            x0 = np.where(mask_index, x0, x)
            confidence = np.where(mask_index, x0_p, -np.inf)
            count = min(schedule[i], len(candidates))
            check_ranking_margin(confidence[candidates].astype(np.float32) if remasking == "random"
                                 else confidence[candidates], count)
            order = np.argsort(-confidence, kind="stable")[:count]
            before = x.copy()
            x[order] = x0[order]
            revealed_per_step.append(np.nonzero(before != x)[0].tolist())
    return x, revealed_per_step


# ------------------------------------------------------------------------------------------ cases

VOCAB = 48
MASK = 47


def canvas(kind, rng, length=None, prompt=0, middle=0, suffix=0):
    if kind == "unconditional":
        return [0] * length, [False] * length
    tokens = [int(v) for v in rng.integers(0, MASK, prompt)] + [0] * middle + \
             [int(v) for v in rng.integers(0, MASK, suffix)]
    fixed = [True] * prompt + [False] * middle + [True] * suffix
    return tokens, fixed


def build_case(name, spec, seed):
    layout_rng = np.random.default_rng(1000 + seed)
    tokens, fixed = canvas(spec["canvas"], layout_rng, **spec.get("canvas_args", {}))
    rec = Recorder(seed)
    params = dict(spec["params"])
    alg = params["algorithm"]
    shift = params.get("shiftLogits", True)
    causal = params.get("causal", False)
    if alg in ("low-confidence", "random-remask"):
        final, revealed = llada_generate(tokens, fixed, params["steps"], params.get("blockLength") or len(tokens),
                                         params["temperature"], params.get("guidanceScale", 0.0),
                                         "low_confidence" if alg == "low-confidence" else "random", shift, MASK, VOCAB,
                                         rec, causal)
    elif alg == "random-keep":
        final, revealed = random_keep(tokens, fixed, params["steps"], params["temperature"], params.get("topP"),
                                      shift, MASK, VOCAB, rec, causal)
    elif alg == "confidence":
        final, revealed = confidence(tokens, fixed, params["steps"], params["temperature"],
                                     params.get("greedy", False), shift, MASK, VOCAB, rec, causal)
    else:
        dream_alg = alg.replace("-", "_")
        if params.get("blockLength") is not None or params.get("confidenceThreshold") is not None:
            block = params.get("blockLength") or len(tokens)
            final, revealed = dream_blocks(tokens, fixed, params["steps"], block, dream_alg,
                                           params.get("algorithmTemperature", 0), params["temperature"],
                                           params.get("topP"), params.get("topK"), shift, MASK, VOCAB, rec,
                                           params.get("confidenceThreshold"), causal)
        else:
            final, revealed = dream(tokens, fixed, params["steps"], params.get("epsilon", 1e-3), dream_alg,
                                    params.get("algorithmTemperature", 0), params["temperature"],
                                    params.get("topP"), params.get("topK"), shift, MASK, VOCAB, rec, causal)
    params["maskToken"] = MASK
    generated_positions = [i for i, f in enumerate(fixed) if not f]
    if any(int(final[i]) == MASK for i in generated_positions):
        raise Fragile("a sampler proposed the mask token")
    return {
        "name": name,
        "vocabularySize": VOCAB,
        "parameters": params,
        "tokens": tokens,
        "fixed": fixed,
        "uniforms": rec.uniforms,
        "categoricals": rec.categoricals,
        "checks": rec.checks,
        "rows": [[int(row) for row in rows] for rows in rec.rows],
        "revealed": revealed,
        "expected": [int(v) for v in final],
    }


SPECS = [
    # random-keep (recorded draws injected)
    ("random-keep prefix shift", {"canvas": "prefix", "canvas_args": {"prompt": 5, "middle": 12},
                                  "params": {"algorithm": "random-keep", "steps": 8, "temperature": 0.95, "topP": 0.9}}),
    ("random-keep unconditional shift odd", {"canvas": "unconditional", "canvas_args": {"length": 13},
                                             "params": {"algorithm": "random-keep", "steps": 6, "temperature": 0.9, "topP": 0.9}}),
    ("random-keep no-shift infill", {"canvas": "infill", "canvas_args": {"prompt": 4, "middle": 7, "suffix": 3},
                                     "params": {"algorithm": "random-keep", "steps": 5, "temperature": 0.95, "topP": 0.9,
                                                "shiftLogits": False}}),
    ("random-keep T greater than masks", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 4},
                                          "params": {"algorithm": "random-keep", "steps": 11, "temperature": 0.95, "topP": 0.5}}),
    ("random-keep no top-p", {"canvas": "prefix", "canvas_args": {"prompt": 2, "middle": 9},
                              "params": {"algorithm": "random-keep", "steps": 4, "temperature": 1.0, "topP": 1.0}}),
    # confidence, greedy (no draws) and sampled
    ("confidence greedy prefix shift", {"canvas": "prefix", "canvas_args": {"prompt": 4, "middle": 15},
                                        "params": {"algorithm": "confidence", "steps": 6, "temperature": 1.0, "greedy": True}}),
    ("confidence greedy temperature 0.98", {"canvas": "prefix", "canvas_args": {"prompt": 6, "middle": 11},
                                            "params": {"algorithm": "confidence", "steps": 5, "temperature": 0.98, "greedy": True}}),
    ("confidence greedy temperature 0.4", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 16},
                                           "params": {"algorithm": "confidence", "steps": 8, "temperature": 0.4, "greedy": True}}),
    ("confidence greedy unconditional odd", {"canvas": "unconditional", "canvas_args": {"length": 15},
                                             "params": {"algorithm": "confidence", "steps": 7, "temperature": 1.0, "greedy": True}}),
    ("confidence greedy no-shift infill", {"canvas": "infill", "canvas_args": {"prompt": 3, "middle": 9, "suffix": 4},
                                           "params": {"algorithm": "confidence", "steps": 4, "temperature": 1.0, "greedy": True,
                                                      "shiftLogits": False}}),
    ("confidence greedy infill shift", {"canvas": "infill", "canvas_args": {"prompt": 4, "middle": 8, "suffix": 5},
                                        "params": {"algorithm": "confidence", "steps": 8, "temperature": 1.0, "greedy": True}}),
    ("confidence greedy T greater than masks", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 5},
                                                "params": {"algorithm": "confidence", "steps": 9, "temperature": 1.0, "greedy": True}}),
    ("confidence sampled", {"canvas": "prefix", "canvas_args": {"prompt": 4, "middle": 10},
                            "params": {"algorithm": "confidence", "steps": 5, "temperature": 0.98}}),
    # Dream family, timestep schedule
    ("dream entropy greedy", {"canvas": "prefix", "canvas_args": {"prompt": 5, "middle": 14},
                              "params": {"algorithm": "entropy", "steps": 7, "temperature": 0.0, "epsilon": 1e-3}}),
    ("dream maskgit-plus sampled top-p", {"canvas": "prefix", "canvas_args": {"prompt": 4, "middle": 12},
                                          "params": {"algorithm": "maskgit-plus", "steps": 6, "temperature": 0.7, "topP": 0.95,
                                                     "epsilon": 1e-3}}),
    ("dream topk-margin top-k", {"canvas": "prefix", "canvas_args": {"prompt": 4, "middle": 11},
                                 "params": {"algorithm": "topk-margin", "steps": 5, "temperature": 0.5, "topK": 6,
                                            "epsilon": 1e-3}}),
    ("dream origin", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 10},
                      "params": {"algorithm": "origin", "steps": 6, "temperature": 0.8, "topP": 0.9, "epsilon": 1e-3}}),
    ("dream maskgit-plus alg_temp", {"canvas": "prefix", "canvas_args": {"prompt": 4, "middle": 13},
                                     "params": {"algorithm": "maskgit-plus", "steps": 5, "temperature": 0.0,
                                                "algorithmTemperature": 0.5, "epsilon": 1e-3}}),
    ("dream entropy no-shift infill T greater than masks", {"canvas": "infill", "canvas_args": {"prompt": 3, "middle": 5, "suffix": 3},
                                                           "params": {"algorithm": "entropy", "steps": 9, "temperature": 0.0,
                                                                      "shiftLogits": False, "epsilon": 1e-3}}),
    # block schedule and threshold decoding
    ("block maskgit-plus greedy", {"canvas": "prefix", "canvas_args": {"prompt": 4, "middle": 16},
                                   "params": {"algorithm": "maskgit-plus", "steps": 8, "temperature": 0.0, "blockLength": 4}}),
    ("block entropy sampled ragged", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 11},
                                      "params": {"algorithm": "entropy", "steps": 7, "temperature": 0.8, "topP": 0.95,
                                                 "blockLength": 4}}),
    ("block origin", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 9},
                      "params": {"algorithm": "origin", "steps": 6, "temperature": 0.9, "blockLength": 3}}),
    ("threshold maskgit-plus greedy", {"canvas": "prefix", "canvas_args": {"prompt": 4, "middle": 16},
                                       "params": {"algorithm": "maskgit-plus", "steps": 16, "temperature": 0.0,
                                                  "confidenceThreshold": 0.13}}),
    ("threshold block maskgit-plus", {"canvas": "prefix", "canvas_args": {"prompt": 4, "middle": 12},
                                      "params": {"algorithm": "maskgit-plus", "steps": 12, "temperature": 0.0,
                                                 "blockLength": 6, "confidenceThreshold": 0.12}}),
    ("autoregressive causal greedy", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 6},
                                      "params": {"algorithm": "maskgit-plus", "steps": 1, "temperature": 0.0,
                                                 "blockLength": 1, "causal": True}}),
    ("autoregressive causal sampled", {"canvas": "prefix", "canvas_args": {"prompt": 2, "middle": 5},
                                       "params": {"algorithm": "maskgit-plus", "steps": 1, "temperature": 0.8, "topP": 0.9,
                                                  "blockLength": 1, "causal": True}}),
]


LLADA_SPECS = [
    # generate.py's own setting: prompt + gen_length masks, gen_length a multiple of block_length, steps a
    # multiple of the block count; greedy (temperature 0) and Gumbel-max, both remasking strategies, cfg.
    ("llada low-confidence greedy blocks", {"canvas": "prefix", "canvas_args": {"prompt": 4, "middle": 16},
                                            "params": {"algorithm": "low-confidence", "steps": 8, "temperature": 0.0,
                                                       "blockLength": 4, "shiftLogits": False}}),
    ("llada low-confidence greedy one block", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 10},
                                               "params": {"algorithm": "low-confidence", "steps": 4, "temperature": 0.0,
                                                          "shiftLogits": False}}),
    ("llada low-confidence gumbel", {"canvas": "prefix", "canvas_args": {"prompt": 4, "middle": 8},
                                     "params": {"algorithm": "low-confidence", "steps": 4, "temperature": 0.8,
                                                "blockLength": 4, "shiftLogits": False}}),
    ("llada random-remask greedy", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 12},
                                    "params": {"algorithm": "random-remask", "steps": 6, "temperature": 0.0,
                                               "blockLength": 6, "shiftLogits": False}}),
    ("llada random-remask gumbel", {"canvas": "prefix", "canvas_args": {"prompt": 2, "middle": 6},
                                    "params": {"algorithm": "random-remask", "steps": 6, "temperature": 1.0,
                                               "blockLength": 3, "shiftLogits": False}}),
    ("llada cfg greedy", {"canvas": "prefix", "canvas_args": {"prompt": 5, "middle": 8},
                          "params": {"algorithm": "low-confidence", "steps": 4, "temperature": 0.0, "blockLength": 4,
                                     "guidanceScale": 1.5, "shiftLogits": False}}),
    ("llada cfg gumbel", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 4},
                          "params": {"algorithm": "low-confidence", "steps": 2, "temperature": 0.5, "blockLength": 4,
                                     "guidanceScale": 0.5, "shiftLogits": False}}),
    # Diffu's generalisations: T greater than the masks, a ragged last block with an uneven step split,
    # an infill (fixed suffix, masked too in the cfg pass), and the shift rule honoured.
    ("llada T greater than masks", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 4},
                                    "params": {"algorithm": "low-confidence", "steps": 8, "temperature": 0.0,
                                               "blockLength": 2, "shiftLogits": False}}),
    ("llada ragged blocks uneven steps", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 11},
                                          "params": {"algorithm": "low-confidence", "steps": 7, "temperature": 0.0,
                                                     "blockLength": 4, "shiftLogits": False}}),
    ("llada cfg infill", {"canvas": "infill", "canvas_args": {"prompt": 3, "middle": 6, "suffix": 3},
                          "params": {"algorithm": "random-remask", "steps": 6, "temperature": 0.0, "blockLength": 3,
                                     "guidanceScale": 1.0, "shiftLogits": False}}),
    ("llada low-confidence shift", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 8},
                                    "params": {"algorithm": "low-confidence", "steps": 4, "temperature": 0.0,
                                               "blockLength": 4, "shiftLogits": True}}),
]


def build_cases(specs, first_seed):
    cases = []
    for number, (name, spec) in enumerate(specs):
        for attempt in range(50):
            seed = first_seed + 100 * number + attempt
            try:
                cases.append(build_case(name, spec, seed))
                break
            except Fragile as reason:
                print(f"{name}: seed {seed} fragile ({reason}), retrying", file=sys.stderr)
        else:
            raise SystemExit(f"{name}: no robust seed")
    return cases


def xoshiro256starstar(seed, count):
    """Reference xoshiro256** (Blackman & Vigna) seeded with SplitMix64, as SeededRandomSource documents."""
    mask = (1 << 64) - 1
    state = []
    z = seed
    for _ in range(4):
        z = (z + 0x9E3779B97F4A7C15) & mask
        v = z
        v = ((v ^ (v >> 30)) * 0xBF58476D1CE4E5B9) & mask
        v = ((v ^ (v >> 27)) * 0x94D049BB133111EB) & mask
        state.append(v ^ (v >> 31))
    rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & mask
    out = []
    for _ in range(count):
        s0, s1, s2, s3 = state
        out.append(rotl((s1 * 5) & mask, 7) * 9 & mask)
        t = (s1 << 17) & mask
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        state = [s0, s1, s2, s3]
    return out


def timestep_table():
    table = []
    for steps, eps in [(1, 1e-3), (7, 1e-3), (10, 1e-3), (64, 1e-3), (100, 0.01), (512, 1e-3)]:
        values = torch_linspace_float32(1.0, eps, steps + 1)
        try:  # optional cross-check against torch itself
            import torch
            assert np.array_equal(torch.linspace(1, eps, steps + 1).numpy(), values), (steps, eps)
        except ImportError:
            pass
        table.append({"steps": steps, "epsilon": eps, "values": [float(v) for v in values]})
    return table


MODEL_VOCAB = 64
MODEL_MASK = 63
MODEL_SPECS = [
    ("gpt2 confidence greedy prefix", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 8},
                                       "params": {"algorithm": "confidence", "steps": 4, "temperature": 1.0, "greedy": True}}),
    ("gpt2 random-keep prefix", {"canvas": "prefix", "canvas_args": {"prompt": 3, "middle": 7},
                                 "params": {"algorithm": "random-keep", "steps": 4, "temperature": 0.95, "topP": 0.9}}),
    ("gpt2 entropy greedy infill", {"canvas": "infill", "canvas_args": {"prompt": 2, "middle": 6, "suffix": 2},
                                    "params": {"algorithm": "entropy", "steps": 4, "temperature": 0.0}}),
]


def build_model_cases():
    """The same samplers over a tiny transformers GPT-2 (needs torch + transformers)."""
    global LOGITS, VOCAB, MASK
    saved = (LOGITS, VOCAB, MASK)
    cases = []
    try:
        VOCAB, MASK = MODEL_VOCAB, MODEL_MASK
        for number, (name, spec) in enumerate(MODEL_SPECS):
            for attempt in range(50):
                LOGITS = TinyGPT2Table(MODEL_VOCAB)
                try:
                    case = build_case(name, spec, 5000 + 100 * number + attempt)
                except Fragile as reason:
                    print(f"{name}: attempt {attempt} fragile ({reason}), retrying", file=sys.stderr)
                    continue
                case["logitsTable"] = [
                    {"tokens": list(tokens), "causal": causal, "logits": [float(v) for v in logits.reshape(-1)]}
                    for (tokens, causal), logits in LOGITS.table.items()
                ]
                cases.append(case)
                break
            else:
                raise SystemExit(f"{name}: no robust seed")
    finally:
        LOGITS, VOCAB, MASK = saved
    return cases


class XoshiroRecorder:
    """Draws from Diffu's default generator (xoshiro256**, SeededRandomSource: uniform = (next >> 11)·2⁻⁵³)
    in Diffu's documented order — only the draws that matter, the block's masked positions ascending —
    so that a run of the facade with the same seed must reproduce the reference."""

    def __init__(self, seed):
        self.seed = seed
        self.consumed = 0
        self.rows = []

    def next_uniforms(self, count):
        values = xoshiro256starstar(self.seed, self.consumed + count)[self.consumed:]
        self.consumed += count
        return np.array([(v >> 11) * 2.0 ** -53 for v in values], dtype=np.float64)

    def gumbel_uniforms(self, length, vocab, rows):
        noise = np.full((length, vocab), 0.5)
        for p in rows:
            noise[p] = self.next_uniforms(vocab)
        return noise

    def remask_uniforms(self, length, positions):
        u = np.zeros(length, dtype=np.float32)
        for p in positions:
            u[p] = np.float32(self.next_uniforms(1)[0])
        return u


LLADA_MODEL = "llada_gqa_bf16"
LLADA_MODEL_SPECS = [
    # (name, prompt length, generated length, steps, block length, temperature, cfg scale, remasking)
    ("tiny LLaDA low-confidence greedy", 4, 8, 4, 4, 0.0, 0.0, "low-confidence"),
    ("tiny LLaDA low-confidence gumbel cfg", 3, 6, 6, 3, 0.7, 1.0, "low-confidence"),
    ("tiny LLaDA random-remask gumbel", 3, 8, 4, 8, 1.0, 0.0, "random-remask"),
]


def build_llada_model_cases():
    """generate.py over the tiny LLaDA-layout checkpoint (Tests/Fixtures/models/llada_gqa_bf16), its logits
    from the numpy forward of modeling_llada.py's mathematics (tools/fixtures/make_llada_fixture.py), draws from
    Diffu's seeded generator: the Swift test converts the checkpoint and runs the facade with the seed."""
    global LOGITS
    from tools.fixtures import make_llada_fixture as llada  # needs torch; only this part of the module does
    directory = os.path.join(FIXTURES, "models", LLADA_MODEL)
    config = json.load(open(os.path.join(directory, "config.json")))
    from safetensors.torch import load_file
    weights = {name: value.float().numpy() for name, value in load_file(os.path.join(directory, "model.safetensors")).items()}
    vocab, mask = config["embedding_size"], config["mask_token_id"]
    saved = LOGITS
    LOGITS = lambda tokens, vocab_, causal, mask_id: llada.forward_sequence(weights, config, list(tokens), causal)
    cases = []
    try:
        for number, (name, prompt_length, length, steps, block, temperature, cfg, remasking) in enumerate(LLADA_MODEL_SPECS):
            for attempt in range(50):
                rng = np.random.default_rng(7000 + 100 * number + attempt)
                prompt = [int(v) for v in rng.integers(0, mask, prompt_length)]
                seed = 7000 + 100 * number + attempt
                rec = XoshiroRecorder(seed)
                try:
                    final, _ = llada_generate(prompt + [0] * length, [True] * prompt_length + [False] * length, steps, block,
                                              temperature, cfg, "low_confidence" if remasking == "low-confidence" else "random",
                                              False, mask, vocab, rec, argmax_margin=1e-3)
                    if any(int(t) == mask for t in final[prompt_length:]):
                        raise Fragile("the mask token proposed")
                except Fragile as reason:
                    print(f"{name}: attempt {attempt} fragile ({reason}), retrying", file=sys.stderr)
                    continue
                cases.append({"name": name, "model": LLADA_MODEL, "prompt": prompt, "length": length, "steps": steps,
                              "blockLength": block, "temperature": temperature, "guidanceScale": cfg, "sampler": remasking,
                              "seed": seed, "expected": [int(t) for t in final[prompt_length:]]})
                break
            else:
                raise SystemExit(f"{name}: no robust seed")
    finally:
        LOGITS = saved
    return cases

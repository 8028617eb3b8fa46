"""Tests of the adaptation recipe in tools/adapt/adapt.py against hand-computed cases.

NOT part of CI: CI does not install torch. Run with `tools/adapt/check.sh` (after tools/adapt/setup.sh),
`python3 -m pytest tools/adapt`, or `python3 -m tools.adapt.test_adapt` (from the repository root).

The expected losses are computed with explicit Python loops over numpy arrays from the definition
(DiffuLLaMA's trainer: sum of (1/t)·CE over masked positions, the shift, divided by the masked count),
never with adapt.py's own functions.
"""
import math
import sys
from pathlib import Path

import numpy as np
import torch

from tools.adapt import adapt

MASK = 3


def tiny_model(seed=0):
    """A randomly initialised 2-layer, hidden-32 LLaMA with a 16-token vocabulary."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=16, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         tie_word_embeddings=True)
    return LlamaForCausalLM(config).eval()


def hand_loss(logits, clean, noisy, t, shift):
    """The weighted masked loss from its definition, with explicit loops."""
    total, count = 0.0, 0
    batch, length, vocabulary = logits.shape
    for b in range(batch):
        for i in range(length):
            if noisy[b, i] != MASK:
                continue
            row = i - 1 if shift else i
            if row < 0:
                continue  # with the shift, position 0 has no predicting row
            m = max(logits[b, row, v] for v in range(vocabulary))
            log_sum = m + math.log(sum(math.exp(logits[b, row, v] - m) for v in range(vocabulary)))
            total += (log_sum - logits[b, row, clean[b, i]]) / t[b]
            count += 1
    return total / count, count


def test_loss_by_hand_numbers():
    """A 1×3 case small enough to write out: vocabulary 2, logits fixed, one masked position."""
    logits = torch.tensor([[[0.0, math.log(3.0)], [2.0, 2.0], [0.0, 0.0]]])
    clean = torch.tensor([[1, 0, 1]])
    noisy = torch.tensor([[1, MASK, 1]])  # mask id 3 lies outside this vocabulary of 2: only a marker here
    t = torch.tensor([0.25])
    # With the shift, position 1 (token 0) is predicted by row 0: p(0) = 1/(1+3) → CE = log 4; weighted 4·log 4.
    loss, count = adapt.diffusion_loss(logits, clean, noisy, t, MASK, shift=True)
    assert count == 1 and abs(float(loss) - 4 * math.log(4.0)) < 1e-6
    # Without it, row 1 predicts token 0: p = 1/2 → 4·log 2.
    loss, count = adapt.diffusion_loss(logits, clean, noisy, t, MASK, shift=False)
    assert count == 1 and abs(float(loss) - 4 * math.log(2.0)) < 1e-6


def test_loss_on_tiny_llama_matches_loops():
    """Fixed t and fixed masks on two 6-token sequences through a real (random) LLaMA."""
    model = tiny_model()
    clean = torch.tensor([[5, 9, 2, 11, 7, 14], [1, 8, 8, 12, 0, 6]])
    noisy = torch.tensor([[MASK, 9, MASK, 11, MASK, 14], [1, MASK, 8, MASK, MASK, 6]])
    t = torch.tensor([0.5, 0.2])
    visibility = torch.ones(6, 6, dtype=torch.bool)
    with torch.no_grad():
        logits = adapt.forward_logits(model, noisy, visibility)
    numbers = logits.double().numpy()
    for shift in (True, False):
        expected, expected_count = hand_loss(numbers, clean.numpy(), noisy.numpy(), t.numpy(), shift)
        loss, count = adapt.diffusion_loss(logits, clean, noisy, t, MASK, shift)
        assert count == expected_count, (shift, count, expected_count)
        assert abs(float(loss) - expected) < 1e-4 * max(1.0, abs(expected)), (shift, float(loss), expected)
    # The shift drops position 0 (masked in sequence 0): 5 loss positions with it, 6 without.
    assert adapt.diffusion_loss(logits, clean, noisy, t, MASK, True)[1] == 5
    assert adapt.diffusion_loss(logits, clean, noisy, t, MASK, False)[1] == 6


def test_attention_patterns_reach_the_model():
    """Causal visibility = the model's own causal attention; full visibility lets position 0 see position 5."""
    model = tiny_model(1)
    tokens = torch.tensor([[5, 9, 2, 11, 7, 14]])
    changed = tokens.clone()
    changed[0, 5] = 1
    causal = adapt.annealed_visibility(6, 0.0, torch.Generator().manual_seed(0))
    full = adapt.annealed_visibility(6, 1.0, torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = model(input_ids=tokens).logits
        under_causal = adapt.forward_logits(model, tokens, causal)
        causal_changed = adapt.forward_logits(model, changed, causal)
        under_full = adapt.forward_logits(model, tokens, full)
        full_changed = adapt.forward_logits(model, changed, full)
    assert torch.allclose(plain, under_causal, atol=1e-5)
    assert torch.allclose(under_causal[0, :5], causal_changed[0, :5], atol=1e-6)
    assert not torch.allclose(under_full[0, 0], full_changed[0, 0], atol=1e-4)


def test_annealing_pattern_statistics():
    length = 64
    positions = torch.arange(length)
    causal = positions[None, :] <= positions[:, None]
    off = ~causal
    generator = torch.Generator().manual_seed(7)
    assert torch.equal(adapt.annealed_visibility(length, 0.0, generator), causal)
    assert bool(adapt.annealed_visibility(length, 1.0, generator).all())
    fractions = []
    for _ in range(20):
        pattern = adapt.annealed_visibility(length, 0.5, generator)
        assert bool(pattern[causal].all())  # the causal part is always visible
        fractions.append(float(pattern[off].float().mean()))
    # 2016 off-causal entries per draw: one draw's share has sd ≈ 0.011; the mean of 20 ≈ 0.0025.
    assert all(abs(f - 0.5) < 0.06 for f in fractions), fractions
    assert abs(sum(fractions) / len(fractions) - 0.5) < 0.01
    assert len(set(fractions)) > 1  # a fresh pattern per batch
    # The schedule: min(1, (step + 1) / anneal_steps) from the 0-based step.
    assert adapt.annealing_ratio(0, 20) == 0.05
    assert adapt.annealing_ratio(9, 20) == 0.5
    assert adapt.annealing_ratio(19, 20) == 1.0 and adapt.annealing_ratio(500, 20) == 1.0
    # The batch shares one pattern: the additive mask repeats it.
    pattern = adapt.annealed_visibility(8, 0.5, generator)
    additive = adapt.additive_mask(pattern, 3, torch.float32)
    assert additive.shape == (3, 1, 8, 8)
    for b in range(3):
        assert torch.equal(additive[b, 0] == 0, pattern)


def test_forward_process_and_times():
    generator = torch.Generator().manual_seed(3)
    t = adapt.sample_times(100_000, generator)
    assert float(t.min()) >= 1e-3 and float(t.max()) <= 1.0
    assert abs(float(t.mean()) - (1 + 1e-3) / 2) < 0.005
    tokens = torch.full((4, 20_000), 7)
    rates = torch.tensor([0.0, 0.1, 0.5, 1.0])
    noisy = adapt.mask_tokens(tokens, rates, MASK, generator)
    shares = (noisy == MASK).float().mean(dim=1)
    assert float(shares[0]) == 0.0 and float(shares[3]) == 1.0
    assert abs(float(shares[1]) - 0.1) < 0.01 and abs(float(shares[2]) - 0.5) < 0.015
    assert bool(((noisy == MASK) | (noisy == 7)).all())


def test_learning_rate_schedule():
    assert adapt.learning_rate(0, 1.0, 10, 110) == 0.1
    assert adapt.learning_rate(9, 1.0, 10, 110) == 1.0
    assert abs(adapt.learning_rate(10, 1.0, 10, 110) - 1.0) < 1e-12
    assert abs(adapt.learning_rate(60, 1.0, 10, 110) - 0.5) < 1e-12
    assert abs(adapt.learning_rate(110, 1.0, 10, 110)) < 1e-12


class CharacterTokenizer:
    eos_token_id = 0

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}


def test_packing_and_held_out_split():
    windows = adapt.pack_windows(["abcde", "fgh", "ijklmnop"], CharacterTokenizer(), 4, None)
    stream = [ord(c) for c in "abcde"] + [0] + [ord(c) for c in "fgh"] + [0] + [ord(c) for c in "ijklmnop"] + [0]
    assert len(stream) == 19  # 4 whole windows; the 3 left over are dropped
    assert windows.tolist() == [stream[0:4], stream[4:8], stream[8:12], stream[12:16]]
    train, held = adapt.split_windows(windows, 0.25)
    assert held.tolist() == [stream[12:16]] and train.tolist() == windows[:3].tolist()


def test_one_training_step_lowers_the_loss_on_a_fixed_batch():
    """The loss is differentiable end to end: a few AdamW steps on one fixed noisy batch reduce it."""
    model = tiny_model(2).train()
    clean = torch.tensor([[5, 9, 2, 11, 7, 14], [1, 8, 8, 12, 0, 6]])
    noisy = torch.tensor([[MASK, 9, MASK, 11, MASK, 14], [1, MASK, 8, MASK, MASK, 6]])
    t = torch.tensor([0.5, 0.5])
    visibility = torch.ones(6, 6, dtype=torch.bool)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss, _ = adapt.diffusion_loss(adapt.forward_logits(model, noisy, visibility), clean, noisy, t, MASK, True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] * 0.8, losses


def test_checkpoint_round_trip_resumes_the_same_stream(tmp_path=None):
    """A checkpoint restores weights, optimiser moments, step, tokens and the data generator's next draws."""
    import argparse
    import tempfile
    folder = Path(tmp_path) if tmp_path else Path(tempfile.mkdtemp())
    model = tiny_model(4).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    clean = torch.tensor([[5, 9, 2, 11, 7, 14]])
    noisy = torch.tensor([[MASK, 9, MASK, 11, MASK, 14]])
    loss, _ = adapt.diffusion_loss(adapt.forward_logits(model, noisy, torch.ones(6, 6, dtype=torch.bool)),
                                   clean, noisy, torch.tensor([0.5]), MASK, True)
    loss.backward()
    optimizer.step()
    generator = torch.Generator().manual_seed(11)
    generator.manual_seed(11)
    torch.rand(5, generator=generator)
    adapt.save_checkpoint(folder, model, optimizer, 7, 42, generator, argparse.Namespace(seed=0))
    expected_draws = torch.rand(5, generator=generator)
    restored = tiny_model(5)
    restored_optimizer = torch.optim.AdamW(restored.parameters(), lr=1e-3)
    restored_generator = torch.Generator().manual_seed(0)
    assert adapt.load_checkpoint(folder, restored, restored_optimizer, restored_generator) == (7, 42)
    for (name, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        assert torch.equal(a, b), name
    moments = [state["exp_avg"] for state in optimizer.state.values()]
    restored_moments = [state["exp_avg"] for state in restored_optimizer.state.values()]
    assert len(moments) == len(restored_moments) > 0
    assert all(torch.equal(a, b) for a, b in zip(moments, restored_moments))
    assert torch.equal(torch.rand(5, generator=restored_generator), expected_draws)


if __name__ == "__main__":
    failures = 0
    for name, function in sorted(globals().items()):
        if name.startswith("test_") and callable(function):
            try:
                function()
                print(f"ok   {name}")
            except Exception as error:  # report every test, then fail
                failures += 1
                print(f"FAIL {name}: {error!r}")
    sys.exit(1 if failures else 0)

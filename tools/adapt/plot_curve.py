"""Plot an adaptation run's learning curve (tools/adapt/adapt.py's log.jsonl) as a PNG.

Held-out masked NLL (nats per masked token, full bidirectional attention, fixed masks per t) at each
t = 0.15 / 0.5 / 0.85 against tokens seen, with the training loss (1/t-weighted, per masked token) in a
second panel; optional horizontal lines for reference values (e.g. the AR parent's NLL per token, or the
parent's diffusion bound from `diffu eval`).

Usage: python3 -m tools.adapt.plot_curve RUN/log.jsonl OUT.png [--title T] [--reference LABEL=VALUE …]
Needs matplotlib (pip install matplotlib); opt-in, not CI.
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log")
    parser.add_argument("out")
    parser.add_argument("--title", default="DiffuSmol-135M: adapting SmolLM2-135M (Gong et al. 2024 recipe)")
    parser.add_argument("--reference", action="append", default=[], help="LABEL=VALUE horizontal line (nats)")
    args = parser.parse_args()
    # A resumed run appends again the steps after its checkpoint: the last record of each step counts.
    evaluations_by_step, training_by_step = {}, {}
    with open(args.log) as handle:
        for line in handle:
            record = json.loads(line)
            (evaluations_by_step if "held_out_nll" in record else training_by_step)[record["step"]] = record
    evaluations = [evaluations_by_step[step] for step in sorted(evaluations_by_step)]
    # Steps after the last evaluation belong to a run stopped past its last checkpoint: not in the model.
    last = max(evaluations_by_step, default=0)
    training = [training_by_step[step] for step in sorted(training_by_step) if step <= last]
    if not evaluations:
        raise SystemExit(f"plot_curve: {args.log} has no held-out evaluations")
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    for t in sorted(evaluations[0]["held_out_nll"], key=float):
        top.plot([r["tokens"] for r in evaluations], [r["held_out_nll"][t] for r in evaluations], marker="o",
                 label=f"held-out masked NLL, t = {t}")
    for reference in args.reference:
        label, value = reference.split("=", 1)
        top.axhline(float(value), linestyle="--", color="gray")
        top.annotate(label, (0, float(value)), textcoords="offset points", xytext=(4, 4), fontsize=8, color="gray")
    top.set_ylabel("nats per masked token")
    top.set_title(args.title, fontsize=10)
    top.grid(alpha=0.3)
    top.legend(fontsize=8)
    bottom.plot([r["tokens"] for r in training], [r["train_loss"] for r in training], linewidth=0.8, color="black")
    bottom.set_ylabel("training loss\n(1/t-weighted)")
    bottom.set_xlabel("training tokens seen")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)
    print(f"plot_curve: wrote {args.out} ({len(evaluations)} evaluations, {len(training)} steps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

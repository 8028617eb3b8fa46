"""Encode throughput of DiffuTokenizers (Swift, release build) next to HF `tokenizers` (Rust) on the same
English text, in the same run.

Environment: tools/ci/setup_python.sh (or: python3 -m venv .venv && .venv/bin/pip install tokenizers)
Build:       swift build -c release --product diffu
Usage:       python -m tools.bench.bench_tokenizer [--diffu .build/release/diffu] [--size-mb 2]
             [--gpt2 Tests/Fixtures/tokenizers/gpt2] [--llama Tests/Fixtures/tokenizers/llama2]

The text is English prose made reproducibly from the Python standard library's docstrings and
/usr/share/common-licenses, cut to --size-mb. Both sides are single-threaded: HF `Tokenizer.encode`
on one text (whole file) or on each line, and `diffu tokenizer-bench` (best of --repeats runs).
"""
import argparse
import importlib
import inspect
import os
import subprocess
import sys
import tempfile
import time

from tokenizers import Tokenizer

from tools.diffutools.locations import REPOSITORY

ROOT = str(REPOSITORY)


def english_text(size):
    parts = []
    licenses = "/usr/share/common-licenses"
    if os.path.isdir(licenses):
        for name in sorted(os.listdir(licenses)):
            path = os.path.join(licenses, name)
            if os.path.isfile(path):
                parts.append(open(path, encoding="utf-8", errors="ignore").read())
    for name in sorted(sys.stdlib_module_names):
        if name.startswith("_") or name in ("antigravity", "this", "idlelib", "turtledemo", "tkinter", "turtle"):
            continue
        try:
            module = importlib.import_module(name)
        except Exception:
            continue
        for _, member in [("", module)] + sorted(inspect.getmembers(module), key=lambda m: m[0]):
            doc = inspect.getdoc(member) if (member is module or inspect.isfunction(member) or inspect.isclass(member)) else None
            if doc:
                parts.append(doc)
        if sum(len(p) for p in parts) > size * 2:
            break
    text = "\n\n".join(parts)
    while len(text) < size:  # repeat the corpus when the docstrings run out
        text = text + "\n\n" + text
    return text.encode("utf-8")[:size].decode("utf-8", errors="ignore")


def hf_throughput(tokenizer_json, text, lines, repeats):
    tk = Tokenizer.from_file(tokenizer_json)
    pieces = text.split("\n") if lines else [text]
    def run():
        return sum(len(tk.encode(p, add_special_tokens=False).ids) for p in pieces)
    count = run()  # warm-up (fills HF's word cache, as ours is filled within a call)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        count = run()
        best = min(best, time.perf_counter() - start)
    return len(text.encode("utf-8")) / 1e6 / best, count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--diffu", default=os.path.join(ROOT, ".build", "release", "diffu"))
    parser.add_argument("--size-mb", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gpt2", default=os.path.join(ROOT, "Tests", "Fixtures", "tokenizers", "gpt2"))
    parser.add_argument("--llama", default=os.path.join(ROOT, "Tests", "Fixtures", "tokenizers", "llama2"))
    args = parser.parse_args()
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    text = english_text(int(args.size_mb * 1e6))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write(text)
        path = f.name
    print(f"text: {len(text.encode('utf-8'))} bytes of English ({path})")
    print("| vocabulary | mode | HF tokenizers MB/s | Diffu MB/s | Diffu / HF | tokens (HF / Diffu) |")
    print("|---|---|---|---|---|---|")
    for name, folder in (("GPT-2", args.gpt2), ("LLaMA-2", args.llama)):
        for lines in (False, True):
            hf, hf_count = hf_throughput(os.path.join(folder, "tokenizer.json"), text, lines, args.repeats)
            command = [args.diffu, "tokenizer-bench", folder, "--file", path, "--repeats", str(args.repeats)]
            if lines:
                command.append("--lines")
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            ours = float(out.split(" MB/s")[0].rsplit("= ", 1)[1])
            our_count = int(out.split(" tokens")[0].rsplit("-> ", 1)[1])
            mode = "per line" if lines else "whole file"
            print(f"| {name} | {mode} | {hf:.2f} | {ours:.2f} | {ours / hf:.2f} | {hf_count} / {our_count} |")
    os.unlink(path)


if __name__ == "__main__":
    main()

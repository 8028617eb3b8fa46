#!/usr/bin/env python3
"""Builds the long-text tokenizer fixture: Tests/Fixtures/tokenizers/long/text.txt (about 256 KiB of mixed
prose, code, whitespace runs, digits, CJK, emoji and combining marks, from the short texts the other
fixtures use, shuffled with varied separators) and long/expected.json: for each Hugging Face tokenizer.json
the number of ids HF `tokenizers` (the Rust implementation) gives for the whole text, their SHA-256 (as
little-endian int32) and the first and last 32 ids.

The text is longer than Diffu's encoding window, so the tests check that streaming a long text through
the window gives HF's ids for the whole text.

Environment: tools/setup_python.sh (tokenizers). Usage: python tools/make_long_text_fixture.py [--shared DIR]
"""
import argparse
import hashlib
import json
import os
import random
import struct
import sys

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")
sys.path.insert(0, os.path.join(ROOT, "tools"))
from tokenizer_fixtures import TEXTS  # noqa: E402

TARGET_BYTES = 256 * 1024
SEPARATORS = [" ", "\n", "\n\n", "  ", "\t", "", ". ", "\r\n", " \n", "\n   ", "、", "。"]


def build_text():
    with open(os.path.join(OUT, "vocab", "ggml-vocab-gpt-2.gguf.inp"), encoding="utf-8") as f:
        pieces = [p for p in f.read().split("\n__ggml_vocab_test__\n") if p]
    pieces += TEXTS
    generator = random.Random(20261127)
    parts, size = [], 0
    while size < TARGET_BYTES:
        piece = generator.choice(pieces) + generator.choice(SEPARATORS)
        parts.append(piece)
        size += len(piece.encode("utf-8"))
    return "".join(parts)


def summary(ids):
    digest = hashlib.sha256(b"".join(struct.pack("<i", i) for i in ids)).hexdigest()
    return {"count": len(ids), "sha256": digest, "first": ids[:32], "last": ids[-32:]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default="/work/shared/testdata")
    args = parser.parse_args()
    text = build_text()
    folder = os.path.join(OUT, "long")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "text.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(text)
    expected = {}
    for name in ("gpt2", "llama2", "qwen2"):
        tk = Tokenizer.from_file(os.path.join(args.shared, "tokenizers", name, "tokenizer.json"))
        expected[name] = summary(tk.encode(text, add_special_tokens=False).ids)
    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/make_long_text_fixture.py with tokenizers " + __import__("tokenizers").__version__,
                   "bytes": len(text.encode("utf-8")), "tokenizers": expected}, f, indent=1)
    print("wrote", folder, len(text.encode("utf-8")), "bytes", {k: v["count"] for k, v in expected.items()})


if __name__ == "__main__":
    main()

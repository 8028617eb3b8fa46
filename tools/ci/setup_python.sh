#!/usr/bin/env bash
# Creates the Python environment the tools/ scripts use (reference fixtures, peers, benchmarks).
# Tools only: CI never runs this. Usage: tools/ci/setup_python.sh [VENV_DIR] (default: .venv-tools)
set -euo pipefail
venv="${1:-.venv-tools}"
python3 -m venv "$venv"
# The CPU torch wheel is on this machine's local wheel path (pip's find-links); elsewhere use
# --index-url https://download.pytorch.org/whl/cpu.
"$venv/bin/pip" install -q "torch==2.13.0+cpu" transformers tokenizers sentencepiece safetensors gguf numpy
echo "ready: $venv/bin/python"
echo "peers (optional, slow): CMAKE_ARGS=-DGGML_NATIVE=ON $venv/bin/pip install llama-cpp-python"
echo 'real weights and text: under $DIFFU_DATA, as `python3 -m tools.diffutools.locations --help` shows'

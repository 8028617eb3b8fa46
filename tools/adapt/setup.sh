#!/usr/bin/env bash
# Makes tools/adapt/.venv for the DiffuSmol adaptation tool (tools/adapt/adapt.py).
# It reuses the system's torch/transformers/numpy/gguf when present (--system-site-packages) and installs
# what is missing: torch 2.13 CPU, transformers, numpy, gguf, safetensors, accelerate (transformers needs
# accelerate to load a GGUF file), pytest. Opt-in: not part of CI (.ci/run does not install torch).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${ADAPT_VENV:-$here/.venv}"
python3 -m venv --system-site-packages "$venv"
py="$venv/bin/python"
need=()
"$py" -c "import torch" 2>/dev/null || need+=("torch==2.13.0+cpu")
for module in transformers numpy gguf safetensors accelerate pytest; do
    "$py" -c "import $module" 2>/dev/null || need+=("$module")
done
if ((${#need[@]})); then
    "$py" -m pip install "${need[@]}"
fi
"$py" -c "import torch, transformers, accelerate; print('adapt venv:', '$venv', 'torch', torch.__version__, 'transformers', transformers.__version__)"

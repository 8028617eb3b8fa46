#!/usr/bin/env bash
# An app that depends on a *tagged* Diffu by URL (`.package(url: "file://…", from: "1.0.0")`, offline):
# SwiftPM refuses unsafe flags in such a dependency, so Diffu's manifest must build its portable
# baseline there by itself. Builds the app with no flags, runs a forward pass on a converted fixture,
# and checks that the portable kernels make no per-lane library calls (fmaf, __extendhfsf2).
# Used by .ci/run. Usage: tools/ci/dependency_smoke.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A bare clone of the current commit, tagged 1.0.0 (uncommitted changes are not part of it).
git clone -q --bare "$root" "$work/diffu.git"
git -C "$work/diffu.git" tag 1.0.0 "$(git -C "$root" rev-parse HEAD)"

mkdir -p "$work/app/Sources/App" "$work/checkpoint"
cat > "$work/app/Package.swift" <<MANIFEST
// swift-tools-version: 6.0
import PackageDescription
let package = Package(
    name: "App",
    platforms: [.macOS(.v14)],
    dependencies: [.package(url: "file://$work/diffu.git", from: "1.0.0")],
    targets: [.executableTarget(name: "App", dependencies: [.product(name: "Diffu", package: "diffu")])]
)
MANIFEST
cat > "$work/app/Sources/App/main.swift" <<'SOURCE'
import Diffu
let model = try DiffuModel.open(path: CommandLine.arguments[1])
let logits = try model.logits(tokens: [1, 5, 9, 3, 7], threads: 2)
print("kernels \(model.kernelVariant), \(logits.count) logits, finite: \(logits.allSatisfy(\.isFinite))")
SOURCE

# No DIFFU_PORTABLE, no -Xswiftc flags: what an app developer types.
env -u DIFFU_PORTABLE -u DIFFU_NATIVE swift build --package-path "$work/app" -c release 2>&1 | tail -1
ln -s "$root"/Tests/Fixtures/models/llama_sharded_bf16/* "$work/checkpoint/"
ln -s "$root"/Tests/Fixtures/tokenizers/llama2/* "$work/checkpoint/"
swift run --package-path "$root" diffu convert "$work/checkpoint" -o "$work/tiny.diffu" --quant q4 --mask-id 3 >/dev/null
"$work/app/.build/release/App" "$work/tiny.diffu" | tee "$work/out.txt"
grep -q "^kernels baseline, .* finite: true" "$work/out.txt"

# An app that only runs models links no converter or file-format code: `Diffu` re-exports neither
# (the `DiffuConversion` product holds them).
if nm "$work/app/.build/release/App" | grep -q -e '12DiffuConvert' -e '15DiffuConversion'; then
    echo "dependency_smoke: the Diffu-only app links the converter"
    exit 1
fi

# The portable kernels: no library call per lane (a fused multiply-add or a half conversion without
# FMA/F16C is one).
calls="$(objdump -d --no-show-raw-insn "$work/app/.build/release/App" \
    | awk '/^[0-9a-f]+ <.*>:$/ { kernel = ($2 ~ /DiffuKernels/) } kernel && /call.*<(fmaf|fma|__extendhfsf2)@plt>/' | wc -l)"
if (( calls > 0 )); then
    echo "dependency_smoke: $calls per-lane library calls in the portable kernels"
    exit 1
fi
echo "dependency_smoke: a version-pinned dependent builds without flags and runs the portable kernels"

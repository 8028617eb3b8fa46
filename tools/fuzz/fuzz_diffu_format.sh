#!/usr/bin/env bash
# Builds the .diffu reader fuzz target with libFuzzer + AddressSanitizer and runs it.
# Tools only (never in CI). Needs the Swift toolchain for Linux (it ships libFuzzer) and libzstd-dev.
# Usage: tools/fuzz/fuzz_diffu_format.sh [RUNS (default 1000000)] [extra libFuzzer flags…]
# Seeds: Tests/Fixtures/format/*.diffu. Crashes land in .build-fuzz/diffu-format/crashes/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/.build-fuzz/diffu-format"
mkdir -p "$out/build" "$out/corpus" "$out/crashes"
cp "$root"/Tests/Fixtures/format/*.diffu "$out/corpus/" 2>/dev/null || true
flags=(-O -g -sanitize=fuzzer,address -parse-as-library)
mapfile -t storage_sources < <(find "$root/Sources/DiffuStorage" -name '*.swift' | sort)  # Codecs/ too
swiftc "${flags[@]}" -emit-module -emit-library -static -module-name DiffuStorage \
    -emit-module-path "$out/build/DiffuStorage.swiftmodule" -o "$out/build/libDiffuStorage.a" \
    "${storage_sources[@]}"
swiftc "${flags[@]}" -emit-module -emit-library -static -module-name DiffuFormat \
    -I "$out/build" -I "$root/Sources/CZstd" \
    -emit-module-path "$out/build/DiffuFormat.swiftmodule" -o "$out/build/libDiffuFormat.a" \
    "$root"/Sources/DiffuFormat/*.swift
swiftc "${flags[@]}" -module-name DiffuFormatFuzz -I "$out/build" -I "$root/Sources/CZstd" \
    "$root/tools/fuzz/DiffuFormatFuzz.swift" "$out/build/libDiffuFormat.a" "$out/build/libDiffuStorage.a" \
    -lzstd -o "$out/build/diffu-format-fuzz"
runs="${1:-1000000}"
shift || true
"$out/build/diffu-format-fuzz" -runs="$runs" -max_len=65536 -artifact_prefix="$out/crashes/" "$@" "$out/corpus"

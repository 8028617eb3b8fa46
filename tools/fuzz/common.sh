# Shared helpers for the libFuzzer scripts in tools/fuzz (sourced, not run).
# Builds Diffu's library modules once into static libraries under .build-fuzz/lib with libFuzzer coverage
# and AddressSanitizer, then links one executable per target against them.
# Tools only (never in CI). Needs the Swift toolchain for Linux (it ships libFuzzer) and libzstd-dev.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
lib="$root/.build-fuzz/lib"
# -enable-testing: the harnesses use `@testable import` for internal knobs (the tokenizer's encoding window).
fuzz_flags=(-O -g -sanitize=fuzzer,address -parse-as-library -enable-testing)

# build_module NAME [DEPENDENCY…]: compiles Sources/NAME into lib/libNAME.a unless it is up to date.
build_module() {
    local name="$1"; shift
    mkdir -p "$lib"
    local archive="$lib/lib$name.a"
    if [[ -f "$archive" ]] && [[ -z "$(find "$root/Sources/$name" -name '*.swift' -newer "$archive")" ]]; then
        local stale=0
        for dependency in "$@"; do [[ "$lib/lib$dependency.a" -nt "$archive" ]] && stale=1; done
        [[ $stale == 0 ]] && return 0
    fi
    echo "building $name" >&2
    swiftc "${fuzz_flags[@]}" -emit-module -emit-library -static -module-name "$name" \
        -I "$lib" -I "$root/Sources/CZstd" -Xcc -fmodule-map-file="$lib/CDiffuSystem/module.modulemap" \
        -emit-module-path "$lib/$name.swiftmodule" -o "$archive" \
        "$root/Sources/$name"/*.swift
}

# build_c_system: the CPU-detection C target (CDiffuSystem) as a static library with a module map, as
# SwiftPM would build it (DiffuKernels imports it).
build_c_system() {
    mkdir -p "$lib/CDiffuSystem"
    local archive="$lib/libCDiffuSystem.a"
    if [[ -f "$archive" ]] && [[ -z "$(find "$root/Sources/CDiffuSystem" -newer "$archive")" ]]; then return 0; fi
    echo "building CDiffuSystem" >&2
    printf 'module CDiffuSystem {\n    header "%s"\n    export *\n}\n' "$root/Sources/CDiffuSystem/include/CDiffuSystem.h" \
        >"$lib/CDiffuSystem/module.modulemap"
    local objects=()
    for source in "$root/Sources/CDiffuSystem"/*.c; do
        local object="$lib/CDiffuSystem/$(basename "$source" .c).o"
        clang -O1 -g -fsanitize=fuzzer-no-link,address -I "$root/Sources/CDiffuSystem/include" -c "$source" -o "$object"
        objects+=("$object")
    done
    rm -f "$archive"
    ar rcs "$archive" "${objects[@]}"
}

# build_libraries: every module the fuzz targets import, in dependency order. The AVX-512 kernel targets
# are built without their DIFFU_AVX512 define, i.e. empty, as a portable build compiles them: the fuzz
# targets exercise parsers, not kernels.
build_libraries() {
    build_module DiffuStorage
    build_module DiffuFormat DiffuStorage
    build_module DiffuGGUF
    build_module DiffuTokenizers DiffuGGUF
    build_c_system
    build_module DiffuAVX512Intrinsics
    build_module DiffuKernelsAVX512 DiffuStorage DiffuAVX512Intrinsics
    build_module DiffuKernels DiffuStorage DiffuKernelsAVX512 CDiffuSystem
    build_module DiffuModels DiffuKernels DiffuStorage
    build_module DiffuConvert DiffuFormat DiffuStorage DiffuGGUF DiffuModels DiffuTokenizers
}

# build_target NAME SOURCE…: links tools/fuzz/SOURCE… against every library into .build-fuzz/NAME/NAME-fuzz.
build_target() {
    local name="$1"; shift
    local out="$root/.build-fuzz/$name"
    mkdir -p "$out"
    local binary="$out/$name-fuzz"
    local files=() stale=0
    for source in "$@"; do files+=("$root/tools/fuzz/$source"); [[ "$root/tools/fuzz/$source" -nt "$binary" ]] && stale=1; done
    if [[ -f "$binary" ]] && [[ $stale == 0 ]] && [[ -z "$(find "$lib" -name '*.a' -newer "$binary")" ]]; then
        return 0
    fi
    echo "linking $name" >&2
    swiftc "${fuzz_flags[@]}" -module-name "FuzzTarget" -I "$lib" -I "$root/Sources/CZstd" \
        -Xcc -fmodule-map-file="$lib/CDiffuSystem/module.modulemap" \
        "${files[@]}" \
        "$lib/libDiffuConvert.a" "$lib/libDiffuModels.a" "$lib/libDiffuKernels.a" "$lib/libDiffuKernelsAVX512.a" \
        "$lib/libDiffuAVX512Intrinsics.a" "$lib/libCDiffuSystem.a" "$lib/libDiffuTokenizers.a" \
        "$lib/libDiffuGGUF.a" "$lib/libDiffuFormat.a" "$lib/libDiffuStorage.a" \
        -lzstd -o "$binary" 2>&1 | { grep -v "Cannot export local symbol" || true; }
}

# Shared helpers for the libFuzzer scripts in tools/fuzz (sourced, not run).
# Builds Diffu's library modules once into static libraries under .build-fuzz/lib with libFuzzer coverage
# and AddressSanitizer, then links one executable per target against them.
# Tools only (never in CI). Needs the Swift toolchain for Linux (it ships libFuzzer) and libzstd-dev.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
lib="$root/.build-fuzz/lib"
# -package-name: the modules share `package` declarations (SystemFile, the architecture descriptors).
# -enable-testing: the harnesses use `@testable import` for internal knobs (the tokenizer's encoding window).
# The C target CDiffuSystem is found through the module map build_c_module writes. The kernels build without
# the DIFFU_AVX512 and DIFFU_AVX2_KERNELS defines (the portable variant: the AVX-512 and AVX2 targets compile
# empty; no target runs kernels).
fuzz_flags=(-O -g -sanitize=fuzzer,address -parse-as-library -enable-testing -package-name Diffu -I "$lib/CDiffuSystem-module")

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
    local sources
    mapfile -t sources < <(find "$root/Sources/$name" -name '*.swift' | sort)  # subfolders too (DiffuStorage/Codecs)
    swiftc "${fuzz_flags[@]}" -emit-module -emit-library -static -module-name "$name" \
        -I "$lib" -I "$root/Sources/CZstd" \
        -emit-module-path "$lib/$name.swiftmodule" -o "$archive" \
        "${sources[@]}"
}

# build_c_module NAME: compiles Sources/NAME/*.c (AddressSanitizer, fuzzer coverage) into lib/libNAME.a and
# writes lib/NAME-module/module.modulemap over its umbrella header include/NAME.h, unless up to date.
build_c_module() {
    local name="$1"
    local archive="$lib/lib$name.a" objects="$lib/$name-module"
    if [[ -f "$archive" ]] && [[ -z "$(find "$root/Sources/$name" -newer "$archive")" ]]; then return 0; fi
    echo "building $name" >&2
    mkdir -p "$objects"
    for source in "$root/Sources/$name"/*.c; do
        clang -O1 -g -fsanitize=fuzzer-no-link,address -I "$root/Sources/$name/include" \
            -c "$source" -o "$objects/$(basename "$source" .c).o"
    done
    rm -f "$archive"
    ar rcs "$archive" "$objects"/*.o
    printf 'module %s {\n    umbrella header "%s"\n    export *\n}\n' "$name" "$root/Sources/$name/include/$name.h" \
        > "$objects/module.modulemap"
}

# build_libraries: every module the fuzz targets import, in dependency order.
build_libraries() {
    mkdir -p "$lib"
    build_c_module CDiffuSystem
    build_module DiffuJSON
    build_module DiffuStorage
    build_module DiffuFormat DiffuStorage DiffuJSON
    build_module DiffuGGUF DiffuStorage
    build_module DiffuTokenizers DiffuGGUF DiffuJSON
    build_module DiffuAVX2Intrinsics
    build_module DiffuKernelsAVX2 DiffuStorage DiffuAVX2Intrinsics
    build_module DiffuAVX512Intrinsics
    build_module DiffuKernelsAVX512 DiffuStorage DiffuAVX512Intrinsics
    build_module DiffuKernels DiffuStorage DiffuKernelsAVX2 DiffuKernelsAVX512 CDiffuSystem
    build_module DiffuModels DiffuKernels DiffuStorage
    build_module DiffuConvert DiffuFormat DiffuJSON DiffuStorage DiffuGGUF DiffuKernels DiffuModels DiffuTokenizers
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
        "${files[@]}" \
        "$lib/libDiffuConvert.a" "$lib/libDiffuModels.a" "$lib/libDiffuKernels.a" "$lib/libDiffuKernelsAVX512.a" \
        "$lib/libDiffuAVX512Intrinsics.a" "$lib/libDiffuKernelsAVX2.a" "$lib/libDiffuAVX2Intrinsics.a" "$lib/libCDiffuSystem.a" "$lib/libDiffuTokenizers.a" \
        "$lib/libDiffuGGUF.a" "$lib/libDiffuFormat.a" "$lib/libDiffuJSON.a" "$lib/libDiffuStorage.a" \
        -lzstd -o "$binary" 2>&1 | { grep -v "Cannot export local symbol" || true; }
}

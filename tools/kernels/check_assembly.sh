#!/usr/bin/env bash
# Checks that the hot loops of the release build still compile to the instructions they were written
# for, so that a compiler change cannot silently turn a kernel into scalar code. Used by .ci/run.
#
# The kernels rely on code generation facts that no unit test sees: `vpdpbusd` (AVX512-VNNI) with the
# activations broadcast inside the instruction, `vpermd`/`vpshufb` for the weight transpose, `vpmaxud`
# and `vpmovdb` in the activation quantizer (generic SIMD comparisons and conversions of 16 lanes run
# lane by lane), `vfmadd231ps` and `vcvtph2ps` in the AVX2 f32 route — and no calls inside any of them.
# Usage: tools/kernels/check_assembly.sh [DIFFU_BINARY]
# Without an argument it release-builds only the kernel and sampler modules (not the CLI, whose server
# dependencies would add minutes of release compilation to CI) and reads their object files (DiffuStorage's
# too: the f32 route's tile decoders live in its codecs); with one, it reads that linked binary (e.g.
# .build/release/diffu). The functions checked are the same in both.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [[ "$(uname -m)" != "x86_64" ]]; then
    echo "check_assembly: x86-64 only (this machine is $(uname -m)); nothing to check"
    exit 0
fi
listing="$(mktemp)"
trap 'rm -f "$listing"' EXIT
binary="${1:-}"
if [[ -n "$binary" ]]; then
    objdump -d --no-show-raw-insn "$binary" > "$listing"
else
    for target in DiffuKernels DiffuSamplers; do
        swift build --package-path "$root" -c release --target "$target" >/dev/null
    done
    binary="release objects of DiffuStorage, DiffuKernelsAVX2, DiffuKernelsAVX512, DiffuKernels and DiffuSamplers"
    objects=()
    for module in DiffuStorage DiffuKernelsAVX2 DiffuKernelsAVX512 DiffuKernels DiffuSamplers; do
        objects+=("$root"/.build/release/"$module".build/*.o)
    done
    objdump -d --no-show-raw-insn "${objects[@]}" > "$listing"
fi

failures=0
# body SYMBOL_PATTERN: the instructions of every function whose mangled name matches.
body() { awk -v pattern="$1" '/^[0-9a-f]+ <.*>:$/ { inside = ($2 ~ pattern) } inside' "$listing"; }
# expect SYMBOL_PATTERN INSTRUCTION_REGEX MINIMUM DESCRIPTION
expect() {
    local count
    count="$(body "$1" | grep -cE "$2" || true)"
    if (( count < $3 )); then
        echo "FAIL: $4: $count matches of /$2/ in functions matching $1 (want ≥ $3)"
        failures=$((failures + 1))
    else
        echo "ok:   $4 ($count)"
    fi
}
# forbid SYMBOL_PATTERN INSTRUCTION_REGEX DESCRIPTION
forbid() {
    local count
    count="$(body "$1" | grep -cE "$2" || true)"
    if (( count > 0 )); then
        echo "FAIL: $3: $count matches of /$2/ in functions matching $1"
        body "$1" | grep -E "$2" | head -5
        failures=$((failures + 1))
    else
        echo "ok:   $3"
    fi
}

micro='IntegerMicroKernelO9eightRows'
expect "$micro" 'vpdpbusd.*\{1to16\}' 64 "integer micro-kernel: 8 rows x 8 vpdpbusd with the activations broadcast from memory"
expect "$micro" 'vcvtdq2ps' 8 "integer micro-kernel: int32 sums to f32 (vcvtdq2ps)"
forbid "$micro" 'call' "integer micro-kernel: no calls"
expect 'IntegerTileDecoderO6decode' 'vpermd' 8 "tile decoder: vpermd lane gather"
expect 'IntegerTileDecoderO6decode' 'vpshufb' 8 "tile decoder: vpshufb byte transpose"
forbid 'IntegerTileDecoderO6decode' 'call|vpinsrb|vpextrb' "tile decoder: no calls, no byte-by-byte inserts"
expect 'ActivationQuantizerO8quantize' 'vpmaxud' 1 "activation quantizer: vpmaxud magnitude maximum"
expect 'ActivationQuantizerO8quantize' 'vpmovdb' 2 "activation quantizer: vpmovdb narrowing"
forbid 'ActivationQuantizerO8quantize' 'vpinsr|vpextr|vinsertps|call.*max' "activation quantizer: no lane-by-lane inserts, extracts or calls"
narrow='NarrowIntegerMicroKernelO10fourRowsQ4'
expect "$narrow" 'vpmaddubsw.*ymm' 8 "q4 integer micro-kernel (avx2): 4 rows x 2 halves of vpmaddubsw"
expect "$narrow" 'vpaddw.*ymm' 8 "q4 integer micro-kernel (avx2): 16-bit sums over the block (vpaddw)"
expect "$narrow" 'vpbroadcastd' 4 "q4 integer micro-kernel (avx2): activations broadcast from memory"
forbid "$narrow" 'call' "q4 integer micro-kernel (avx2): no calls"
narrow='NarrowIntegerMicroKernelO10fourRowsQ8'
expect "$narrow" 'vpmaddwd.*ymm' 8 "q8 integer micro-kernel (avx2): 4 rows x 2 halves of vpmaddwd"
forbid "$narrow" 'call' "q8 integer micro-kernel (avx2): no calls"
expect 'NarrowIntegerTileDecoderO6decode' 'vpmovsxbd' 2 "q8 tile decoder (avx2): vpmovsxbd"
expect 'NarrowIntegerTileDecoderO6decode' 'vpmovzxbd' 4 "q4 tile decoder (avx2): vpmovzxbd"
forbid 'NarrowIntegerTileDecoderO6decode' 'call|vpinsrb|vpextrb' "tile decoder (avx2): no calls, no byte-by-byte inserts"
expect 'NarrowActivationQuantizerO8quantize' 'vpmaxud' 2 "activation quantizer (avx2): vpmaxud magnitude maximum"
forbid 'NarrowActivationQuantizerO8quantize' 'vpinsr|vpextr|vinsertps|call.*max' "activation quantizer (avx2): no lane-by-lane inserts, extracts or calls"
expect 'GemmMicroKernelO3run' 'vfmadd231ps.*ymm' 12 "f32 micro-kernel (avx2): ymm FMAs"
forbid 'GemmMicroKernelO' 'call.*(fmaf|__extendhfsf2)' "f32 micro-kernel: no per-lane library calls"
# The f32 route's tile decoders: one per codec (DiffuStorage/Codecs), 8 lanes per instruction, no calls.
tiles='12DiffuStorage(8F16|9BF16|7Q8|7Q4)CodecO10decodeTile'
expect '12DiffuStorage8F16CodecO10decodeTile' 'vcvtph2ps' 1 "f16 tile decoder: vcvtph2ps"
expect '12DiffuStorage9BF16CodecO10decodeTile' 'vpmovzxwd' 1 "bf16 tile decoder: vpmovzxwd"
expect '12DiffuStorage7Q8CodecO10decodeTile' 'vpmovsxbd' 2 "q8 tile decoder: vpmovsxbd"
expect '12DiffuStorage7Q8CodecO10decodeTile' 'vcvtdq2ps' 2 "q8 tile decoder: vcvtdq2ps"
expect '12DiffuStorage7Q4CodecO10decodeTile' 'vcvtdq2ps' 4 "q4 tile decoder: vcvtdq2ps"
forbid "$tiles" 'call' "tile decoders (f16, bf16, q8, q4): no calls"
wide='18DiffuKernelsAVX51211MicroKernelO6kernel.*Rows8O_AA4Pair'
expect "$wide" 'vfmadd231ps.*zmm' 16 "f32 micro-kernel (avx512): 8 rows x 2 panels of zmm FMAs"
forbid "$wide" 'call' "f32 micro-kernel (avx512): no calls"
expect 'FloatTileWidenerO8widenF16' 'vcvtph2ps.*zmm' 1 "f16 widener (avx512): vcvtph2ps zmm"
expect 'FloatTileWidenerO9widenBF16' 'vpmovzxwd.*zmm' 1 "bf16 widener (avx512): vpmovzxwd zmm"
expect 'WideAttentionO10ValueBlock.*Rows4O' 'vfmadd231ps.*zmm' 16 "attention values (avx512): 4 queries x 64 dimensions of zmm FMAs"
expect 'WideAttentionO6attend' 'vfmadd231ps.*zmm' 16 "attention scores (avx512): 4 queries x 64 keys of zmm FMAs"
forbid 'WideAttentionO9updateRow' 'call' "attention softmax update (avx512): exp inlined, no calls"
expect 'WideAttentionO9updateRow' 'vfmadd...ps.*zmm' 8 "attention softmax update (avx512): zmm exp polynomial"
# The samplers' softmax weights (DiffuKernels.LogitsRow, 8 lanes at the build's width) and their avx512 variant
# (DiffuKernelsAVX512.WideLogitsRow, 16 lanes, the same bits): the polynomial unfused on purpose (no vfmadd).
expect '9LogitsRowO12exponentials' 'vmulps.*ymm' 10 "sampler exponentials: single-precision polynomial on 8 lanes (the vectorized loop)"
forbid '9LogitsRowO12exponentials' 'call' "sampler exponentials: no calls (no expf)"
expect '13WideLogitsRowO12exponentials' 'vmulps.*zmm' 10 "sampler exponentials, avx512: the polynomial on 16 lanes"
forbid '13WideLogitsRowO12exponentials' 'vfmadd|call' "sampler exponentials, avx512: plain multiplies and adds (the other variants' rounding), no calls"
expect '9LogitsRowO7indices' 'setb' 1 "sampler top-p bucket collection: branch-free count (setb)"
expect '13WideLogitsRowO7indices' 'vpcompressd' 1 "sampler top-p bucket collection, avx512: compress-stores"
forbid '13WideLogitsRowO7indices' 'call' "sampler top-p bucket collection, avx512: no calls"
expect '11RowPreparerV7maximum_5count' 'vmaxps.*ymm' 4 "sampler maximum: four 8-lane accumulators"
expect '11RowPreparerV16divideAndMaximum' 'vdivps.*ymm' 4 "sampler temperature + maximum: 8-lane divisions"
expect '11RowPreparerV11zeroBuckets' 'ymm' 4 "sampler top-p zeroing: vectorized"

if (( failures > 0 )); then
    echo "check_assembly: $failures check(s) failed for $binary"
    exit 1
fi
echo "check_assembly: all kernel code-generation checks passed for $binary"

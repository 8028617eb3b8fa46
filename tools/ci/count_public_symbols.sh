#!/usr/bin/env bash
# Counts the public declarations a program sees through `import Diffu` (or another facade module):
# the module's own public symbols plus everything its `@_exported import`s bring — a whole module for
# `@_exported import M`, the type and its members for `@_exported import kind M.T`. Symbols come from
# `swift symbolgraph-extract` on the debug build (public and open, declared in source: synthesized
# members such as Equatable's `!=` are left out, as are extensions of standard-library types).
# Usage: swift build && tools/ci/count_public_symbols.sh [Diffu]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
facade="${1:-Diffu}"
modules="$root/.build/debug/Modules"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[[ -n "${KEEP_SYMBOLS:-}" ]] && trap - EXIT && echo "symbol graphs in $work"
exports="$root/Sources/$facade/Exports.swift"
wanted="$facade $(grep -oE '^@_exported import ([a-z]+ )?[A-Za-z]+' "$exports" | awk '{print $NF}' | sort -u | tr '\n' ' ')"
cmap="$(find -L "$root/.build/debug/" -maxdepth 3 -name module.modulemap -path '*CDiffuSystem*' | head -1)"
for module in $wanted; do
    swift symbolgraph-extract -module-name "$module" -I "$modules" -target "$(uname -m)-unknown-linux-gnu" \
        -minimum-access-level public -output-dir "$work" \
        -Xcc -fmodule-map-file="$cmap" -Xcc -fmodule-map-file="$root/Sources/CZstd/module.modulemap" >/dev/null
done
python3 - "$work" "$exports" "$facade" <<'PY'
import glob, json, re, sys
work, exports, facade = sys.argv[1:]
whole, scoped = set(), {}
for line in open(exports):
    m = re.match(r'@_exported import (?:(struct|enum|class|protocol|func|var|typealias) )?(\w+)(?:\.(\w+))?', line)
    if not m: continue
    kind, module, name = m.groups()
    if name: scoped.setdefault(module, set()).add(name)
    else: whole.add(module)
def declared(path):
    return [s for s in json.load(open(path))['symbols'] if 'location' in s]
own = sum(len(declared(p)) for p in glob.glob(f"{work}/{facade}.symbols.json") + glob.glob(f"{work}/{facade}@Diffu*.symbols.json"))
total, rows = own, [(facade + " (its own, with its extensions of Diffu types)", own)]
for module in sorted(whole | set(scoped)):
    symbols = declared(f"{work}/{module}.symbols.json")
    if module in whole:
        count = len(symbols)
        rows.append((f"{module} (whole module)", count))
    else:
        count = len([s for s in symbols if s['pathComponents'][0] in scoped[module]])
        rows.append((f"{module}: {', '.join(sorted(scoped[module]))}", count))
    total += count
for label, count in rows: print(f"{count:5d}  {label}")
print(f"{total:5d}  public declarations visible through `import {facade}`")
PY

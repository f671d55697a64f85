#!/usr/bin/env bash
# Builds the libFuzzer harness over `previrt inspect`'s whole path: CBinutils (C, libbfd and libopcodes),
# then the Swift modules PrevirtCatalog, PrevirtNote, PrevirtBinutils, PrevirtInspector and the harness,
# all with the fuzzer and address sanitizer instrumentation (libbfd itself is the system's, not instrumented).
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.build-fuzz}
mkdir -p "$out/cbinutils"
cp "$root/Sources/CBinutils/include/pv_binutils.h" "$out/cbinutils/"
printf 'module CBinutils {\n    header "pv_binutils.h"\n    export *\n}\n' > "$out/cbinutils/module.modulemap"
clang -fsanitize=fuzzer-no-link,address -O1 -g -I "$out/cbinutils" -c "$root/Sources/CBinutils/binutils.c" \
    -o "$out/CBinutils.o"
flags=(-sanitize=fuzzer,address -parse-as-library -O -g -I "$out" -I "$out/cbinutils")
module() {
    local name=$1
    swiftc "${flags[@]}" -wmo -c -module-name "$name" -emit-module -emit-module-path "$out/$name.swiftmodule" \
        "$root/Sources/$name"/*.swift -o "$out/$name.o"
}
module PrevirtCatalog
module PrevirtNote
module PrevirtBinutils
module PrevirtInspector
swiftc "${flags[@]}" -module-name InspectorFuzzer "$root/Fuzz/InspectorFuzzer.swift" \
    "$out/PrevirtCatalog.o" "$out/PrevirtNote.o" "$out/PrevirtBinutils.o" "$out/PrevirtInspector.o" "$out/CBinutils.o" \
    -lbfd -lopcodes -o "$out/inspector-fuzzer"
echo "$out/inspector-fuzzer"

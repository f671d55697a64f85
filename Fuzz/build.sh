#!/usr/bin/env bash
# Builds the libFuzzer harness: the catalog and note modules, then the harness, with -sanitize=fuzzer,address.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.build-fuzz}
mkdir -p "$out"
flags=(-sanitize=fuzzer,address -parse-as-library -O -g -I "$out")
swiftc "${flags[@]}" -wmo -c -module-name PrevirtCatalog -emit-module -emit-module-path "$out/PrevirtCatalog.swiftmodule" \
    "$root"/Sources/PrevirtCatalog/*.swift -o "$out/PrevirtCatalog.o"
swiftc "${flags[@]}" -wmo -c -module-name PrevirtNote -emit-module -emit-module-path "$out/PrevirtNote.swiftmodule" \
    "$root"/Sources/PrevirtNote/*.swift -o "$out/PrevirtNote.o"
swiftc "${flags[@]}" -module-name NoteParserFuzzer "$root/Fuzz/NoteParserFuzzer.swift" \
    "$out/PrevirtCatalog.o" "$out/PrevirtNote.o" -o "$out/note-parser-fuzzer"
echo "$out/note-parser-fuzzer"
clang -fsanitize=fuzzer,address -O1 -g -I "$root/Sources/PrevirtRuntime/include" \
    "$root/Fuzz/note_walk_fuzzer.c" "$root/Sources/PrevirtRuntime/note_walk.c" -o "$out/note-walk-fuzzer"
echo "$out/note-walk-fuzzer"

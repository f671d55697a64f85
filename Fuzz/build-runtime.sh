#!/usr/bin/env bash
# Builds the libFuzzer harnesses over the in-place VMM's freestanding core (C, with AddressSanitizer
# and UndefinedBehaviorSanitizer): the decoder, the patcher (validate-then-patch with the native, trace
# and a strict test backend) and the note walker. `make fuzz-runtime` builds, seeds and runs them.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.build-fuzz}
mkdir -p "$out"
rt="$root/Sources/PrevirtRuntime"
# The patcher's pairwise overlap check is lowered to 8 sites so that fuzzed images reach all three
# paths (in order, a sorted table, pair by pair) and the refusal beyond them.
flags=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -O1 -g -Wall -Wextra
       -DPREVIRT_PAIRWISE_MAX=8 -I "$rt/include")
ld=()
if command -v ld.lld >/dev/null 2>&1; then ld=(-fuse-ld=lld); fi
clang "${flags[@]}" "${ld[@]}" "$root/Fuzz/decode_fuzzer.c" "$rt/decode.c" -o "$out/decode-fuzzer"
echo "$out/decode-fuzzer"
clang "${flags[@]}" "${ld[@]}" "$root/Fuzz/patch_fuzzer.c" "$rt/note_walk.c" "$rt/decode.c" "$rt/patch.c" \
    "$rt/backend_native.c" "$rt/backend_trace.c" -o "$out/patch-fuzzer"
echo "$out/patch-fuzzer"
clang "${flags[@]}" "${ld[@]}" "$root/Fuzz/note_walk_fuzzer.c" "$rt/note_walk.c" -o "$out/note-walk-fuzzer-ubsan"
echo "$out/note-walk-fuzzer-ubsan"

#!/usr/bin/env bash
# Builds the libFuzzer harness over the linux-user VMM's ELF checks (Hosts/linux-user/elf_check.c and the
# runtime's note walker it uses), with AddressSanitizer and UndefinedBehaviorSanitizer.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.build-fuzz}
mkdir -p "$out"
clang -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -O1 -g \
    -I "$root/Sources/PrevirtRuntime/include" -I "$root/Hosts/linux-user" \
    "$root/Fuzz/linux_user_elf_fuzzer.c" "$root/Hosts/linux-user/elf_check.c" "$root/Sources/PrevirtRuntime/note_walk.c" \
    -o "$out/linux-user-elf-fuzzer"
echo "$out/linux-user-elf-fuzzer"

#!/usr/bin/env bash
# Builds the libFuzzer harness over the linux-user VMM's device models (Hosts/linux-user/devices: the
# 8259A pair, the 8254 with port 0x61, the 16550A) with AddressSanitizer and UndefinedBehaviorSanitizer.
# `make fuzz-devices` builds, seeds and runs it.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.build-fuzz}
mkdir -p "$out"
dev="$root/Hosts/linux-user/devices"
ld=()
if command -v ld.lld >/dev/null 2>&1; then ld=(-fuse-ld=lld); fi
clang "${ld[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -O1 -g -Wall -Wextra -I "$dev" -I "$root/Tests/Devices" \
    "$root/Fuzz/devices_fuzzer.c" "$dev/pic8259.c" "$dev/pit8253.c" "$dev/uart8250.c" -o "$out/devices-fuzzer"
echo "$out/devices-fuzzer"

#!/bin/sh
# probe_repeat.sh RUNS: run DeviceModelTests' QEMU comparison RUNS times, as the test runs it (the probe
# guest on qemu-system-i386 against `devices-test --script`), print each run whose transcripts differ
# (QEMU's lines "<", the models' ">") and count them. A read that depends on time shows up here as a
# mismatch in a few runs in a hundred, more under load (e.g. busy loops pinned with taskset).
# Exits 0 if every run matched, 1 if any differed, 64 on bad usage.
# SPDX-License-Identifier: MIT
set -u
case "${1:-}" in ''|*[!0-9]*) echo "usage: probe_repeat.sh RUNS" >&2; exit 64 ;; esac
runs=$1
out=${OUT:-out}
probe=$out/host/devices-qemu-probe.elf models=$out/host/devices-test
dir=$(mktemp -d) || exit 2
trap 'rm -rf "$dir"' EXIT
failed=0 i=0
while [ "$i" -lt "$runs" ]; do
    i=$((i + 1))
    timeout -s KILL 60 qemu-system-i386 -display none -no-reboot -serial "file:$dir/com1.out" \
        -debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$probe" >"$dir/qemu" 2>&1
    status=$?
    timeout -s KILL 60 "$models" --script | grep -v '^transmitted:' >"$dir/models"
    if [ "$status" -ne 33 ] || ! cmp -s "$dir/qemu" "$dir/models"; then
        failed=$((failed + 1))
        echo "run $i: QEMU exit $status; $(diff "$dir/qemu" "$dir/models" | grep '^[<>]' | tr '\n' ' ')"
    fi
done
echo "probe_repeat: $failed of $runs runs differed"
[ "$failed" -eq 0 ]

#!/bin/sh
# guest64_repeat.sh RUNS: boot the x86_64 demo guest (out/guest64/guest64.elf) RUNS times with each
# backend in BACKENDS (default "native trace") on qemu-system-x86_64, as Guest64Tests boots it, and
# count the runs whose transcript differs from the one the test expects (read from
# Tests/PrevirtTests/XenGuestTests.swift) or whose exit status is not 33 (pass); each such run is
# printed with the lines that differ. The guest's interrupt checks depend on when QEMU's timer events
# land; a host that deschedules QEMU shows a time dependence here. HOGS=n adds n busy loops on the CPU
# QEMU is pinned to, all at nice 19 (QEMU too), so that QEMU loses the CPU for whole time slices;
# STOP_MS=n stops QEMU (SIGSTOP) for n ms after each millisecond or so it runs, a host that
# deschedules it at every point of the run.
# Exits 0 if every run matched, 1 if any differed, 2 on error, 64 on bad usage.
# SPDX-License-Identifier: MIT
set -u
case "${1:-}" in ''|*[!0-9]*) echo "usage: guest64_repeat.sh RUNS" >&2; exit 64 ;; esac
case "${HOGS:-0}" in *[!0-9]*) echo "guest64_repeat.sh: HOGS must be a number" >&2; exit 64 ;; esac
case "${STOP_MS:-0}" in *[!0-9]*) echo "guest64_repeat.sh: STOP_MS must be a number" >&2; exit 64 ;; esac
runs=$1 hogs=${HOGS:-0} stop_ms=${STOP_MS:-0}
stop_s=$(printf '0.%03d' "$stop_ms")
out=${OUT:-out}
kernel=$out/guest64/guest64.elf
[ -f "$kernel" ] || { echo "guest64_repeat.sh: no $kernel (make guest64)" >&2; exit 2; }
dir=$(mktemp -d) || exit 2
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT
trap 'exit 2' INT TERM

# The transcript Guest64Tests expects: the lines of Guest64.transcript, without their indentation.
sed -n '/static let transcript = """/,/^ *"""/p' Tests/PrevirtTests/XenGuestTests.swift | sed '1d;$d' \
    | sed 's/^        //' | sed '$d' >"$dir/expected"
[ "$(wc -l <"$dir/expected")" -gt 2 ] || { echo "guest64_repeat.sh: cannot read the expected transcript" >&2; exit 2; }
lines=$(wc -l <"$dir/expected")

pin=
if [ "$hogs" -gt 0 ]; then
    pin="nice -n 19 taskset -c 0"
    i=0
    while [ "$i" -lt "$hogs" ]; do
        i=$((i + 1))
        nice -n 19 taskset -c 0 sh -c 'while :; do :; done' &
        pids="$pids $!"
    done
fi

failed=0 total=0
for backend in ${BACKENDS:-native trace}; do
    i=0
    while [ "$i" -lt "$runs" ]; do
        i=$((i + 1)) total=$((total + 1))
        $pin timeout -s KILL 60 qemu-system-x86_64 -display none -no-reboot -serial stdio \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$kernel" -append "previrt=$backend" >"$dir/run" 2>&1 &
        qemu=$!
        staller=
        if [ "$stop_ms" -gt 0 ]; then
            (while kill -0 "$qemu" 2>/dev/null; do
                sleep 0.001; pkill -STOP -P "$qemu"; sleep "$stop_s"; pkill -CONT -P "$qemu"
            done) &
            staller=$!
        fi
        wait "$qemu"
        status=$?
        if [ -n "$staller" ]; then kill "$staller" 2>/dev/null; wait "$staller" 2>/dev/null; fi
        head -n "$lines" "$dir/run" >"$dir/transcript"
        if [ "$status" -ne 33 ] || ! cmp -s "$dir/transcript" "$dir/expected"; then
            failed=$((failed + 1))
            echo "run $i ($backend): exit $status; $(diff "$dir/expected" "$dir/transcript" | grep '^>' | tr '\n' ' ')"
        fi
    done
done
echo "guest64_repeat: $failed of $total runs differed (backends: ${BACKENDS:-native trace}; HOGS=$hogs; STOP_MS=$stop_ms)"
[ "$failed" -eq 0 ]

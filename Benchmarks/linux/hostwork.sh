#!/usr/bin/env bash
# Benchmarks/linux/hostwork.sh [N...]: the host's work per guest pipe round trip under `previrt run`,
# for each address-space pool size N (default: 1 8). Boots the guest kernel twice per N, with
# Benchmarks/linux/pipeonly.c as init doing 6,000 round trips and doing none, under `perf stat` (signals
# delivered, page faults, context switches, over the VMM's processes) and again under `strace -f -c`
# (host system calls by name), and prints (count with 6,000 - count with 0) / 6,000. Pinned to CPU 0,
# as bench.py. Needs perf with the signal tracepoint (root) and strace. SPDX-License-Identifier: MIT
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/previrt-hostwork.XXXXXX")
trap 'rm -rf "$work"' EXIT
make -s -C "$root" out/host/previrt-linux-user
vmlinux=$("$root/Kernel/build-guest.sh" | tail -1)
for rounds in 0 3; do
    cc -m32 -static -O2 -DPIPE_ROUNDS=$rounds -I "$root/Kernel/userland" -o "$work/bench" "$root/Benchmarks/linux/pipeonly.c"
    "$root/Kernel/userland/pack-initramfs.sh" "$work/pipe-$rounds.cpio" "$work/bench"
done
events=signal:signal_deliver,page-faults,context-switches
vmm() { # N rounds
    "$root/out/host/previrt-linux-user" --address-spaces "$1" --memory 128 --timeout 100 --initrd "$work/pipe-$2.cpio" \
        --append "console=ttyS0 idle=halt panic=-1 rdinit=/bench" "$vmlinux" > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
}
count() { # N rounds -> "signals faults switches all-calls futex rt_sigreturn mmap2 munmap timer_settime"
    taskset -c 0 perf stat -x, -e "$events" -o "$work/stat" -- "$root/out/host/previrt-linux-user" --address-spaces "$1" \
        --memory 128 --timeout 100 --initrd "$work/pipe-$2.cpio" --append "console=ttyS0 idle=halt panic=-1 rdinit=/bench" \
        "$vmlinux" > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
    taskset -c 0 strace -f -c -o "$work/calls" -- "$root/out/host/previrt-linux-user" --address-spaces "$1" \
        --memory 128 --timeout 100 --initrd "$work/pipe-$2.cpio" --append "console=ttyS0 idle=halt panic=-1 rdinit=/bench" \
        "$vmlinux" > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
    awk -F, '/^[0-9]/ { printf "%s ", $1 }' "$work/stat"
    # strace -c: "% time, seconds, usecs/call, calls, [errors], name"; the 32-bit section (the VMM) comes last
    awk '$NF == "total" { t = $4 } $1 ~ /^[0-9.]+$/ { c[$NF] = $4 }
         END { printf "%d %d %d %d %d %d\n", t, c["futex"], c["rt_sigreturn"], c["mmap2"], c["munmap"], c["timer_settime"] }' "$work/calls"
}
printf '%-8s %8s %8s %8s %10s %8s %12s %8s %8s %14s\n' spaces signals faults switches "all calls" futex rt_sigreturn mmap2 munmap timer_settime
for n in ${@:-1 8}; do
    a=($(count "$n" 0)) b=($(count "$n" 3))
    line=$(printf '%-8s' "$n")
    for i in 0 1 2 3 4 5 6 7 8; do line+=$(awk -v d="$((b[i] - a[i]))" 'BEGIN { printf " %8.2f", d / 6000 }'); done
    echo "$line"
done

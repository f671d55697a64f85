#!/usr/bin/env bash
# Benchmarks/linux/tls-fence.sh: the TLS fence's cost (Hosts/linux-user/tls.c) as guest user code sees
# it. Boots the cached i386 guest kernel with Kernel/userland/tlscost.c as init (rdinit=/tlscost) three
# times under `previrt run` and once on QEMU (TCG, for the shape: there nothing is fenced), each pinned
# to CPU 0, and prints tlscost's lines; then the host's bare costs behind a fix-up
# (Benchmarks/linux/ldtcost.c), three runs. Run by `make tls-bench` (which builds what it needs).
# SPDX-License-Identifier: MIT
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
kernel=$(KERNEL_WORK="${KERNEL_WORK:-$root/.build/kernel}" Kernel/build-guest.sh | tail -1)
initrd=.build/userland/initramfs-tlscost.cpio
append="console=ttyS0 idle=halt quiet rdinit=/tlscost"
for run in 1 2 3; do
    echo "== previrt run, run $run"
    taskset -c 0 timeout -s KILL 120 out/host/previrt-linux-user --timeout 100 --initrd "$initrd" --append "$append" "$kernel" \
        | tr -d '\r' | grep '^previrt tlscost: ' || true
done
echo "== qemu-system-i386 (TCG), for the shape only"
taskset -c 0 timeout -s KILL 120 qemu-system-i386 -display none -no-reboot -serial stdio -m 64 -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 quiet rdinit=/tlscost" | tr -d '\r' | grep '^previrt tlscost: ' || true
for run in 1 2 3; do
    echo "== the host's bare costs (ldtcost), run $run"
    taskset -c 0 timeout -s KILL 60 .build/userland/ldtcost
done

#!/usr/bin/env bash
# make kernel-check: build Debian's Linux 6.1 (x86_64 tinyconfig + serial console + initramfs) without
# and with the previrt macro set, boot both on qemu-system-x86_64 (TCG) to an init that prints a line,
# and report build time, code size, sites per kind and what inspect --verify --coverage finds.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${KERNEL_WORK:-$root/.build/kernel}
previrt=$root/.build/release/previrt
macros=$root/Macros/previrt-x86_64.s
jobs=${JOBS:-2}
mkdir -p "$work"

need=(linux-source-6.1 bc flex bison libelf-dev libssl-dev cpio qemu-system-x86)
missing=()
for p in "${need[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

src=$work/linux-source-6.1
if [ ! -f "$src/Makefile" ]; then
    echo "== extracting /usr/src/linux-source-6.1.tar.xz"
    tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$work"
fi

echo "== initramfs"
mkdir -p "$work/initramfs"
gcc -static -Os -o "$work/initramfs/init" "$root/Kernel/init.c"
(cd "$work/initramfs" && echo init | cpio -o -H newc --quiet > "$work/initramfs.cpio")

configure() {
    local out=$1
    mkdir -p "$out"
    make -s -C "$src" O="$out" tinyconfig >/dev/null
    "$src/scripts/config" --file "$out/.config" \
        -e 64BIT -e PRINTK -e TTY -e SERIAL_8250 -e SERIAL_8250_CONSOLE -e BLK_DEV_INITRD \
        -e BINFMT_ELF -e RD_GZIP
    make -s -C "$src" O="$out" olddefconfig >/dev/null
}

build() {
    local name=$1; shift
    local out=$work/build-$name
    configure "$out"
    echo "== building $name"
    local start end
    start=$(date +%s.%N)
    if ! make -s -C "$src" O="$out" -j"$jobs" "$@" bzImage > "$work/build-$name.log" 2>&1; then
        tail -40 "$work/build-$name.log"
        echo "kernel-check: the $name build failed (log: $work/build-$name.log)" >&2
        exit 1
    fi
    end=$(date +%s.%N)
    echo "$end - $start" | bc > "$work/build-$name.seconds"
    echo "   $(cat "$work/build-$name.seconds") s; warnings: $(grep -c -i warning "$work/build-$name.log" || true)"
}

boot() {
    local name=$1 out=$work/build-$1
    echo "== booting $name"
    local start end
    start=$(date +%s.%N)
    timeout 120 qemu-system-x86_64 -m 256 -display none -no-reboot -serial stdio \
        -kernel "$out/arch/x86/boot/bzImage" -initrd "$work/initramfs.cpio" -append "console=ttyS0 panic=-1" \
        > "$work/boot-$name.log" 2>&1 || true
    end=$(date +%s.%N)
    if grep -q "previrt kernel check: init is running" "$work/boot-$name.log"; then
        echo "   booted and ran init in $(echo "$end - $start" | bc) s"
    else
        tail -20 "$work/boot-$name.log"
        echo "kernel-check: the $name kernel did not reach init (log: $work/boot-$name.log)" >&2
        exit 1
    fi
}

build plain
build previrt KCFLAGS="-Wa,$macros" KAFLAGS="-Wa,$macros"
boot plain
boot previrt

# Code size: the executable sections of vmlinux.o (vmlinux pads .text to a 2 MiB boundary, hiding growth).
text() {
    python3 - "$1" <<'PY'
import subprocess, sys
total = 0
for line in subprocess.run(["readelf", "-SW", sys.argv[1]], capture_output=True, text=True).stdout.splitlines():
    if "]" not in line:
        continue
    fields = line.split("]", 1)[1].split()
    if len(fields) >= 7 and "X" in fields[6] and "A" in fields[6]:
        total += int(fields[4], 16)
print(total)
PY
}
plain_text=$(text "$work/build-plain/vmlinux.o")
pv_text=$(text "$work/build-previrt/vmlinux.o")
echo "== results"
echo "build time: plain $(cat "$work/build-plain.seconds") s, previrt $(cat "$work/build-previrt.seconds") s, ratio $(echo "scale=3; $(cat "$work/build-previrt.seconds") / $(cat "$work/build-plain.seconds")" | bc)"
echo "code (executable sections of vmlinux.o): plain $plain_text bytes, previrt $pv_text bytes, growth $(echo "scale=3; ($pv_text - $plain_text) * 100 / $plain_text" | bc)%"
"$previrt" inspect --stats "$work/build-previrt/vmlinux" | grep -E "stats:|by kind|sites" | head -4
"$previrt" inspect --verify --coverage "$work/build-previrt/vmlinux" > "$work/inspect.txt" 2> "$work/inspect-diagnostics.txt" || true
tail -1 "$work/inspect.txt"
echo "unannotated by kind:"
awk '/unannotated sensitive instruction/ { on = 1; next } on && /^  0x/ { print $4 }' "$work/inspect.txt" | sort | uniq -c | sort -rn

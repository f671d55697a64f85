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
config=${KERNEL_CONFIG:-tinyconfig}   # tinyconfig (default) or defconfig
arch=${KERNEL_ARCH:-x86_64}           # x86_64 (default) or i386
if [ "$arch" = i386 ]; then
    macros=$root/Macros/previrt-i386.s
    qemu=qemu-system-i386
    m32=-m32
    bits=-d
else
    qemu=qemu-system-x86_64
    m32=
    bits=-e
fi
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
gcc $m32 -static -Os -o "$work/initramfs/init" "$root/Kernel/init.c"
(cd "$work/initramfs" && echo init | cpio -o -H newc --quiet > "$work/initramfs-$arch.cpio")

configure() {
    local out=$1
    mkdir -p "$out"
    make -s -C "$src" O="$out" ARCH="$arch" "$config" >/dev/null
    "$src/scripts/config" --file "$out/.config" \
        $bits 64BIT -e PRINTK -e TTY -e SERIAL_8250 -e SERIAL_8250_CONSOLE -e BLK_DEV_INITRD \
        -e BINFMT_ELF -e RD_GZIP
    make -s -C "$src" O="$out" ARCH="$arch" olddefconfig >/dev/null
}

build() {
    local name=$1; shift
    local out=$work/build-$arch-$config-$name
    configure "$out"
    echo "== building $name"
    local start end
    start=$(date +%s.%N)
    if ! make -s -C "$src" O="$out" ARCH="$arch" -j"$jobs" "$@" bzImage > "$out.log" 2>&1; then
        tail -40 "$out.log"
        echo "kernel-check: the $name build failed (log: $out.log)" >&2
        exit 1
    fi
    end=$(date +%s.%N)
    echo "$end - $start" | bc > "$out.seconds"
    echo "   $(cat "$out.seconds") s; warnings: $(grep -c -i warning "$out.log" || true)"
}

boot() {
    local name=$1 out=$work/build-$arch-$config-$1
    echo "== booting $name"
    local start end
    start=$(date +%s.%N)
    timeout 120 $qemu -m 256 -display none -no-reboot -serial stdio \
        -kernel "$out/arch/x86/boot/bzImage" -initrd "$work/initramfs-$arch.cpio" -append "console=ttyS0 panic=-1" \
        > "$out.boot.log" 2>&1 || true
    end=$(date +%s.%N)
    if grep -q "previrt kernel check: init is running" "$out.boot.log"; then
        echo "   booted and ran init in $(echo "$end - $start" | bc) s"
    else
        tail -20 "$out.boot.log"
        echo "kernel-check: the $name kernel did not reach init (log: $out.boot.log)" >&2
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
plain=$work/build-$arch-$config-plain
pv=$work/build-$arch-$config-previrt
plain_text=$(text "$plain/vmlinux.o")
pv_text=$(text "$pv/vmlinux.o")
echo "== results ($arch $config)"
echo "build time: plain $(cat "$plain.seconds") s, previrt $(cat "$pv.seconds") s, ratio $(echo "scale=3; $(cat "$pv.seconds") / $(cat "$plain.seconds")" | bc)"
echo "code (executable sections of vmlinux.o): plain $plain_text bytes, previrt $pv_text bytes, growth $(echo "scale=3; ($pv_text - $plain_text) * 100 / $plain_text" | bc)%"
# The inspector's findings are results to report, not failures of the check: exit status 1 (findings)
# is expected (sites in run-time-copied templates, unannotated instructions kept native on purpose);
# only 2 (the inspector could not read vmlinux) fails the check.
inspect_status=0
"$previrt" inspect --verify --coverage --stats --json "$pv/vmlinux" > "$pv.inspect.json" 2> "$pv.inspect-diagnostics.txt" \
    || inspect_status=$?
if [ "$inspect_status" -ge 2 ]; then
    cat "$pv.inspect-diagnostics.txt" >&2
    echo "kernel-check: previrt inspect could not read $pv/vmlinux (exit status $inspect_status)" >&2
    exit 1
fi
python3 "$root/Kernel/summarize-inspect.py" "$pv.inspect.json"
echo "objtool and modpost lines in the annotated build: $(grep -c -E 'objtool|modpost' "$pv.log" || true)"

# IBT: objtool (as built above) reports every note's relocation as a "data relocation to !ENDBR";
# with --objtool-ibt each site is also listed in .discard.noendbr (Linux's ANNOTATE_NOENDBR) and
# objtool is content.
objtool=$plain/tools/objtool/objtool
if [ "$arch" = x86_64 ] && [ -x "$objtool" ]; then
    ibt=$work/ibt
    mkdir -p "$ibt"
    printf '.text\n.globl f\n.type f,@function\nf:\nendbr64\ncli\nmov %%cr3,%%rax\nret\n.size f,.-f\n' > "$ibt/f.s"
    "$previrt" macros --arch x86_64 -o "$ibt/plain.s"
    "$previrt" macros --arch x86_64 --objtool-ibt -o "$ibt/ibt.s"
    as --64 "$ibt/plain.s" "$ibt/f.s" -o "$ibt/without.o"
    as --64 "$ibt/ibt.s" "$ibt/f.s" -o "$ibt/with.o"
    without=$("$objtool" --ibt --link --dry-run "$ibt/without.o" 2>&1 | grep -c "data relocation to !ENDBR" || true)
    with=$("$objtool" --ibt --link --dry-run "$ibt/with.o" 2>&1 | grep -c "objtool" || true)
    echo "objtool --ibt on a function with 2 sites: $without warnings without --objtool-ibt, $with with it"
fi

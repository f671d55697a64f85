#!/usr/bin/env bash
# Kernel/build-guest.sh: build the i386 guest kernel (Kernel/guest-i386.config on top of tinyconfig,
# Debian's Linux 6.1) with the previrt macro set, once: the result is cached under .build/kernel/guest-i386
# and rebuilt only when the configuration, the macro set, the compiler or this script change.
# Prints the path of vmlinux on its last line. Used by `make guest-kernel` and the tests that boot it.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${KERNEL_WORK:-$root/.build/kernel}
jobs=${JOBS:-$(nproc)}
fragment=$root/Kernel/guest-i386.config
macros=$root/Macros/previrt-i386.s
out=$work/guest-i386
mkdir -p "$work"

need=(linux-source-6.1 bc flex bison libelf-dev libssl-dev cpio)
missing=()
for p in "${need[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "build-guest: missing Debian packages: ${missing[*]} (run .ci/install-deps)" >&2
    exit 2
fi

key=$( { cat "$fragment" "$macros" "$0"; gcc --version | head -1; ls -l /usr/src/linux-source-6.1.tar.xz; } | sha256sum | cut -c1-16)
if [ -f "$out/vmlinux" ] && [ "$(cat "$out/.previrt-key" 2>/dev/null)" = "$key" ]; then
    echo "$out/vmlinux"
    exit 0
fi
# One builder at a time (concurrent test processes, several worktrees sharing KERNEL_WORK); whoever
# waited finds the cache filled.
exec 9>"$work/.build-guest.lock"
flock 9
if [ -f "$out/vmlinux" ] && [ "$(cat "$out/.previrt-key" 2>/dev/null)" = "$key" ]; then
    echo "$out/vmlinux"
    exit 0
fi

# One extraction, kept apart from kernel-check's tree so the two never race on the same sources.
src=$work/linux-6.1-src
if [ ! -f "$src/.previrt-extracted" ]; then
    echo "== extracting /usr/src/linux-source-6.1.tar.xz" >&2
    rm -rf "$src" "$work/linux-source-6.1.partial"
    mkdir -p "$work/linux-source-6.1.partial"
    tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$work/linux-source-6.1.partial"
    mv "$work/linux-source-6.1.partial/linux-source-6.1" "$src"
    rmdir "$work/linux-source-6.1.partial"
    touch "$src/.previrt-extracted"
fi

rm -f "$out/.previrt-key"
mkdir -p "$out"
export KBUILD_BUILD_USER=previrt KBUILD_BUILD_HOST=previrt KBUILD_BUILD_TIMESTAMP="Sat Nov 28 00:00:00 UTC 2026"
make -s -C "$src" O="$out" ARCH=i386 tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$fragment" >/dev/null
make -s -C "$src" O="$out" ARCH=i386 olddefconfig >/dev/null
# Every option of the fragment must have survived olddefconfig (a dependency we missed would drop it).
while IFS= read -r line; do
    case "$line" in
        CONFIG_*=*) grep -qx "$line" "$out/.config" || { echo "build-guest: $line did not survive olddefconfig" >&2; exit 1; } ;;
        "# CONFIG_"*" is not set") ! grep -q "^${line:2:-11}=" "$out/.config" || { echo "build-guest: ${line:2:-11} is still set" >&2; exit 1; } ;;
    esac
done < "$fragment"
echo "== building the i386 guest kernel with the macro set (log: $out.log)" >&2
start=$(date +%s)
if ! make -s -C "$src" O="$out" ARCH=i386 -j"$jobs" KCFLAGS="-Wa,$macros" KAFLAGS="-Wa,$macros" bzImage > "$out.log" 2>&1; then
    tail -40 "$out.log" >&2
    echo "build-guest: the kernel build failed (log: $out.log)" >&2
    exit 1
fi
echo "   built in $(( $(date +%s) - start )) s" >&2
echo "$key" > "$out/.previrt-key"
echo "$out/vmlinux"

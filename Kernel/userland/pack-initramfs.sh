#!/usr/bin/env bash
# Kernel/userland/pack-initramfs.sh OUT.cpio FILE...: packs the files, each at the root under its own
# name, mode 0755, owner 0:0, time 0, into a newc cpio archive (what the kernel unpacks as its initramfs).
# The same inputs give the same bytes. /dev/console comes from the kernel's built-in initramfs.
# SPDX-License-Identifier: MIT
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT.cpio FILE..." >&2; exit 64; }
out=$1; shift
stage=$(mktemp -d "${TMPDIR:-/tmp}/previrt-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
names=()
for f in "$@"; do
    name=$(basename "$f")
    cp "$f" "$stage/$name"
    chmod 0755 "$stage/$name"
    touch -d @0 "$stage/$name"
    names+=("$name")
done
(cd "$stage" && printf '%s\n' "${names[@]}" | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible -R 0:0 > "$stage/.cpio")
mv "$stage/.cpio" "$out"

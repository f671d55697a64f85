#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Seeds for the runtime's fuzzers from linked ELF files (Fuzz/build-runtime.sh, make fuzz-runtime).

    runtime_seeds.py DECODE_DIR PATCH_DIR FILE.elf...

For each file: its .text into DECODE_DIR (decode_fuzzer's input is raw code), and into PATCH_DIR
the memory from the lower to the upper end of .text and .note.previrt, as the loader would lay it out,
behind patch_fuzzer's 13-byte header (backend, three minimum lengths, table size, then text offset,
text length, note offset, note length, 16-bit each), once per backend.
"""
import struct
import sys
from pathlib import Path


def sections(data):
    """{name: (address, offset, size)} of an ELF32 or ELF64 little-endian file."""
    if data[:4] != b"\x7fELF" or data[5] != 1:
        raise ValueError("not a little-endian ELF file")
    wide = data[4] == 2
    if wide:
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    else:
        shoff, = struct.unpack_from("<I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2e)
    headers = []
    for i in range(shnum):
        at = shoff + i * shentsize
        if wide:
            name, _, _, addr, offset, size = struct.unpack_from("<IIQQQQ", data, at)
        else:
            name, _, _, addr, offset, size = struct.unpack_from("<IIIIII", data, at)
        headers.append((name, addr, offset, size))
    strtab = headers[shstrndx][2]
    result = {}
    for name, addr, offset, size in headers:
        end = data.index(b"\0", strtab + name)
        result[data[strtab + name:end].decode()] = (addr, offset, size)
    return result


def main():
    decode_dir, patch_dir = Path(sys.argv[1]), Path(sys.argv[2])
    decode_dir.mkdir(parents=True, exist_ok=True)
    patch_dir.mkdir(parents=True, exist_ok=True)
    for path in map(Path, sys.argv[3:]):
        data = path.read_bytes()
        found = sections(data)
        text, notes = found.get(".text"), found.get(".note.previrt")
        if not text or not notes:
            continue
        (decode_dir / f"seed-{path.stem}").write_bytes(data[text[1]:text[1] + text[2]])
        base = min(text[0], notes[0])
        end = max(text[0] + text[2], notes[0] + notes[2])
        if end - base > 0xffff:
            continue
        image = bytearray(end - base)
        for addr, offset, size in (text, notes):
            image[addr - base:addr - base + size] = data[offset:offset + size]
        for backend in range(4):
            header = bytes([backend, 0, 5, 5, 64 if backend != 1 else 0])
            header += struct.pack("<HHHH", text[0] - base, text[2], notes[0] - base, notes[2])
            (patch_dir / f"seed-{path.stem}-{backend}").write_bytes(header + image)


if __name__ == "__main__":
    main()

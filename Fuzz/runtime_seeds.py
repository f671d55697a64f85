#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Seeds for the runtime's fuzzers from linked ELF files (Fuzz/build-runtime.sh, make fuzz-runtime).

    runtime_seeds.py DECODE_DIR PATCH_DIR FILE.elf...

For each file: its .text into DECODE_DIR, 48 bytes from every 16th (decode_fuzzer's input is raw
code), and into PATCH_DIR
the memory from the lower to the upper end of .text and .note.previrt, as the loader would lay it out,
behind patch_fuzzer's 13-byte header (backend, three minimum lengths, table size, then text offset,
text length, note offset, note length, 16-bit each), once per backend; then the same memory with its
notes rearranged, to lead the fuzzer into the overlap checks: in reverse order (sites out of address
order) and with the first site noted twice.
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


def notes_of(area):
    """[(bytes of one note, descriptor offset in it, site offset from the area's start or None)]."""
    notes, at = [], 0
    while at + 12 <= len(area):
        namesz, descsz, kind = struct.unpack_from("<III", area, at)
        desc = at + 12 + (namesz + 3) // 4 * 4
        end = desc + (descsz + 3) // 4 * 4
        if end > len(area):
            break
        site = None
        if area[at + 12:at + 12 + namesz] == b"PreVirt\0" and kind == 0x50560002 and descsz == 12:
            site = desc + struct.unpack_from("<i", area, desc)[0]
        notes.append((bytes(area[at:end]), desc - at, site))
        at = end
    return notes


def lay_out(notes):
    """The note area holding `notes` in this order, each site field pointing at its site again."""
    area = bytearray()
    for raw, desc, site in notes:
        raw = bytearray(raw)
        if site is not None:
            struct.pack_into("<i", raw, desc, site - (len(area) + desc))
        area += raw
    return area


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
        code = data[text[1]:text[1] + text[2]]
        for at in range(0, len(code), 16):
            (decode_dir / f"seed-{path.stem}-{at:x}").write_bytes(code[at:at + 48])
        base = min(text[0], notes[0])
        end = max(text[0] + text[2], notes[0] + notes[2])
        if end - base > 0xffff:
            continue
        image = bytearray(end - base)
        for addr, offset, size in (text, notes):
            image[addr - base:addr - base + size] = data[offset:offset + size]
        def seed(name, backend, memory, notes_size):
            header = bytes([backend, 0, 5, 5, 64 if backend != 1 else 0])
            header += struct.pack("<HHHH", text[0] - base, text[2], notes[0] - base, notes_size)
            (patch_dir / f"seed-{path.stem}-{name}{backend}").write_bytes(header + memory)

        for backend in range(4):
            seed("", backend, image, notes[2])
        if notes[0] < text[0]:
            continue
        start = notes[0] - base
        listed = notes_of(image[start:start + notes[2]])
        sites = [n for n in listed if n[2] is not None]
        for name, order in (("reversed-", listed[::-1]), ("twice-", listed + sites[:1])):
            area = lay_out(order)
            for backend in range(3):
                seed(name, backend, image[:start] + area, len(area))


if __name__ == "__main__":
    main()

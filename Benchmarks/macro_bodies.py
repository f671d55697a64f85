#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the `-Wa,` route's time goes: instructions gas executes on gcc -O2 output of zstd.c with the
committed x86_64 macro set, and with variants of the mov/push/pop macro bodies, counted by valgrind's
callgrind (deterministic, unlike CPU time on a shared machine). Each variant must give the same object.

Needs valgrind, and .build/bench/zstd.s (run `python3 Benchmarks/assemble.py --fetch-only`, then
`gcc -O2 -S .build/bench/zstd/zstd.c -o .build/bench/zstd.s`, as assemble.py does). Takes a few minutes.
"""
import os, re, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, ".build", "bench", "bodies")
ASM = os.path.join(ROOT, ".build", "bench", "zstd.s")
MACROS = open(os.path.join(ROOT, "Macros", "previrt-x86_64.s")).read()
# The overloaded mnemonics gcc writes (mov and movw go through __pv_segmem and are rare in its output).
WRAPPED = {"movl", "movq", "push", "pushw", "pushl", "pushq", "pop", "popw", "popl", "popq"}
LINEFILE = '.linefile 0 "" 2; '


def bodies(text, rewrite):
    """The macro set with each wrapped mnemonic's body (the lines between .macro and .endm) rewritten."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        words = lines[i].split()
        if len(words) == 3 and words[0] == ".macro" and words[1] in WRAPPED:
            j = lines.index(".endm", i)
            out += [lines[i]] + rewrite(words[1], lines[i + 1:j]) + [".endm"]
            i = j + 1
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def short_names(text):
    return text.replace('".L__pv_', '".Lp').replace("__pv_hit", "__pvh")


VARIANTS = {
    "committed set": MACROS,
    "floor: bare `{store} movq \\a`": bodies(MACROS, lambda m, b: ["{store} %s \\a" % m]),
    "floor + .linefile": bodies(MACROS, lambda m, b: [LINEFILE + "{store} %s \\a" % m]),
    "floor + .ifdef/.endif": bodies(short_names(MACROS), lambda m, b: [b[0], ".endif", "{store} %s \\a" % m]),
    "committed, no .linefile on the common path": bodies(MACROS, lambda m, b: [l.replace(LINEFILE, "") for l in b]),
    "committed, short symbol and macro names": short_names(MACROS),
    "short names, no .linefile on the common path":
        bodies(short_names(MACROS), lambda m, b: [l.replace(LINEFILE, "") for l in b]),
    "short names, body on one line (`;`)": bodies(short_names(MACROS), lambda m, b: ["; ".join(b)]),
    # The hit leaves the macro with .exitm: no .else on the common path (the same object).
    "committed, `.exitm` instead of `.else`":
        bodies(MACROS, lambda m, b: [b[0], b[1], ".exitm", ".endif", b[3]]),
    # The least any classifying body with correct error positions executes on the common path: one
    # .ifdef/.endif and the .linefile, nothing else (a bound, not a macro set: hits are dropped).
    "bound: floor + .linefile + .ifdef/.endif":
        bodies(short_names(MACROS), lambda m, b: [b[0], ".endif", LINEFILE + "{store} %s \\a" % m]),
}


def instructions(name, args):
    out = os.path.join(WORK, f"cg.{abs(hash(name))}")
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "as", "--64"] + args,
                       capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", r.stderr).group(1))


def main():
    os.makedirs(WORK, exist_ok=True)
    runs = [("plain as", [ASM, "-o", os.path.join(WORK, "plain.o")])]
    for n, (name, text) in enumerate(VARIANTS.items()):
        path = os.path.join(WORK, f"v{n}.s")
        open(path, "w").write(text)
        runs.append((name, [path, ASM, "-o", os.path.join(WORK, f"v{n}.o")]))
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(lambda r: instructions(*r), runs))
    objects = [open(os.path.join(WORK, f"v{n}.o"), "rb").read() for n in range(len(VARIANTS))]
    if any(o != objects[0] for o in objects):
        sys.exit("a variant changed the object")
    wrapped = sum(1 for l in open(ASM) if re.match(r"\s+(%s)\s" % "|".join(WRAPPED), l))
    print(f"{wrapped} wrapped statements in zstd.s; instructions executed by as (callgrind):")
    plain, floor = counts[0], counts[2]
    for (name, _), c in zip(runs, counts):
        print(f"{name:<48} {c/1e6:8.0f} M  {c/plain:5.2f}x plain  {(c-floor)/1e6:+6.0f} M over the floor")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Assembler and compile time with and without the macro set, side by side in one run.

Input: the zstd amalgamation (zstd/zstd.c, 2 MB of C no one here wrote) from the `zstandard` source
distribution on PyPI, fetched once into .build/bench. Runs are interleaved (plain, macros, plain, ...)
and the median CPU time (user + system) of each is compared, so that load on the machine hits both
sides alike.

`--previrt-as-only` measures only the previrt-as rows and where its time goes (build it first:
`swift build -c release --product previrt-as`). `--assembler-only` measures every assembler row (previrt-as,
where its time goes, the -Wa route and gas's floor, start-up) side by side, without the whole-compile rows.
"""
import os, statistics, subprocess, sys, tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, ".build", "bench")
MACROS = os.path.join(ROOT, "Macros", "previrt-x86_64.s")
# PREVIRT_AS_BINARY: another build of previrt-as to measure (an older one, to compare).
DROP_IN = os.environ.get("PREVIRT_AS_BINARY") or os.path.join(ROOT, ".build", "release", "previrt-as")


def fetch_zstd():
    src = os.path.join(WORK, "zstd", "zstd.c")
    if os.path.exists(src):
        return src
    os.makedirs(WORK, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    "zstandard==0.25.0", "-d", WORK], check=True)
    archive = next(f for f in os.listdir(WORK) if f.startswith("zstandard") and f.endswith(".tar.gz"))
    with tarfile.open(os.path.join(WORK, archive)) as t:
        members = [m for m in t.getmembers() if "/zstd/" in m.name and not m.name.endswith("/zstd")]
        for m in members:
            m.name = "zstd/" + m.name.split("/zstd/", 1)[1]
        t.extractall(WORK, members=members)
    return src


def timed(cmd, cwd=None):
    """CPU time (user + system) of the command: steadier than wall time on a shared machine."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return usage.ru_utime + usage.ru_stime


def side_by_side(label, plain, annotated, runs):
    a, b = [], []
    for _ in range(runs):
        a.append(timed(plain))
        b.append(timed(annotated))
    pa, pb = statistics.median(a), statistics.median(b)
    print(f"{label:<46} plain {pa*1000:9.1f} ms   macros {pb*1000:9.1f} ms   ratio {pb/pa:5.3f}x   ({runs} runs each, median CPU time)")
    return pa, pb


def rewritten_macro_set(name, wrapped, body):
    """The committed macro set with the macro of each mnemonic in `wrapped` replaced by `body(mnemonic,
    its lines)` (a list of lines that ends it); written to WORK/name, whose path is returned."""
    path = os.path.join(WORK, name)
    out, lines, i = [], open(MACROS).read().split("\n"), 0
    while i < len(lines):
        words = lines[i].split()
        if len(words) == 3 and words[0] == ".macro" and words[1] in wrapped:
            out += body(words[1], lines[i:])
            while lines[i] != ".endm":
                i += 1
        else:
            out.append(lines[i])
        i += 1
    with open(path, "w") as f:
        f.write("\n".join(out))
    return path


def floor_macro_set():
    """The macro set with every overloaded mnemonic reduced to a bare re-emit: what any GNU-as macro that
    overrides mov/push/pop costs, before it classifies anything."""
    wrapped = {"mov", "movw", "movl", "movq", "push", "pushw", "pushl", "pushq", "pop", "popw", "popl", "popq"}
    return rewritten_macro_set("floor.s", wrapped, lambda m, lines: [lines[0], "{store} %s \\a" % m, ".endm"])


def bound_macro_set():
    """The least any classifying body with correct error positions executes for a mov/push/pop that is not
    sensitive: the floor, one `.ifdef` of the operand table and the `.linefile` (a bound, not a macro set:
    it drops the hits, of which zstd.s has none). Benchmarks/macro_bodies.py counts its instructions."""
    wrapped = {"movl", "movq", "push", "pushw", "pushl", "pushq", "pop", "popw", "popl", "popq"}
    return rewritten_macro_set("bound.s", wrapped, lambda m, lines: [
        lines[0], lines[1], ".endif", '.linefile 0 "" 2; {store} %s \\a' % m, ".endm"])


def cpu_time(cmd, runs, env=None):
    """Median CPU time of `cmd` (with its children), run `runs` times."""
    times = []
    for _ in range(runs):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}")
        times.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(times)


def rewritten_copy(asm, obj):
    """The file previrt-as hands gas for zstd.s (its sites written in place), captured by a stand-in
    for the real assembler that copies its temporary input."""
    copy, grab = os.path.join(WORK, "zstd-in-place.s"), os.path.join(WORK, "grab.sh")
    with open(grab, "w") as f:
        f.write('#!/bin/sh\nfor a in "$@"; do case "$a" in */previrt-as-*.s|/dev/fd/*) cat "$a" > "%s";; esac; done\n' % copy)
    os.chmod(grab, 0o755)
    subprocess.run([DROP_IN, "--64", asm, "-o", obj], env=dict(os.environ, PREVIRT_AS=grab), check=True)
    return copy


def drop_in_breakdown(asm, tiny, obj):
    """Where previrt-as's time goes: its own work (with /bin/true as the real assembler: the scan, the
    rewritten copy, start-up), what gas pays for the copy it reads instead of the user's file, and what
    gas would pay for a macro set at all (one empty macro: from then on gas looks every statement up as a
    possible macro, try_macro in gas/read.c), which the in-place route avoids."""
    one_macro = os.path.join(WORK, "one-macro.s")
    with open(one_macro, "w") as f:
        f.write(".macro __previrt_unused\n.endm\n")
    side_by_side("as: zstd.s after one empty macro (gas's floor)", ["as", "--64", asm, "-o", obj],
                 ["as", "--64", one_macro, asm, "-o", obj], 15)
    side_by_side("as: the in-place copy previrt-as writes", ["as", "--64", asm, "-o", obj],
                 ["as", "--64", rewritten_copy(asm, obj), "-o", obj], 15)
    # The same input without its sites: the scan alone, no copy written.
    no_sites = os.path.join(WORK, "zstd-no-sites.s")
    with open(asm) as f, open(no_sites, "w") as g:
        g.write("".join(l for l in f if "cpuid" not in l))
    env = dict(os.environ, PREVIRT_AS="/bin/true")
    # The same with a real assembler that only reads the pipe (cat): previrt-as's transfer included.
    reader = os.path.join(WORK, "reader.sh")
    with open(reader, "w") as f:
        f.write('#!/bin/sh\nfor a in "$@"; do case "$a" in /dev/fd/*) exec cat "$a" > /dev/null;; esac; done\n')
    os.chmod(reader, 0o755)
    transfer = cpu_time([DROP_IN, "--64", asm, "-o", obj], 15, dict(os.environ, PREVIRT_AS=reader))
    own = cpu_time([DROP_IN, "--64", asm, "-o", obj], 15, env)
    scan = cpu_time([DROP_IN, "--64", no_sites, "-o", obj], 15, env)
    start = cpu_time([DROP_IN, "--64", tiny, "-o", obj], 41, env)
    true = cpu_time(["/bin/true"], 41)
    print(f"{'previrt-as alone (PREVIRT_AS=/bin/true), zstd.s':<46} {own*1000:9.1f} ms")
    print(f"{'  the same without its 10 sites (no copy)':<46} {scan*1000:9.1f} ms")
    print(f"{'previrt-as, zstd.s, its pipe read by cat':<46} {transfer*1000:9.1f} ms")
    print(f"{'previrt-as alone (PREVIRT_AS=/bin/true), 2 lines':<46} {start*1000:9.1f} ms   (/bin/true alone {true*1000:.1f} ms)")


def main():
    src = fetch_zstd()
    if "--fetch-only" in sys.argv:
        return
    asm = os.path.join(WORK, "zstd.s")
    if not os.path.exists(asm):
        subprocess.run(["gcc", "-O2", "-S", src, "-o", asm], check=True, cwd=os.path.dirname(src))
    tiny = os.path.join(WORK, "tiny.s")
    with open(tiny, "w") as f:
        f.write("\t.text\n\tnop\n\tret\n")
    obj = os.path.join(WORK, "out.o")
    print(f"input: zstd.c {os.path.getsize(src)/1e6:.1f} MB of C, gcc -O2 -S -> {os.path.getsize(asm)/1e6:.1f} MB of assembly")
    dropin_plain, dropin = side_by_side("previrt-as (scan, sites written in place)", ["as", "--64", asm, "-o", obj],
                                        [DROP_IN, "--64", asm, "-o", obj], 15)
    if "--previrt-as-only" in sys.argv or "--assembler-only" in sys.argv:
        drop_in_breakdown(asm, tiny, obj)
        if "--previrt-as-only" in sys.argv:
            print(f"target: previrt-as <= 1.05x plain as (measured {dropin/dropin_plain:.3f}x)")
            return
    as_plain, as_macros = side_by_side("as: zstd.s (gcc -O2 output)", ["as", "--64", asm, "-o", obj],
                        ["as", "--64", MACROS, asm, "-o", obj], 15)
    side_by_side("as: zstd.s, floor (bare mov/push/pop wraps)", ["as", "--64", asm, "-o", obj],
                 ["as", "--64", floor_macro_set(), asm, "-o", obj], 15)
    if "--assembler-only" in sys.argv:
        side_by_side("as: zstd.s, bound (floor + .ifdef + .linefile)", ["as", "--64", asm, "-o", obj],
                     ["as", "--64", bound_macro_set(), asm, "-o", obj], 15)
    side_by_side("as: a 2-line file (start-up cost)", ["as", "--64", tiny, "-o", obj],
                 ["as", "--64", MACROS, tiny, "-o", obj], 41)
    if "--assembler-only" in sys.argv:
        print(f"targets: previrt-as <= 1.05x plain as (measured {dropin/dropin_plain:.3f}x), "
              f"-Wa route <= 1.80x (measured {as_macros/as_plain:.3f}x)")
        return
    cc_plain, cc_macros = side_by_side("gcc -O2 -c zstd.c", ["gcc", "-O2", "-c", src, "-o", obj],
                                       ["gcc", "-O2", "-c", "-Wa," + MACROS, src, "-o", obj], 5)
    # The compiler proper does the same work on both sides; only as differs. Its CPU time varies by
    # about 2% between runs, which hides a 1% effect: so also add the as times measured above to the
    # time of gcc -S (cc1 alone).
    cc1 = statistics.median(timed(["gcc", "-O2", "-S", src, "-o", os.path.join(WORK, "again.s")]) for _ in range(3))
    composed = (cc1 + as_macros) / (cc1 + as_plain)
    print(f"{'gcc -O2 -S zstd.c (the compiler proper)':<46} {cc1*1000:9.1f} ms; cc1 + as: ratio {composed:5.3f}x")
    print(f"target: previrt-as <= 1.05x plain as (measured {dropin/dropin_plain:.3f}x)")
    print(f"targets: -Wa route <= 1.80x (measured {as_macros/as_plain:.2f}x), "
          f"whole compile <= 1.02x (measured {cc_macros/cc_plain:.3f}x directly, {composed:.3f}x from its parts)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""previrt inspect --verify --coverage versus objdump -d on the same large static executable; and
previrt inspect's time per site in relocatable objects of 1k, 10k and 100k sites (it must stay flat:
each site is found through its relocation, looked up by offset once per note).

The executable: the zstd amalgamation (built with the x86_64 macro set) and a small main, linked
statically with glibc (not annotated: its sensitive instructions are real coverage findings). Both
tools decode every executable byte with libopcodes. Findings are compared: the sensitive
instructions objdump prints at addresses that are not site instructions must be exactly the ones
previrt reports.
"""
import json, os, re, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, ".build", "bench")
PREVIRT = os.path.join(ROOT, ".build", "release", "previrt")
MACROS = os.path.join(ROOT, "Macros", "previrt-x86_64.s")


def cpu(cmd):
    with open(os.devnull, "w") as null:
        proc = subprocess.Popen(cmd, stdout=null)
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return usage.ru_utime + usage.ru_stime


def build_executable():
    exe = os.path.join(WORK, "zstd-static")
    if os.path.exists(exe):
        return exe
    src = os.path.join(WORK, "zstd", "zstd.c")
    if not os.path.exists(src):
        subprocess.run([sys.executable, os.path.join(ROOT, "Benchmarks", "assemble.py"), "--fetch-only"], check=True)
    main = os.path.join(WORK, "main.c")
    with open(main, "w") as f:
        f.write('#include <stdio.h>\n#include "zstd.h"\nint main(void){printf("%u\\n", ZSTD_versionNumber());return 0;}\n')
    objs = []
    for c in (src, main):
        o = os.path.join(WORK, os.path.basename(c) + ".o")
        subprocess.run(["gcc", "-O2", "-c", "-Wa," + MACROS, "-I", os.path.dirname(src), c, "-o", o], check=True)
        objs.append(o)
    subprocess.run(["gcc", "-static", "-o", exe] + objs, check=True)
    return exe


def catalog_rules():
    kinds = json.loads(subprocess.run([PREVIRT, "catalog", "--json"], check=True, capture_output=True, text=True).stdout)
    default = [k for k in kinds if "default" in k["profiles"]]
    overloaded = {"mov", "movw", "movl", "movq", "push", "pushw", "pushl", "pushq", "pop", "popw", "popl", "popq"}
    always = {s: k["name"] for k in default for s in k["spellings"] if s not in overloaded}
    return always


SEG = {"%es", "%cs", "%ss", "%ds", "%fs", "%gs"}


def objdump_kind(text, always):
    words = text.split("#")[0].split()
    while len(words) > 1 and (words[0] in {"rep", "repz", "repnz", "repe", "repne", "lock", "data16", "addr32", "cs", "ds", "es",
                                            "ss", "fs", "gs", "notrack", "bnd"} or words[0].startswith("rex")):
        words = words[1:]
    if not words:
        return None
    m, ops = words[0], "".join(words[1:])
    parts = re.split(r",(?![^(]*\))", ops) if ops else []
    if m in always:
        if m == "int" and parts and parts[0] in ("$0x3", "$3"):
            return None
        return always[m]
    base = m if m in ("mov", "push", "pop") else m[:-1]
    if base == "mov" and len(parts) == 2:
        for i, what in ((1, "to"), (0, "from")):
            p = parts[i]
            if re.fullmatch(r"%cr\d+", p): return f"mov-{what}-cr"
            if re.fullmatch(r"%d[br]\d+", p): return f"mov-{what}-dr"
            if p in SEG: return f"mov-{what}-seg"
    if base in ("push", "pop") and len(parts) == 1 and parts[0] in SEG:
        return f"{base}-seg"
    return None


def sites_scaling():
    """Time per site of `previrt inspect` (listing, and --verify) on objects of 1k, 10k and 100k cli sites."""
    os.makedirs(WORK, exist_ok=True)
    rows = []
    # The fixed cost (start-up, libbfd, catalog): an object with one site, subtracted before dividing.
    for n in (1, 1_000, 10_000, 100_000):
        src = os.path.join(WORK, f"sites-{n}.s")
        obj = os.path.join(WORK, f"sites-{n}.o")
        if not os.path.exists(obj):
            with open(src, "w") as f:
                f.write(f".text\nf:\n.rept {n}\ncli\n.endr\n")
            subprocess.run(["as", "--64", MACROS, src, "-o", obj], check=True)
        runs = 5 if n < 100_000 else 3
        listing = statistics.median(cpu([PREVIRT, "inspect", "--json", obj]) for _ in range(runs))
        verify = statistics.median(cpu([PREVIRT, "inspect", "--verify", "--json", obj]) for _ in range(runs))
        rows.append((n, listing, verify))
    (_, base_listing, base_verify), rows = rows[0], rows[1:]
    per = [(n, max(0.0, l - base_listing) / n, max(0.0, v - base_verify) / n) for n, l, v in rows]
    print(f"fixed cost (1 site): inspect {base_listing*1000:.1f} ms, --verify {base_verify*1000:.1f} ms; per site: after subtracting it")
    print(f"{'sites in one .o':<16} {'inspect':>12} {'per site':>10} {'--verify':>12} {'per site':>10}")
    for (n, listing, verify), (_, pl, pv) in zip(rows, per):
        print(f"{n:<16} {listing*1000:9.1f} ms {pl*1e6:7.2f} us {verify*1000:9.1f} ms {pv*1e6:7.2f} us")
    print(f"per-site time, 100k over 10k: inspect {per[2][1]/per[1][1]:.2f}x, --verify {per[2][2]/per[1][2]:.2f}x "
          f"(target: flat, <= 1.5x; quadratic would be 10x)")


def main():
    if "--sites-only" in sys.argv:
        sites_scaling()
        return
    sites_scaling()
    exe = build_executable()
    size = sum(int(l.split()[1]) for l in subprocess.run(["size", "-A", exe], capture_output=True, text=True).stdout.splitlines()
               if l.startswith(".text"))
    print(f"input: {os.path.basename(exe)}, {os.path.getsize(exe)/1e6:.1f} MB, .text {size/1e6:.2f} MB (zstd with the macro set, glibc without)")
    runs = 7
    ob, pv = [], []
    for _ in range(runs):
        ob.append(cpu(["objdump", "-d", exe]))
        pv.append(cpu([PREVIRT, "inspect", "--verify", "--coverage", "--json", exe]))
    o, p = statistics.median(ob), statistics.median(pv)
    print(f"{'objdump -d':<46} {o*1000:9.1f} ms")
    print(f"{'previrt inspect --verify --coverage':<46} {p*1000:9.1f} ms   ratio {p/o:5.2f}x objdump   ({runs} runs each, median CPU time)")

    report = json.loads(subprocess.run([PREVIRT, "inspect", "--verify", "--coverage", "--json", exe], capture_output=True, text=True).stdout)
    f = report["files"][0]
    sites = {s["address"] + (s["site_len"] - s["insn_len"] if "padding-precedes" in s["flags"] else 0) for s in f["sites"]}
    ours = {(u["address"], u["kind"]) for u in f["unannotated"]}
    always = catalog_rules()
    theirs = set()
    dump = subprocess.run(["objdump", "-d", "--no-show-raw-insn", exe], capture_output=True, text=True).stdout
    for line in dump.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(.*)$", line)
        if not m:
            continue
        kind = objdump_kind(m.group(2), always)
        if kind and int(m.group(1), 16) not in sites:
            theirs.add((int(m.group(1), 16), kind))
    ok = [s for s in f["sites"] if s["status"] == "ok"]
    print(f"sites: {len(f['sites'])} ({len(ok)} verified); unannotated: previrt {len(ours)}, from objdump's text {len(theirs)}; "
          f"identical: {'yes' if ours == theirs else 'NO'}")
    if ours != theirs:
        print("  only previrt:", sorted(ours - theirs)[:10])
        print("  only objdump:", sorted(theirs - ours)[:10])
    print(f"target: <= 0.50x objdump with identical findings (measured {p/o:.2f}x, {'identical' if ours == theirs else 'different'})")


if __name__ == "__main__":
    main()

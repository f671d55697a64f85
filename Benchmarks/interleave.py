#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shell commands side by side: RUNS interleaved runs of each (a, b, c, a, b, c, ...), then the median
CPU time (user + system, the command's children included) and system time of each, and its ratio to the
first. Used to compare two builds of previrt-as on the shared machine (Docs/benchmarks.md):

    taskset -c 0 python3 Benchmarks/interleave.py 31 "as=as --64 zstd.s -o p.o" \\
        "old=/path/to/old/previrt-as --64 zstd.s -o o.o" "new=.build/release/previrt-as --64 zstd.s -o n.o"
"""
import os, statistics, subprocess, sys

runs = int(sys.argv[1])
commands = [a.split("=", 1) for a in sys.argv[2:]]
times = {label: ([], []) for label, _ in commands}
for _ in range(runs):
    for label, command in commands:
        p = subprocess.Popen(command, shell=True, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        if status != 0:
            raise SystemExit(f"failed: {command}")
        times[label][0].append(usage.ru_utime + usage.ru_stime)
        times[label][1].append(usage.ru_stime)
first = None
for label, _ in commands:
    cpu, system = statistics.median(times[label][0]), statistics.median(times[label][1])
    first = first or cpu
    print(f"{label:<12} cpu {cpu*1000:8.2f} ms  sys {system*1000:7.2f} ms  ratio {cpu/first:.3f}")
print("load average", " ".join(f"{x:.1f}" for x in os.getloadavg()))

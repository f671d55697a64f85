#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Linux-on-Linux, side by side (issue 10): one benchmark program (Kernel/userland/bench.c) run as init
under (a) `previrt run`, with the VMM's default address-space pool and with --address-spaces 1 (one host
process swaps every guest process's pages: the VMM before the pool), (b) User-Mode Linux (Debian's linux.uml, x86_64 guests, so the x86_64 build),
(c) qemu-system-i386 TCG with the PVH vmlinux, and natively on the host as an ordinary process. Every run
is pinned to one CPU (taskset -c 0); the runs are interleaved, and each figure is the median over them.

Boot to init is wall time from starting the platform to the benchmark's first line ("previrt bench:
start"); whole run is wall time to the platform's exit. `previrt run` gets "does not boot yet" until
it prints that first line within its timeout. Then the host's bare costs (Benchmarks/linux/hostcost.c).

Usage: python3 Benchmarks/linux/bench.py [--runs N] [--address-spaces N] [--only NAME,...]
(make linux-bench builds the inputs first; --only previrt,previrt-1 runs just those columns)
"""
import argparse, os, select, shutil, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
USERLAND = os.path.join(ROOT, ".build", "userland")
PREFIX = "previrt bench: "
FIGURES = [("boot_s", "boot to init", "s"), ("getppid_us", "getppid", "us"), ("fork_us", "fork+exit+wait", "us"),
           ("fault_us", "page fault, fresh anonymous", "us"), ("pipe_us", "pipe round trip", "us"),
           ("cpu_ms", "CPU-bound loop (sieve)", "ms"), ("total_s", "whole run", "s")]
APPEND = "panic=-1 rdinit=/bench"


def run_platform(cmd, timeout, env=None):
    """Runs cmd (pinned); returns the figures, or None if the benchmark's first line never came."""
    start = time.monotonic()
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)
    figures, buffer, lines = {}, b"", []
    deadline = start + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            proc.kill()
            break
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buffer += chunk
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            line = raw.decode("utf-8", "replace").replace("\r", "")
            lines.append(line)
            at = line.find(PREFIX)
            if at < 0:
                continue
            words = line[at + len(PREFIX):].split()
            if words[:1] == ["start"] and "boot_s" not in figures:
                figures["boot_s"] = time.monotonic() - start
            elif len(words) >= 2 and words[0] in dict((f[0], f) for f in FIGURES):
                figures[words[0]] = float(words[1])
    proc.wait()
    figures["total_s"] = time.monotonic() - start
    if "boot_s" not in figures:
        return None, lines
    missing = [f[0] for f in FIGURES if f[0] not in figures]
    if missing:
        raise SystemExit(f"linux bench: {' '.join(cmd)}: no {', '.join(missing)}; its output ended with:\n" + "\n".join(lines[-20:]))
    return figures, lines


def make(*targets):
    subprocess.run(["make", "-s", "-C", ROOT] + list(targets), check=True)


def guest_kernel():
    out = subprocess.run([os.path.join(ROOT, "Kernel", "build-guest.sh")], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def uml_binary():
    uml = shutil.which("linux.uml")
    if uml:
        return uml
    print("linux bench: User-Mode Linux (linux.uml) is missing: installing Debian's user-mode-linux package", flush=True)
    if os.geteuid() != 0:
        print("linux bench: not root: run apt-get install user-mode-linux; the UML column is skipped", flush=True)
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    ok = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "user-mode-linux"], env=env).returncode == 0
    return shutil.which("linux.uml") if ok else None


def previrt_binary():
    for config in ("release", "debug"):
        path = os.path.join(ROOT, ".build", config, "previrt")
        if os.path.exists(path):
            return path
    return None


def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.0f} ms"
    return f"{value:.3f} us" if value < 10 else f"{value:.1f} us"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--address-spaces", type=int, default=None, help="the pool's size for the previrt column (default: the VMM's)")
    parser.add_argument("--only", default=None, help="comma-separated columns to run (native, previrt, previrt-1, uml, qemu)")
    args = parser.parse_args()
    make(".build/userland/initramfs-i386.cpio", ".build/userland/initramfs-x86_64.cpio", ".build/userland/hostcost",
         ".build/userland/i386/bench", ".build/userland/uml-xstate.so")
    vmlinux = guest_kernel()
    i386_cpio = os.path.join(USERLAND, "initramfs-i386.cpio")
    x86_64_cpio = os.path.join(USERLAND, "initramfs-x86_64.cpio")

    platforms = {
        "native": (["env", "--", os.path.join(USERLAND, "i386", "bench")], None, 60),
        "qemu": (["qemu-system-i386", "-m", "256", "-display", "none", "-no-reboot", "-serial", "stdio", "-monitor", "none",
                  "-kernel", vmlinux, "-initrd", i386_cpio, "-append", "console=ttyS0 " + APPEND], None, 300),
    }
    previrt = previrt_binary()
    if previrt:
        # 128 MiB: the linux-user VMM's guest RAM is at most 144 MiB (Docs/linux-on-linux.md, Limits).
        common = ["--memory", "128", "--timeout", "100", "--initrd", i386_cpio, "--append", "console=ttyS0 idle=halt " + APPEND, vmlinux]
        pool = ["--address-spaces", str(args.address_spaces)] if args.address_spaces else []
        platforms["previrt"] = ([previrt, "run"] + pool + common, None, 120)
        platforms["previrt-1"] = ([previrt, "run", "--address-spaces", "1"] + common, None, 120)
    uml = uml_binary() if not args.only or "uml" in args.only.split(",") else None
    if uml:
        # linux.uml 6.1 on a host with AVX-512/AMX needs the XSAVE shim (Benchmarks/linux/uml-xstate.c).
        env = dict(os.environ, LD_PRELOAD=os.path.join(USERLAND, "uml-xstate.so"))
        platforms["uml"] = ([uml, "mem=256M", f"initrd={x86_64_cpio}", "con=null", "con0=fd:0,fd:1", APPEND], env, 300)

    if args.only:
        platforms = {name: value for name, value in platforms.items() if name in args.only.split(",")}
    results = {name: [] for name in platforms}
    status = {name: None for name in platforms}
    for r in range(args.runs):
        for name, (cmd, env, timeout) in platforms.items():
            if status[name] is not None:
                continue
            figures, lines = run_platform(cmd, timeout if r or not name.startswith("previrt") else 60, env)
            if figures is None:
                status[name] = "does not boot yet" if name.startswith("previrt") else "failed"
                tail = "\n    ".join(lines[-5:])
                print(f"linux bench: {name}: the benchmark's first line did not appear; last lines:\n    {tail}", flush=True)
                continue
            results[name].append(figures)

    def median(name, key):
        values = [f[key] for f in results[name]]
        return statistics.median(values) if values else None

    pool_title = f"previrt, {args.address_spaces} spaces" if args.address_spaces else "previrt run"
    columns = [("native", "native i386"), ("previrt", pool_title), ("previrt-1", "previrt, 1 space"), ("uml", "UML 6.1 (x86_64)"),
               ("qemu", "QEMU TCG")]
    load = os.getloadavg()
    print(f"\nLinux-on-Linux: Kernel/userland/bench.c as init, pinned to CPU 0; medians of {args.runs} interleaved runs "
          f"(load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f})")
    header = (f"{'figure':30} " + " ".join(f"{title:>17}" for _, title in columns)
              + f" {'1 space/pool':>13} {'UML/previrt':>12} {'QEMU/previrt':>13} {'QEMU/UML':>9}")
    print(header)
    for key, title, unit in FIGURES:
        cells = []
        for name, _ in columns:
            if name not in platforms:
                cells.append("not run" if args.only else "not installed" if name == "uml" else "not built")
            elif status[name] is not None and not results[name]:
                cells.append(status[name])
            else:
                value = median(name, key)
                cells.append("n/a" if name == "native" and key == "boot_s" else fmt(value, unit))
        p, p1, u, q = (median(n, key) if n in platforms and results[n] else None for n in ("previrt", "previrt-1", "uml", "qemu"))
        ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "not yet" if b is None and a else "-"
        print(f"{title:30} " + " ".join(f"{c:>17}" for c in cells)
              + f" {ratio(p1, p):>13} {ratio(u, p):>12} {ratio(q, p):>13} {ratio(q, u):>9}")

    host = [subprocess.run(["taskset", "-c", "0", os.path.join(USERLAND, "hostcost")], check=True, capture_output=True, text=True).stdout
            for _ in range(3)]
    figures = {}
    for out in host:
        for line in out.splitlines():
            words = line.split()
            if len(words) >= 4 and line.startswith("previrt host: "):
                try:
                    figures.setdefault(words[2], []).append(float(words[3]))
                except ValueError:
                    pass
    print("\nThe host's bare costs (Benchmarks/linux/hostcost.c, 32-bit, pinned; medians of 3 runs of best-of-5):")
    names = {"getppid_us": "native getppid", "fault_us": "native fault, fresh anonymous page",
             "segv_fill_us": "SIGSEGV + mmap(MAP_FIXED) fill of a memfd page", "signal_us": "signal to self, empty handler",
             "trap_us": "ud2 -> SIGILL -> handler steps over it", "sud_int80_us": "int $0x80 -> SIGSYS (Syscall User Dispatch)"}
    for key, title in names.items():
        value = statistics.median(figures[key]) if key in figures else None
        print(f"  {title:48} {fmt(value, 'us') if value is not None else 'unavailable'}")


if __name__ == "__main__":
    main()

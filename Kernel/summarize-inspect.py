#!/usr/bin/env python3
# Summarizes `previrt inspect --verify --coverage --stats --json vmlinux` for make kernel-check: sites
# by kind, what verified, which findings are expected (sites in code the kernel copies at run time)
# and which are not, and the unannotated sensitive instructions by kind.
# SPDX-License-Identifier: GPL-3.0-or-later
import collections
import json
import sys

report = json.load(open(sys.argv[1]))
for f in report["files"]:
    sites = f.get("sites", [])
    stats = f.get("stats", {})
    by_kind = sorted(stats.get("by_kind", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    print(f"stats: {stats.get('sites', len(sites))} sites, {stats.get('padding_bytes', 0)} bytes of padding"
          f" in {stats.get('code_bytes', 0)} bytes of code")
    print("by kind: " + ", ".join(f"{k} {n}" for k, n in by_kind))
    templates = {d["message"].split(": site ")[1].split(" ")[0] for d in f.get("diagnostics", [])
                 if d["code"] == "template" and ": site " in d["message"]}
    status = collections.Counter(s["status"] for s in sites)
    expected = [s for s in sites if s["status"] != "ok" and f"0x{s['address']:x}" in templates]
    failing = [s for s in sites if s["status"] != "ok" and s not in expected]
    print(f"{len(sites)} sites: {status['ok']} verified; {len(expected)} in run-time-copied templates (expected: "
          f"the kernel copies that code and runs the copy); {len(failing)} failing")
    for s in expected + failing:
        print(f"  {s['status']}: {s.get('symbol')}+0x{s.get('offset', 0):x} in {s.get('section')} ({s['kind']})")
    unannotated = collections.Counter(u["kind"] for u in f.get("unannotated", []))
    print(f"{sum(unannotated.values())} unannotated sensitive instructions"
          + (": " + ", ".join(f"{k} {n}" for k, n in unannotated.most_common()) if unannotated else ""))

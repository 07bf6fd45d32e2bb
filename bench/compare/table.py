#!/usr/bin/env python3
"""records.tsv (written by bench/compare.sh) -> the markdown tables, one per scenario.

A record: hosts, VMs/host, scenario, tool, status (ok|timeout|failed|not-converged),
comma-separated wall times in seconds, SSH execs per host ("min max" over hosts and runs, or -),
peak controller RSS in KiB (highest over the runs, or -)."""
import statistics
import sys

SCENARIOS = [
    ("no-op", "No-op (everything converged): domform plan · ansible-playbook --check --diff · pyinfra -y (a real run)"),
    ("first-apply", "First apply (from empty hosts, reset before each run)"),
    ("drift", "Drift (one vm.cfg's memory on h1 changed by hand before each run; the tool repairs it)"),
]
TOOLS = ["domform", "ansible", "pyinfra"]

rec = {}
for line in open(sys.argv[1]):
    h, v, scen, tool, status, times, execs, rss = line.rstrip("\n").split("\t")
    ts = [float(t) for t in times.split(",") if t]
    rec[(int(h), int(v), scen, tool)] = (status, ts, execs, rss)


def med(r):
    return statistics.median(r[1]) if r and r[0] == "ok" and r[1] else None


def cell(r):
    if r is None:
        return "not run"
    status, ts, _, _ = r
    if status == "timeout":
        return f"> {ts[-1]:.0f} s (timeout)"
    if status != "ok":
        return status
    m = statistics.median(ts)
    return f"{m:.3f} s ({len(ts)})" if m < 10 else f"{m:.1f} s ({len(ts)})"


def ratio(a, b, ra=None):
    if ra is not None and ra[0] == "timeout" and b:
        return f"> {ra[1][-1] / b:.0f}x"
    return f"{a / b:.1f}x" if a is not None and b else "-"


def execs(r):
    if r is None or r[2] in ("-", ""):
        return "-"
    lo, hi = r[2].split()
    return lo if lo == hi else f"{lo}–{hi}"


def rss(r):
    return "-" if r is None or r[3] in ("-", "") else f"{int(r[3]) // 1024}"


sizes = sorted({(h, v) for h, v, _, _ in rec}, key=lambda x: (x[1], x[0]))
for scen, title in SCENARIOS:
    if not any(s == scen for _, _, s, _ in rec):
        continue
    noop = scen == "no-op"
    print(f"### {title}\n")
    head = ["hosts", "VMs/host", "domform", "Ansible", "pyinfra"] + (["floor"] if noop else [])
    head += ["Ansible ÷ domform", "pyinfra ÷ domform"] + (["domform ÷ floor"] if noop else [])
    head += ["SSH execs/host: domform · Ansible · pyinfra", "peak RSS MiB: domform · Ansible · pyinfra"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for h, v in sizes:
        rs = {t: rec.get((h, v, scen, t)) for t in TOOLS + ["floor"]}
        if not any(rs.values()):
            continue
        d = med(rs["domform"])
        row = [str(h), str(v)] + [cell(rs[t]) for t in TOOLS] + ([cell(rs["floor"])] if noop else [])
        row += [ratio(med(rs["ansible"]), d, rs["ansible"]), ratio(med(rs["pyinfra"]), d, rs["pyinfra"])]
        if noop:
            row += [ratio(d, med(rs["floor"]))]
        row += [" · ".join(execs(rs[t]) for t in TOOLS), " · ".join(rss(rs[t]) for t in TOOLS)]
        print("| " + " | ".join(row) + " |")
    print()
print("Times: median wall time of (n) runs. Execs: SSH sessions per host (min–max over hosts and runs).")

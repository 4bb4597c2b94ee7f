#!/usr/bin/env python3
"""make bench: summarise RESULTS (from run1.py) and print ratios against targets.

    report.py RESULTS table LABEL...          # median wall, cpu, max RSS per label
    report.py RESULTS ratio NAME A B TARGET   # median(A) / median(B) vs TARGET (<=; - for none)
    report.py RESULTS rss NAME A TARGET       # max peak RSS of A (MiB) vs TARGET (<=)
    report.py RESULTS value NAME TEXT         # a figure computed elsewhere

Ratios and checks are also appended to RESULTS.summary for the final table.
"""
import statistics
import sys

path, what, args = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = {}
with open(path) as f:
    for line in f:
        label, wall, cpu, rss = line.rstrip("\n").split("\t")
        rows.setdefault(label, []).append((float(wall), float(cpu), float(rss)))


def med(label, i=0):
    if label not in rows:
        sys.exit(f"bench: no result for {label!r}")
    return statistics.median(r[i] for r in rows[label])


def summary(line):
    print(line)
    with open(path + ".summary", "a") as f:
        f.write(line + "\n")


if what == "table":
    w = max(len(a) for a in args) + 2
    print(f"  {'':{w}}{'wall s (median)':>16}{'min':>8}{'max':>8}{'cpu s':>8}{'peak RSS MiB':>14}{'runs':>6}")
    for label in args:
        r = rows.get(label)
        if not r:
            print(f"  {label:{w}}{'(not run)':>16}")
            continue
        walls = [x[0] for x in r]
        print(
            f"  {label:{w}}{med(label):16.3f}{min(walls):8.3f}{max(walls):8.3f}"
            f"{med(label, 1):8.2f}{max(x[2] for x in r):14.1f}{len(r):6d}"
        )
elif what == "ratio":
    name, a, b, target = args
    ratio = med(a) / med(b)
    if target == "-":  # a figure, no target
        verdict = f"{'':30}"
    else:
        verdict = f"   target <= {target}x   {'met    ' if ratio <= float(target) else 'NOT met'}"
    summary(f"  {name:<56}{ratio:6.2f}x{verdict}   ({med(a):.3f}s / {med(b):.3f}s)")
elif what == "rss":
    name, a, target = args
    rss = max(x[2] for x in rows[a])
    ok = "met    " if rss <= float(target) else "NOT met"
    summary(f"  {name:<56}{rss:6.0f} MiB  target <= {target} MiB  {ok}")
elif what == "value":
    name, text = args
    summary(f"  {name:<56}{text}")
else:
    sys.exit(f"unknown report {what}")

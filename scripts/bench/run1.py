#!/usr/bin/env python3
"""make bench: run one command once and record it.

    run1.py RESULTS LABEL -- CMD...

Appends `LABEL<TAB>wall_s<TAB>cpu_s<TAB>peak_rss_mib` to RESULTS. wall is
monotonic time around the command; cpu is user+system of the command tree;
peak RSS is the largest resident set of any single process in the tree (wait4's
rusage covers the child and the descendants it reaped). stdout and stderr go to
RESULTS.log; a failing command fails the run.
"""
import os
import subprocess
import sys
import time

results, label = sys.argv[1], sys.argv[2]
assert sys.argv[3] == "--"
cmd = sys.argv[4:]
with open(results + ".log", "ab") as log:
    log.write(f"== {label}: {' '.join(cmd)}\n".encode())
    log.flush()
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
code = os.waitstatus_to_exitcode(status)
if code != 0:
    sys.exit(f"bench: {label} failed (exit {code}); see {results}.log")
with open(results, "a") as f:
    f.write(f"{label}\t{wall:.3f}\t{ru.ru_utime + ru.ru_stime:.3f}\t{ru.ru_maxrss / 1024:.1f}\n")

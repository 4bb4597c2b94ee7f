#!/usr/bin/env python3
"""make bench: N small, deterministic, chart-like directories for P2.

    gen-small.py DIR N

DIR/a000 .. DIR/a{N-1}: each holds `chart/` with Chart.yaml, values.yaml,
README.md and 8 templates, about 30-60 KiB of text in all.
"""
import os
import random
import sys

root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
words = "apiVersion kind metadata name labels spec template containers image ports value true false replicas selector".split()
for i in range(n):
    base = os.path.join(root, f"a{i:03d}", "chart")
    os.makedirs(os.path.join(base, "templates"), exist_ok=True)
    files = {"Chart.yaml": 300, "values.yaml": 6000, "README.md": 4000}
    files.update({f"templates/t{j}.yaml": rng.randint(1000, 6000) for j in range(8)})
    for name, size in files.items():
        text = []
        while sum(map(len, text)) < size:
            text.append(f"{'  ' * rng.randint(0, 3)}{rng.choice(words)}: {rng.choice(words)}{rng.randint(0, 999)}\n")
        p = os.path.join(base, name)
        with open(p, "w") as f:
            f.write(f"# artifact a{i:03d}\n" + "".join(text))
        os.utime(p, (1_700_000_000, 1_700_000_000))

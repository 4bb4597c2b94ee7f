#!/usr/bin/env python3
"""make bench: a deterministic, realistic directory tree for the sync benchmark (P1).

    gen-tree.py DIR MIB FILES

Writes about MIB MiB in FILES files under DIR/content, in nested directories
(3 levels, up to ~800 directories at full size). Sizes are log-normal (many
small files, a few large ones); about 55 % of the bytes are text-like (YAML,
JSON, Go, Markdown built from a word list: gzip gets ~3-4x) and 45 % are
incompressible (.bin/.png/.gz made of pseudo-random bytes). Same arguments,
same bytes: the output depends only on the fixed seed. Files get a fixed
mtime so the oras directory tarball is reproducible too.
"""
import math
import os
import random
import sys

root, mib, nfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(20240611)
total = mib << 20
text_share = 0.55
MTIME = 1_700_000_000

# Pools the files are cut from. Offsets are random, and gzip's window is 32 KiB,
# so files cut from a 64 MiB pool do not compress better than the pool itself.
words = [
    "apiVersion", "kind", "metadata", "name", "namespace", "spec", "template",
    "containers", "image", "resources", "limits", "memory", "cpu", "labels",
    "app", "kubernetes", "io", "selector", "matchLabels", "ports", "port",
    "targetPort", "protocol", "TCP", "func", "return", "err", "nil", "if",
    "for", "range", "package", "import", "string", "int", "type", "struct",
    "interface", "context", "Context", "the", "of", "and", "to", "a", "in",
    "is", "that", "for", "it", "with", "as", "on", "be", "by", "this",
    "value", "true", "false", "null", "description", "properties", "object",
    "array", "items", "required", "default", "enum", "format", "pattern",
]
words += ["w%x" % rng.getrandbits(20) for _ in range(400)]  # identifiers
seps = [" ", " ", " ", " ", "\n", ": ", ", ", "\n  ", "\n    - ", ".", "(", ")", " {\n\t", "\n}\n", '": "']
pool_text = "".join(
    rng.choice(words) + rng.choice(seps) for _ in range(1_600_000)
).encode()
pool_text = (pool_text * (64 * 2**20 // len(pool_text) + 1))[: 64 * 2**20]
pool_rand = rng.randbytes(64 * 2**20)

text_ext = [".yaml", ".json", ".go", ".md", ".txt", ".tpl"]
bin_ext = [".bin", ".png", ".gz", ".so"]

# Kinds and raw sizes, then scale each kind to its share of the bytes.
files = []
for i in range(nfiles):
    is_text = rng.random() < 0.8  # most files are text; binaries are fewer, larger
    raw = rng.lognormvariate(math.log(6_000 if is_text else 40_000), 1.3)
    files.append([is_text, raw])
for kind, share in ((True, text_share), (False, 1 - text_share)):
    s = sum(f[1] for f in files if f[0] == kind) or 1
    for f in files:
        if f[0] == kind:
            f[1] = min(int(f[1] * total * share / s), 32 * 2**20)

ndirs = max(1, nfiles // 25)
dirs = []
for d in range(ndirs):
    a, b, c = d % 8, (d // 8) % 10, d // 80
    dirs.append(os.path.join("content", f"pkg{a}", f"mod{b:02d}", f"part{c:03d}"))

written = 0
made = set()
for i, (is_text, size) in enumerate(files):
    d = os.path.join(root, dirs[rng.randrange(ndirs)])
    if d not in made:
        os.makedirs(d, exist_ok=True)
        made.add(d)
    pool = pool_text if is_text else pool_rand
    ext = rng.choice(text_ext if is_text else bin_ext)
    off = rng.randrange(len(pool) - size) if size < len(pool) else 0
    data = pool[off : off + size]
    while len(data) < size:  # files larger than the pool (not at the default size)
        data += pool[: size - len(data)]
    p = os.path.join(d, f"f{i:05d}{ext}")
    with open(p, "wb") as f:
        f.write(data)
    os.utime(p, (MTIME, MTIME))
    written += size
for dirpath, _, _ in os.walk(os.path.join(root, "content"), topdown=False):
    os.utime(dirpath, (MTIME, MTIME))
print(f"{nfiles} files, {written / 2**20:.0f} MiB, {len(made)} directories", file=sys.stderr)

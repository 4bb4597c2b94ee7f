#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the
test fixtures, deterministically: running it again rewrites the same bytes.

  config      tests/corpus/files/*.yml and examples/quickstart/vendir.yml
  lock        the lock documents written out in src/lock.rs and tests/*.rs
  reference   the image/url values of those configs, plus the reference
              shapes tests/ exercise (ports, digests, localhost, nesting)
  helm_index  index.yaml documents shaped as `helm repo index` writes them for
              the charts of tests/support/fixtures.rs
  tar, zip    archives of examples/quickstart/src and the hostile shapes of
              tests/sync_failures.rs and tests/sync_bombs.rs (.., absolute
              names, links out, devices, whiteouts, long, backslash and NUL
              names, an overlapping zip); the first byte of each seed is the
              target's option byte (src/fuzzing.rs)

usage: scripts/fuzz-seeds.py [--out DIR]
"""
import argparse
import gzip
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import tarfile
import zipfile
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def config_seeds(out):
    files = sorted(
        os.path.join(ROOT, "tests/corpus/files", f)
        for f in os.listdir(os.path.join(ROOT, "tests/corpus/files"))
        if f.endswith(".yml")
    )
    files.append(os.path.join(ROOT, "examples/quickstart/vendir.yml"))
    refs = set()
    for path in files:
        data = open(path, "rb").read()
        # The target's first byte picks --strict and --allow-outside-paths;
        # YAML's first byte is text, which leaves both off ('a' is 0x61: odd).
        write(out, "config", os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path), data)
        for m in re.finditer(rb"^\s*(?:-\s*)?(?:url|image):\s*['\"]?([^'\"\s#]+)", data, re.M):
            v = m.group(1).decode(errors="replace")
            if "://" not in v or v.startswith("oci://"):
                refs.add(v.removeprefix("oci://"))
    return refs


def rust_strings(text):
    """The double-quoted Rust string literals of `text`, unescaped."""
    for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"', text):
        s = m.group(1)
        yield re.sub(
            r"\\(n|t|\"|\\|')",
            lambda e: {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "'": "'"}[e.group(1)],
            s,
        )


def lock_seeds(out):
    seen = {}
    sources = [os.path.join(ROOT, "src/lock.rs")] + sorted(
        os.path.join(ROOT, "tests", f) for f in os.listdir(os.path.join(ROOT, "tests")) if f.endswith(".rs")
    )
    for path in sources:
        text = open(path, encoding="utf-8").read()
        for s in rust_strings(text):
            if "kind: LockConfig" in s and "{" not in s.replace("{}", ""):
                seen.setdefault(hashlib.sha256(s.encode()).hexdigest()[:16], s)
        # The module documentation's example lock (`//! ` lines).
        doc = re.search(r'let text = "\\\n((?://! .*\n)+?)//! ";', text)
        if doc:
            s = "".join(l[4:] + "\n" for l in doc.group(1).splitlines())
            seen.setdefault(hashlib.sha256(s.encode()).hexdigest()[:16], s)
    for key, s in sorted(seen.items()):
        write(out, "lock", key, s)


def reference_seeds(out, refs):
    refs |= {
        "ghcr.io/org/repo:v1.2.3",
        "localhost:5000/a/b/c@sha256:" + "0" * 64,
        "127.0.0.1:5000/bombs:zst",
        "[::1]:5000/x:latest",
        "docker.io/library/alpine:3.20@sha256:" + "a" * 64,
        "registry.example/ns/chart:1.0.0+build.1",
        "oci-layout:layout@sha256:" + "e" * 64,
        "r.io/x@sha512:" + "1" * 128,
    }
    for r in sorted(refs):
        write(out, "reference", hashlib.sha256(r.encode()).hexdigest()[:16], r)


INDEX = """apiVersion: v1
entries:
{entries}generated: "2026-01-01T00:00:00Z"
"""
ENTRY = """  - apiVersion: v2
    appVersion: "{app}"
    created: "2026-01-01T00:00:00Z"
    description: A Helm chart for tests
    digest: {digest}
    name: {name}
    type: application
    urls:
    - {name}-{version}.tgz
    version: {version}
"""


def helm_seeds(out):
    shapes = {
        "one": [("demo", "1.0.0", "1.0")],
        "versions": [("demo", "1.0.0", "1.0"), ("demo", "1.2.3", "1.2"), ("demo", "2.0.0-rc.1", "2.0")],
        "two-charts": [("demo", "0.1.0", "0.1"), ("other", "3.4.5", "v3")],
    }
    for key, charts in shapes.items():
        by_name = {}
        for name, version, app in charts:
            digest = hashlib.sha256(f"{name}-{version}".encode()).hexdigest()
            by_name.setdefault(name, []).append(ENTRY.format(name=name, version=version, app=app, digest=digest))
        entries = "".join(f"  {n}:\n" + "".join(reversed(v)) for n, v in sorted(by_name.items()))
        write(out, "helm_index", key, INDEX.format(entries=entries))
    write(out, "helm_index", "empty", "apiVersion: v1\nentries: {}\n")


def tar_bytes(entries, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for e in entries:
            info = tarfile.TarInfo(e["name"])
            info.mtime = 0
            info.mode = e.get("mode", 0o644)
            info.type = e.get("type", tarfile.REGTYPE)
            info.linkname = e.get("link", "")
            data = e.get("data", b"")
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            if "pax" in e:
                info.pax_headers = e["pax"]
            t.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return buf.getvalue()


def quickstart_entries():
    src = os.path.join(ROOT, "examples/quickstart/src")
    out = []
    for dirpath, dirnames, filenames in sorted(os.walk(src)):
        dirnames.sort()
        rel = os.path.relpath(dirpath, src)
        if rel != ".":
            out.append({"name": rel + "/", "type": tarfile.DIRTYPE, "mode": 0o755})
        for f in sorted(filenames):
            name = f if rel == "." else f"{rel}/{f}"
            out.append({"name": name, "data": open(os.path.join(dirpath, f), "rb").read()[:4096]})
    return out


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def zst(data):
    if not shutil.which("zstd"):
        return None
    return subprocess.run(["zstd", "-q", "-19", "-c"], input=data, capture_output=True, check=True).stdout


def tar_seeds(out):
    f = lambda name, data=b"x": {"name": name, "data": data}
    shapes = {
        "quickstart": quickstart_entries(),
        "dotdot": [f("ok.txt", b"ok"), f("../../../sentinel/evil.txt", b"evil")],
        "dotdot-inner": [f("a/../../escape.txt")],
        "absolute": [f("/tmp/abs.txt")],
        "symlink-out-then-write": [
            {"name": "esc", "type": tarfile.SYMTYPE, "link": "../../../sentinel"},
            f("esc/through.txt"),
        ],
        "symlink-inside": [f("a/keep.txt"), {"name": "a/up", "type": tarfile.SYMTYPE, "link": ".."}, f("a/up/x.txt")],
        "symlink-abs": [{"name": "l", "type": tarfile.SYMTYPE, "link": "/etc/passwd"}],
        "hardlink": [f("a.txt", b"a"), {"name": "h", "type": tarfile.LNKTYPE, "link": "a.txt"}],
        "hardlink-out": [{"name": "hl", "type": tarfile.LNKTYPE, "link": "../../x"}],
        "devices": [f("ok.txt"), {"name": "pipe", "type": tarfile.FIFOTYPE}, {"name": "chr", "type": tarfile.CHRTYPE}],
        "whiteouts": [f("a/keep.txt"), f("a/.wh.gone"), f("a/.wh..wh..opq")],
        "within-d": [f("d/x.txt"), f("other.txt")],
        "long-name": [f("d" * 300 + "/f")],
        "backslash": [f("..\\..\\pwn.txt")],
        "nul-pax": [{"name": "placeholder", "data": b"x", "pax": {"path": "a\0b"}}],
        "escape-seq": [f("\x1b[31mRED\x1b[0m/../../x")],
        "modes": [{"name": "suid", "data": b"x", "mode": 0o4755}, {"name": "private", "data": b"x", "mode": 0o600}],
    }
    for key, entries in sorted(shapes.items()):
        fmt = tarfile.PAX_FORMAT if any("pax" in e for e in entries) else tarfile.GNU_FORMAT
        t = tar_bytes(entries, fmt)
        flags = b"\x01" if key == "within-d" else b"\x00"
        write(out, "tar", key, flags + t)
        write(out, "tar", key + ".tgz", flags + gz(t))
        if key in ("quickstart", "dotdot", "symlink-out-then-write"):
            z = zst(t)
            if z is not None:
                write(out, "tar", key + ".tzst", flags + z)
    # A bomb in miniature: 2 MiB of zeros (the target's ratio floor is 1 MiB).
    write(out, "tar", "bomb.tgz", b"\x00" + gz(tar_bytes([f("bomb.bin", bytes(2 << 20))])))


def zip_bytes(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, method in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = (0o40755 if name.endswith("/") else 0o100644) << 16
            z.writestr(info, data)
    return buf.getvalue()


def overlapping_zip(copies):
    """tests/sync_bombs.rs's non-recursive zip bomb, 64 KiB instead of 1 MiB."""
    data = bytes(64 << 10)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = c.compress(data) + c.flush()
    crc = zlib.crc32(data)
    common = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0x21, crc, len(deflated), len(data))
    out = b"PK\x03\x04" + common + struct.pack("<HH", 1, 0) + b"a" + deflated
    cd = b""
    for i in range(copies):
        name = f"f{i:04}".encode()
        cd += b"PK\x01\x02" + struct.pack("<H", 0x031E) + common
        cd += struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0o100644 << 16, 0) + name
    eocd = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, copies, copies, len(cd), len(out), 0)
    return out + cd + eocd


def zip_seeds(out):
    D, S = zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED
    q = [(e["name"], e.get("data", b""), D) for e in quickstart_entries()]
    shapes = {
        "quickstart": q,
        "stored": [("a.txt", b"alpha", S), ("d/", b"", S), ("e/f/g.txt", b"deep", S)],
        "dotdot": [("../evil", b"x", D)],
        "absolute": [("/abs", b"x", D)],
        "backslash": [("..\\..\\pwn.txt", b"x", D)],
        "nul": [("a\0b", b"x", D)],
        "escape-seq": [("\x1b[31mRED\x1b[0m/../../x", b"x", D)],
        "bomb": [("bomb.bin", bytes(2 << 20), D)],
    }
    for key, entries in sorted(shapes.items()):
        write(out, "zip", key, b"\x00" + zip_bytes(entries))
    write(out, "zip", "overlapping", b"\x00" + overlapping_zip(16))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "fuzz/corpus"))
    args = ap.parse_args()
    for target in ("config", "lock", "reference", "helm_index", "tar", "zip"):
        shutil.rmtree(os.path.join(args.out, target), ignore_errors=True)
    refs = config_seeds(args.out)
    lock_seeds(args.out)
    reference_seeds(args.out, refs)
    helm_seeds(args.out)
    tar_seeds(args.out)
    zip_seeds(args.out)
    for target in sorted(os.listdir(args.out)):
        d = os.path.join(args.out, target)
        n = len(os.listdir(d))
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"{target}: {n} seeds, {size} bytes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Builds examples/quickstart/layout, a small OCI image layout, from src/.

Reproducible: entries sorted, mtimes/uids zeroed, gzip header without a
timestamp. Layers:
  1. an untitled Flux content layer (tar+gzip of src/manifests, entries
     relative to it), media type application/vnd.cncf.flux.content.v1.tar+gzip;
  2. src/NOTICE as an oras-style titled file (application/vnd.oci.image.layer.v1.tar).
Tagged v1.0.0 in index.json. Run it after changing src/; commit the result.
"""
import gzip, hashlib, io, json, os, shutil, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")
OUT = os.path.join(HERE, "layout")


def tar_gz(root):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                info = tar.gettarinfo(path, arcname=os.path.relpath(path, root))
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                info.mode = 0o644
                with open(path, "rb") as f:
                    tar.addfile(info, f)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def blob(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = os.path.join(OUT, "blobs", "sha256", digest.split(":")[1])
    with open(path, "wb") as f:
        f.write(data)
    return {"digest": digest, "size": len(data)}


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(os.path.join(OUT, "blobs", "sha256"))
    config = blob(json.dumps({"source": "examples/quickstart"}, sort_keys=True).encode())
    manifests = blob(tar_gz(os.path.join(SRC, "manifests")))
    with open(os.path.join(SRC, "NOTICE"), "rb") as f:
        notice = blob(f.read())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.cncf.flux.config.v1+json", **config},
        "layers": [
            {"mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip", **manifests},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", **notice,
             "annotations": {"org.opencontainers.image.title": "NOTICE"}},
        ],
        "annotations": {"org.opencontainers.image.source": "examples/quickstart"},
    }
    m = blob(json.dumps(manifest, indent=2, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **m,
                       "annotations": {"org.opencontainers.image.ref.name": "v1.0.0"}}],
    }
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
    with open(os.path.join(OUT, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print("built", OUT, "manifest", m["digest"])


if __name__ == "__main__":
    main()

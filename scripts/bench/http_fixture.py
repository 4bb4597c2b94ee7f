#!/usr/bin/env python3
"""make bench (http.sh): a loopback server for the http and githubRelease benches.

    http_fixture.py DIR N PORTFILE

Writes N tar+gzip archives (a few hundred files and ~1 MiB each, deterministic) to
DIR/files/pkgNN.tgz, then serves on 127.0.0.1 (port written to PORTFILE):
  /files/pkgNN.tgz                                 the archives (Content-Length, no ranges)
  /repos/bench/rNN/releases/tags/v1.0.0            a release whose notes list the asset's sha256
  /repos/bench/rNN/releases/assets/NN              with Accept: octet-stream, 302 to the download
  /bench/rNN/releases/download/v1.0.0/pkg.tgz      the asset bytes
Requests are counted per path prefix in DIR/requests.log (one line each).
Every 200 carries an ETag (a hash of the body), and a GET whose If-None-Match names
it is answered 304 Not Modified without a body (as GitHub's API and most static
servers do); each 304 is also written to DIR/not-modified.log.
"""
import hashlib
import http.server
import io
import json
import os
import random
import sys
import tarfile
import threading

root, n, portfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
files = os.path.join(root, "files")
os.makedirs(files, exist_ok=True)
blobs = {}
for i in range(n):
    path = os.path.join(files, f"pkg{i:02d}.tgz")
    if not os.path.exists(path):
        rnd = random.Random(i)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
            for j in range(200):
                text = (f"file {j} of package {i}\n" * rnd.randint(20, 200)).encode()
                if j % 10 == 0:
                    text += rnd.randbytes(16 << 10)
                info = tarfile.TarInfo(f"pkg/d{j % 8}/f{j:03d}.txt")
                info.size = len(text)
                info.mtime = 0
                tar.addfile(info, io.BytesIO(text))
        with open(path, "wb") as f:
            f.write(buf.getvalue())
    with open(path, "rb") as f:
        blobs[i] = f.read()

log_lock = threading.Lock()
log = open(os.path.join(root, "requests.log"), "a")
not_modified = open(os.path.join(root, "not-modified.log"), "a")


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/octet-stream", headers=()):
        if code == 200:
            etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
            headers = tuple(headers) + (("ETag", etag),)
            wanted = [v.strip() for v in self.headers.get("If-None-Match", "").split(",")]
            if etag in wanted:
                with log_lock:
                    not_modified.write(self.path + "\n")
                    not_modified.flush()
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with log_lock:
            log.write(self.path + "\n")
            log.flush()
        p = self.path.split("?")[0].strip("/").split("/")
        base = f"http://{self.headers.get('Host')}"
        if len(p) == 2 and p[0] == "files" and p[1].startswith("pkg"):
            i = int(p[1][3:5])
            return self.send(200, blobs[i])
        if len(p) >= 5 and p[0] == "repos" and p[1] == "bench":
            i = int(p[2][1:])
            slug = f"bench/r{i:02d}"
            if p[3:] == ["releases", "tags", "v1.0.0"] or p[3:] == ["releases", str(1000 + i)]:
                data = blobs[i]
                rel = {
                    "url": f"{base}/repos/{slug}/releases/{1000 + i}",
                    "id": 1000 + i,
                    "tag_name": "v1.0.0",
                    "body": f"```\n{hashlib.sha256(data).hexdigest()}  pkg.tgz\n```\n",
                    "assets": [{
                        "url": f"{base}/repos/{slug}/releases/assets/{i}",
                        "name": "pkg.tgz",
                        "size": len(data),
                    }],
                }
                return self.send(200, json.dumps(rel).encode(), "application/json")
            if p[3:5] == ["releases", "assets"]:
                self.send_response(302)
                self.send_header("Location", f"{base}/bench/r{i:02d}/releases/download/v1.0.0/pkg.tgz")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        if len(p) == 6 and p[0] == "bench" and p[2:4] == ["releases", "download"]:
            return self.send(200, blobs[int(p[1][1:])])
        self.send(404, b'{"message":"Not Found"}', "application/json")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()

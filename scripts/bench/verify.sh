#!/usr/bin/env bash
# make bench (issue 16): the cost of verification per content. N small contents
# (default 100: half ociArtifact from a loopback registry, signed with
# `cosign sign --key`; half http files with `cosign sign-blob --bundle` bundles
# beside them) synced warm, once without `cosign:` and once with `cosign: {key}`,
# alternating in one run, and once more with the cache's memory of earlier
# checks dropped (every signature read and checked in full). Prints the medians
# and the verified/unverified ratios (target <= 1.10). Not a test: it fails only
# when a command fails.
#
#   scripts/bench/verify.sh                       # 100 contents, 5 runs each
#   BENCH_VERIFY_N=20 BENCH_REPS=3 scripts/bench/verify.sh
#   VENDORAS_BIN=target/debug/vendoras ...        # no release build
#
# The http files are pinned by `sha256` (the reproducible config); a second pair of
# configs without it measures the files that are downloaded, and verified, on every
# sync.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
TOOLS=${VENDORAS_TOOLS:-$ROOT/target/tools/bin}
N=${BENCH_VERIFY_N:-100}
REPS=${BENCH_REPS:-5}
B=$ROOT/scripts/bench
COSIGN=$TOOLS/cosign
for t in "$COSIGN" "$TOOLS/oras" docker-registry curl python3; do
  command -v "$t" >/dev/null || { echo "bench/verify: $t not found (make tools)" >&2; exit 1; }
done
if [ -z "${VENDORAS_BIN:-}" ]; then cargo build --release --locked -q --bin vendoras; fi
VENDORAS=${VENDORAS_BIN:-$ROOT/target/release/vendoras}
NO=$((N / 2))      # ociArtifact contents
NH=$((N - NO))     # http contents

work=$(mktemp -d /tmp/vendoras-bench-verify-XXXXXX)
reg= srv=
cleanup() {
  for p in $reg $srv; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy
# cosign with its own HOME (no user config, no TUF cache) and an empty key password.
cos() { HOME=$work/home DOCKER_CONFIG=$work/home/.docker TUF_ROOT=$work/home/.sigstore COSIGN_PASSWORD= "$COSIGN" "$@" </dev/null; }

host=127.0.0.1:$(free_port)
cat >"$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/storage}}
http: {addr: $host}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg=$!
hport=$(free_port)
mkdir -p "$work/site" "$work/gen" "$work/home"
# python's http.server with a listen backlog of 64, not 5: with 8 jobs connecting at
# once, a full backlog drops SYNs, and the 1 s retransmit is then what is measured.
python3 - "$work/site" "$hport" >"$work/http.log" 2>&1 <<'PY' &
import functools, http.server, sys
http.server.ThreadingHTTPServer.request_queue_size = 64
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), handler).serve_forever()
PY
srv=$!
base=http://127.0.0.1:$hport
for _ in $(seq 100); do
  curl -sf "http://$host/v2/" >/dev/null && curl -sf "$base/" >/dev/null && break
  sleep 0.1
done
curl -sf "http://$host/v2/" >/dev/null || { cat "$work/registry.log" >&2; exit 1; }

echo "== issue 16 / verify: generating, pushing and signing $NO ociArtifacts and $NH http files"
(cd "$work" && cos generate-key-pair >/dev/null 2>&1)
python3 - "$work/gen" "$work/site" "$N" <<'PY'
import io, os, sys, tarfile
gen, site, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for j in range(5):
            data = (f"content {i} file {j}\n" * 100).encode()
            ti = tarfile.TarInfo(f"f{j}.txt"); ti.size = len(data); ti.mode = 0o644; ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))
    d = os.path.join(gen, f"c{i:03d}")
    os.makedirs(d, exist_ok=True)
    for j in range(5):
        with open(os.path.join(d, f"f{j}.txt"), "w") as f:
            f.write(f"content {i} file {j}\n" * 100)
    with open(os.path.join(site, f"c{i:03d}.tgz"), "wb") as f:
        f.write(buf.getvalue())
PY
sign_oci() { # I: push c<I> as small/c<I>:v1 and sign its digest
  local a d
  a=$(printf c%03d "$1")
  (cd "$work/gen/$a" && "$TOOLS/oras" push --plain-http "$host/small/$a:v1" f0.txt f1.txt f2.txt f3.txt f4.txt >/dev/null)
  d=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$host/v2/small/$a/manifests/v1" |
    tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
  cos sign --key "$work/cosign.key" --tlog-upload=false --use-signing-config=false --yes \
    --allow-http-registry --allow-insecure-registry "$host/small/$a@$d" >/dev/null 2>&1
}
sign_http() { # I: c<I>.tgz.sigstore.json beside c<I>.tgz
  local a
  a=$(printf c%03d "$1")
  cos sign-blob --key "$work/cosign.key" --tlog-upload=false --use-signing-config=false --yes \
    --bundle "$work/site/$a.tgz.sigstore.json" "$work/site/$a.tgz" >/dev/null 2>&1
}
export -f sign_oci sign_http cos
export work host TOOLS COSIGN
seq 0 $((NO - 1)) | xargs -P 4 -I{} bash -c 'sign_oci {}'
seq "$NO" $((N - 1)) | xargs -P 4 -I{} bash -c 'sign_http {}'

config() { # VERIFY(yes|no) PIN(yes|no)
  printf 'apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n'
  local cos='' i a sum
  [ "$1" = yes ] && cos=", cosign: {key: $work/cosign.pub}"
  for i in $(seq 0 $((N - 1))); do
    a=$(printf c%03d "$i")
    printf -- '- path: vendor/%s\n  contents:\n  - path: .\n' "$a"
    if [ "$i" -lt "$NO" ]; then
      printf '    ociArtifact: {image: %s/small/%s, tag: v1, plainHTTP: true%s}\n' "$host" "$a" "$cos"
    elif [ "$2" = yes ]; then
      sum=$(sha256sum "$work/site/$a.tgz" | cut -c1-64)
      printf '    http: {url: %s/%s.tgz, sha256: "%s"%s}\n' "$base" "$a" "$sum" "$cos"
    else
      printf '    http: {url: %s/%s.tgz%s}\n' "$base" "$a" "$cos"
    fi
  done
}
for v in no yes; do for p in yes no; do
  mkdir -p "$work/v$v-p$p"; config "$v" "$p" >"$work/v$v-p$p/vendir.yml"
done; done

R=$work/results
: >"$R"
run() { python3 "$B/run1.py" "$R" "$@"; }
sy() { "$VENDORAS" sync --chdir "$work/$1" --cache-dir "$work/cache-$1"; }
for d in vno-pyes vyes-pyes vno-pno vyes-pno; do sy "$d" >/dev/null 2>&1 || { sy "$d"; exit 1; }; done # cold: fill
grep -c 'verified' <(sy vyes-pyes 2>&1) >"$work/verified-lines" || true
requests() { # DIR: registry and http requests of one warm sync of DIR
  local r h
  r=$(grep -c '"GET \|"HEAD ' "$work/registry.log" || true); h=$(grep -c '"GET ' "$work/http.log" || true)
  sy "$1" >/dev/null 2>&1
  echo "$(( $(grep -c '"GET \|"HEAD ' "$work/registry.log" || true) - r )) registry, $(( $(grep -c '"GET ' "$work/http.log" || true) - h )) http"
}
req_no=$(requests vno-pyes); req_yes=$(requests vyes-pyes)
rm -rf "$work/cache-vyes-pyes/verified"; req_fresh=$(requests vyes-pyes)
echo "== issue 16 / verify: $N contents ($NO ociArtifact, $NH http), warm re-sync, $REPS runs each (median), alternating"
echo "   load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for _ in $(seq "$REPS"); do
  run "warm, unverified (http pinned)" -- "$VENDORAS" sync --chdir "$work/vno-pyes" --cache-dir "$work/cache-vno-pyes"
  run "warm, cosign key (http pinned)" -- "$VENDORAS" sync --chdir "$work/vyes-pyes" --cache-dir "$work/cache-vyes-pyes"
  # The same with the cache's memory of earlier checks dropped: every signature read
  # and checked in full (docs/config.md, "Verified before").
  run "warm, cosign key, nothing remembered (http pinned)" -- bash -c \
    'rm -rf "$1/verified" && exec "$2" sync --chdir "$3" --cache-dir "$1"' _ \
    "$work/cache-vyes-pyes" "$VENDORAS" "$work/vyes-pyes"
  run "warm, unverified (http unpinned)" -- "$VENDORAS" sync --chdir "$work/vno-pno" --cache-dir "$work/cache-vno-pno"
  run "warm, cosign key (http unpinned)" -- "$VENDORAS" sync --chdir "$work/vyes-pno" --cache-dir "$work/cache-vyes-pno"
done
python3 "$B/report.py" "$R" table "warm, unverified (http pinned)" "warm, cosign key (http pinned)" \
  "warm, cosign key, nothing remembered (http pinned)" \
  "warm, unverified (http unpinned)" "warm, cosign key (http unpinned)"
echo "  requests of one warm sync (http pinned): unverified $req_no; cosign key $req_yes (nothing remembered: $req_fresh)"
echo "  a warm verified sync (http pinned) printed $(cat "$work/verified-lines") 'verified' lines for $N contents"
S="python3 $B/report.py $R"
$S ratio "issue 16: warm sync of $N, key / none (http pinned)" \
  "warm, cosign key (http pinned)" "warm, unverified (http pinned)" 1.10
$S ratio "issue 16: warm sync of $N, key, nothing remembered / none (http pinned)" \
  "warm, cosign key, nothing remembered (http pinned)" "warm, unverified (http pinned)" 1.10
$S ratio "issue 16: warm sync of $N, key / none (http unpinned)" \
  "warm, cosign key (http unpinned)" "warm, unverified (http unpinned)" 1.10
# CPU of the vendoras process tree (less at the mercy of other load than wall).
cpu=$(python3 - "$R" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, _, cpu, _ = line.rstrip("\n").split("\t")
    rows.setdefault(label, []).append(float(cpu))
m = {k: statistics.median(v) for k, v in rows.items()}
a, b = m["warm, cosign key (http pinned)"], m["warm, unverified (http pinned)"]
print(f"{a / b:.2f}x ({a:.3f}s / {b:.3f}s of user+sys)")
PY
)
$S value "issue 16: CPU of that sync, key / none (http pinned)" "$cpu"

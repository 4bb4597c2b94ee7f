#!/usr/bin/env bash
# make bench: figures and ratios, side by side in one run, against a registry on
# loopback. Not a test: it prints numbers. Sizes can be lowered for a quick look:
#   BENCH_MIB=256 scripts/bench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOOLS=${VENDORAS_TOOLS:-$PWD/target/tools/bin}
MIB=${BENCH_MIB:-1024}
cargo build --release --locked -q
VENDORAS=$PWD/target/release/vendoras
work=$(mktemp -d /tmp/vendoras-bench-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
host=127.0.0.1:$port

# measure LABEL CMD...: wall seconds and peak RSS (MiB) of the command tree.
measure() {
  local label=$1; shift
  python3 - "$label" "$@" <<'PY'
import resource, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
t = time.monotonic()
subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
wall = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label}\t{wall:.3f}\t{rss:.1f}")
PY
}
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }

echo "== pull: one ${MIB} MiB blob from the loopback registry"
mkdir -p "$work/src"
head -c "$((MIB << 20))" /dev/urandom > "$work/src/big.bin"
(cd "$work/src" && "$TOOLS/oras" push --plain-http "$host/big:v1" big.bin >/dev/null)
rm -rf "$work/o1" "$work/o2"
o=$(measure "oras pull" "$TOOLS/oras" pull --plain-http -o "$work/o1" "$host/big:v1")
v=$(measure "vendoras pull" "$VENDORAS" pull --plain-http -o "$work/o2" "$host/big:v1")
printf 'tool\twall_s\tpeak_rss_mib\n%s\n%s\n' "$o" "$v"
cmp "$work/o1/big.bin" "$work/o2/big.bin"
echo "wall ratio vendoras/oras: $(ratio "$(cut -f2 <<<"$v")" "$(cut -f2 <<<"$o")")  (target <= 1.10)"
echo "vendoras peak RSS: $(cut -f3 <<<"$v") MiB  (target <= 100)"
rm -rf "$work/o1" "$work/o2" "$work/src"

echo "== sync: a tar+gzip directory artifact (${MIB} MiB pseudo-random in 2000 files), cold vs warm"
mkdir -p "$work/tree/content"
python3 - "$work/tree/content" "$MIB" <<'PY'
import os, sys
root, mib = sys.argv[1], int(sys.argv[2])
n = 2000
size = (mib << 20) // n
chunk = os.urandom(1 << 16)
for i in range(n):
    d = os.path.join(root, f"d{i % 50}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.bin"), "wb") as f:
        left = size
        while left > 0:
            f.write(chunk[: min(left, len(chunk))]); left -= len(chunk)
PY
(cd "$work/tree" && "$TOOLS/oras" push --plain-http "$host/tree:v1" content >/dev/null)
mkdir -p "$work/s"
cat > "$work/s/vendir.yml" <<YML
apiVersion: vendir.k14s.io/v1alpha1
kind: Config
directories:
- path: vendor/tree
  contents:
  - path: .
    ociArtifact: {image: $host/tree:v1, plainHTTP: true}
YML
c=$(measure "sync cold" "$VENDORAS" sync --chdir "$work/s" --cache-dir "$work/cache")
w=$(measure "sync warm" "$VENDORAS" sync --chdir "$work/s" --cache-dir "$work/cache")
rm -rf "$work/op"
op=$(measure "oras pull (same)" "$TOOLS/oras" pull --plain-http -o "$work/op" "$host/tree:v1")
printf 'run\twall_s\tpeak_rss_mib\n%s\n%s\n%s\n' "$c" "$w" "$op"
echo "P1-like sync cold / oras pull: $(ratio "$(cut -f2 <<<"$c")" "$(cut -f2 <<<"$op")")  (target <= 0.5)"
echo "P3 warm / cold: $(ratio "$(cut -f2 <<<"$w")" "$(cut -f2 <<<"$c")")  (target <= 0.1)"
echo "P4 peak RSS during cold sync: $(cut -f3 <<<"$c") MiB  (target <= 100)"

echo "== bridge overhead: resolve through Rust -> cgo -> oras-go vs oras-go alone"
cargo run --release --locked -q --example bench_resolve -- "$host/tree:v1" 200
(cd go && VENDORAS_BENCH_REF="$host/tree:v1" go test -run '^$' -bench BenchmarkResolve -benchtime 200x . 2>/dev/null | grep -E 'Benchmark|ok' || true)

#!/usr/bin/env bash
# Issue 9 bench: N small single-layer images (default 100) in one vendir.yml,
# synced by `vendir sync` (image:), `vendoras sync` (image:) and `vendoras sync`
# (ociArtifact:, the same images), cold (empty cache, empty tree) each time.
# Prints wall times (median of BENCH_REPS), the ratios the issue targets, and
# peak RSS. Not a test: it fails only when a command fails.
#
#   scripts/bench/image.sh                  # 100 images
#   BENCH_IMAGES=20 scripts/bench/image.sh  # a quick look
#   VENDORAS_BIN=target/debug/vendoras ...   # no release build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
TOOLS=${VENDORAS_TOOLS:-$ROOT/target/tools/bin}
N=${BENCH_IMAGES:-100}
REPS=${BENCH_REPS:-3}
for t in "$TOOLS/crane" "$TOOLS/vendir" docker-registry curl python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench/image: $t not found (make tools)" >&2; exit 1; }
done
# VENDORAS_BIN skips the release build (e.g. a debug binary for a quick look).
if [ -z "${VENDORAS_BIN:-}" ]; then
  cargo build --release --locked -q --bin vendoras
fi
VENDORAS=${VENDORAS_BIN:-$ROOT/target/release/vendoras}

W=$(mktemp -d)
trap 'kill $REG_PID 2>/dev/null || true; rm -rf "$W"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$W/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $W/storage}}
http: {addr: 127.0.0.1:$PORT}
log: {level: error}
YML
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done
HOST=127.0.0.1:$PORT

echo "== pushing $N images"
python3 - "$W/layers" "$N" <<'PY'
import io, os, sys, tarfile
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
for i in range(n):
    with tarfile.open(f"{out}/{i}.tar", "w") as t:
        for j in range(5):
            data = (f"image {i} file {j}\n" * 200).encode()
            ti = tarfile.TarInfo(f"etc/f{j}.txt"); ti.size = len(data); ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
PY
pids=()
for i in $(seq 0 $((N - 1))); do
  "$TOOLS/crane" append --insecure -t "$HOST/bench/img$i:v1" -f "$W/layers/$i.tar" >/dev/null 2>&1 &
  pids+=($!)
  if (( ${#pids[@]} == 8 )); then wait "${pids[@]}"; pids=(); fi
done
if (( ${#pids[@]} )); then wait "${pids[@]}"; fi

config() { # $1 = image | oci
  echo "apiVersion: vendir.k14s.io/v1alpha1"; echo "kind: Config"; echo "directories:"
  for i in $(seq 0 $((N - 1))); do
    echo "- path: vendor/img$i"; echo "  contents:"; echo "  - path: ."
    if [ "$1" = image ]; then echo "    image: {url: $HOST/bench/img$i:v1}"
    else echo "    ociArtifact: {image: $HOST/bench/img$i, tag: v1, plainHTTP: true}"; fi
  done
}

# run NAME DIR CMD...: REPS cold runs; prints the median wall and max RSS.
run() {
  local name=$1 dir=$2; shift 2
  local walls=() rss=0
  for _ in $(seq "$REPS"); do
    rm -rf "$dir/vendor" "$dir/vendir.lock.yml" "$dir/cache"
    ( cd "$dir" && /usr/bin/time -f "%e %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" ) \
      || { cat "$W/err" >&2; exit 1; }
    read -r wall kb < "$W/time"
    walls+=("$wall"); (( kb > rss )) && rss=$kb
  done
  local med
  med=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (REPS + 1) / 2 ))p")
  printf '%-34s %8.2f s  peak RSS %6.1f MiB\n' "$name" "$med" "$(echo "$rss / 1024" | bc -l)"
  echo "$med" > "$W/$name.wall"
}

mkdir -p "$W/v" "$W/i" "$W/o"
config image > "$W/v/vendir.yml"; cp "$W/v/vendir.yml" "$W/i/vendir.yml"; config oci > "$W/o/vendir.yml"
echo "== $N images, cold, median of $REPS"
run "vendir sync (image:)" "$W/v" env -u VENDIR_CACHE_DIR "$TOOLS/vendir" sync
run "vendoras sync (image:)" "$W/i" "$VENDORAS" sync --cache-dir cache
run "vendoras sync (ociArtifact:)" "$W/o" "$VENDORAS" sync --cache-dir cache
v=$(cat "$W/vendir sync (image:).wall"); i=$(cat "$W/vendoras sync (image:).wall"); o=$(cat "$W/vendoras sync (ociArtifact:).wall")
python3 - "$v" "$i" "$o" <<'PY'
import sys
v, i, o = map(float, sys.argv[1:])
print(f"image: / vendir          {i / v:5.2f}x  (target <= 0.25: {'met' if i <= 0.25 * v else 'NOT met'})")
print(f"image: / ociArtifact:    {i / o:5.2f}x  (target <= 1.00: {'met' if i <= o else 'NOT met'})")
PY

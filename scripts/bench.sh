#!/usr/bin/env bash
# make bench: figures and ratios for issues 2 (pull) and 3 (sync), every tool
# measured side by side in one run against a docker-registry on loopback. Not a
# test: it prints numbers and says which targets were met; it fails only when a
# command fails.
#
#   scripts/bench.sh                  # full size (~1 GiB blobs, 20k files)
#   BENCH_SCALE=0.1 scripts/bench.sh  # a tenth of the bytes and files: a quick look
#   BENCH_REPS=5 scripts/bench.sh     # runs per measurement (median is reported)
#
# Inputs are generated deterministically and the registry's storage, once
# filled, is kept under target/bench-data (BENCH_DATA) and hard-linked into a
# fresh temporary storage on every run, so only the first run pays for
# generating and pushing (about 3 minutes at full size).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TOOLS=${VENDORAS_TOOLS:-$ROOT/target/tools/bin}
ORAS=$TOOLS/oras
SCALE=${BENCH_SCALE:-1}
REPS=${BENCH_REPS:-3}
DATA=${BENCH_DATA:-$ROOT/target/bench-data}
SMALL=${BENCH_SMALL:-100}
scaled() { python3 -c "import sys; print(max(1, round(float(sys.argv[1]) * float(sys.argv[2]))))" "$1" "$SCALE"; }
TREE_MIB=$(scaled 1024)
TREE_FILES=$(scaled 20000)
PULL_MIB=$(scaled 1024)
B=$ROOT/scripts/bench

for t in "$ORAS" docker-registry curl pigz python3 cmake; do
  command -v "$t" >/dev/null || { echo "bench: $t not found (make tools installs oras and docker-registry)" >&2; exit 1; }
done

echo "== building (release)"
cargo build --release --locked -q --bin vendoras --example bench_resolve --example bench_inflate
VENDORAS=$ROOT/target/release/vendoras
INFLATE_EX=$ROOT/target/release/examples/bench_inflate
RESOLVE_EX=$ROOT/target/release/examples/bench_resolve
cargo build --release --locked -q --manifest-path "$B/inflate/Cargo.toml" \
  --target-dir "$ROOT/target/bench-inflate/zlib-rs"
cargo build --release --locked -q --manifest-path "$B/inflate/Cargo.toml" \
  --target-dir "$ROOT/target/bench-inflate/zlib-ng" --no-default-features --features zlib-ng
INFLATE_RS=$ROOT/target/bench-inflate/zlib-rs/release/bench-inflate
INFLATE_NG=$ROOT/target/bench-inflate/zlib-ng/release/bench-inflate

# The registry's storage lives in $work (beside BENCH_DATA's snapshot, to hard-link
# it); everything the tools write goes to $scratch, on tmpfs by default: on ext4,
# creating 20k files right after deleting the previous run's 20k spends seconds
# in the inode allocator (recently_deleted/find_inode_bit, 10-20 s per tar -x
# here), which would swamp what the tools themselves do.
work=$(mktemp -d /tmp/vendoras-bench-XXXXXX)
tmpdir=${BENCH_TMPDIR:-/dev/shm}
[ -d "$tmpdir" ] && [ -w "$tmpdir" ] || tmpdir=/tmp
scratch=$(mktemp -d "$tmpdir/vendoras-bench-XXXXXX")
export TMPDIR=$scratch # oras stages directory tarballs in $TMPDIR
reg=
cleanup() {
  if [ -n "$reg" ]; then kill "$reg" 2>/dev/null || true; wait "$reg" 2>/dev/null || true; fi
  rm -rf "$work" "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
storage=$work/registry
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $storage}, delete: {enabled: true}}
http: {addr: $host}
YML

# The registry's content, keyed by what generates it.
key=$(cat "$B/gen-tree.py" "$B/gen-small.py" | sha256sum | cut -c1-12)
snapshot=$DATA/registry-t${TREE_MIB}m${TREE_FILES}f-p${PULL_MIB}m-s${SMALL}-$key
if [ -d "$snapshot" ]; then
  cp -al "$snapshot" "$storage" # blobs are never rewritten in place; runs only read them
fi
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg=$!
for _ in $(seq 100); do curl -sf "http://$host/v2/" >/dev/null && break; sleep 0.1; done
curl -sf "http://$host/v2/" >/dev/null || { cat "$work/registry.log" >&2; exit 1; }

if [ ! -d "$snapshot" ]; then
  echo "== generating and pushing the inputs (first run at this size; cached in $DATA)"
  gen=$work/gen
  mkdir -p "$gen/pull" "$gen/tree" "$gen/small"
  # issue 2: one incompressible blob (AES-CTR of zeros: deterministic, fast).
  head -c "$((PULL_MIB << 20))" /dev/zero |
    openssl enc -aes-256-ctr -nosalt -K "$(printf '%064d' 0)" -iv "$(printf '%032d' 0)" >"$gen/pull/big.bin"
  (cd "$gen/pull" && "$ORAS" push --plain-http "$host/big:v1" big.bin >/dev/null)
  rm -rf "$gen/pull"
  # issue 3 P1: ~1 GiB / ~20k files of mixed text and binary, as an oras directory.
  python3 "$B/gen-tree.py" "$gen/tree" "$TREE_MIB" "$TREE_FILES"
  (cd "$gen/tree" && "$ORAS" push --plain-http "$host/tree:v1" content >/dev/null)
  rm -rf "$gen/tree"
  # issue 3 P2: small chart-like directories, one repository each.
  python3 "$B/gen-small.py" "$gen/small" "$SMALL"
  for i in $(seq 0 $((SMALL - 1))); do printf 'a%03d\n' "$i"; done |
    xargs -P 4 -I{} sh -c "cd '$gen/small/{}' && '$ORAS' push --plain-http '$host/small/{}:v1' chart >/dev/null"
  rm -rf "$gen"
  mkdir -p "$DATA"
  rm -rf "$DATA"/registry-*"$key".tmp
  cp -a "$storage" "$snapshot.tmp" && mv "$snapshot.tmp" "$snapshot"
fi

layer_of() { # REPO: digest of the first layer of REPO:v1
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$host/v2/$1/manifests/v1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])'
}
blob_file() { local d=${1#sha256:}; echo "$storage/docker/registry/v2/blobs/sha256/${d:0:2}/$d/data"; }

R=$work/results
: >"$R"
run() { python3 "$B/run1.py" "$R" "$@"; }
flush() { sync; } # write back the previous run's files before timing the next
out=$scratch/out
vendir_bin=$(command -v vendir || true)
[ -z "$vendir_bin" ] && [ -x "$TOOLS/vendir" ] && vendir_bin=$TOOLS/vendir

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; scale $SCALE, $REPS runs each (median); outputs in $tmpdir ($(stat -f -c %T "$tmpdir"))"
echo "   vendoras $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'), $("$ORAS" version | head -1), docker-registry $(docker-registry --version 2>/dev/null | awk '{print $NF}')"

# ---------------------------------------------------------------- issue 2: pull
echo
echo "== issue 2 / pull: one $PULL_MIB MiB blob (oras-pushed file) from the loopback registry"
for _ in $(seq "$REPS"); do
  rm -rf "$out"; flush
  run "oras pull (big)" -- "$ORAS" pull --plain-http -o "$out/oras" "$host/big:v1"
  rm -rf "$out"; flush
  run "vendoras pull (big)" -- "$VENDORAS" pull --plain-http -o "$out/vendoras" "$host/big:v1"
done
"$ORAS" pull --plain-http -o "$out/oras" "$host/big:v1" >/dev/null
cmp "$out/oras/big.bin" "$out/vendoras/big.bin"
rm -rf "$out"
python3 "$B/report.py" "$R" table "oras pull (big)" "vendoras pull (big)"

echo
echo "== issue 2 / bridge: per-resolve overhead against the local registry"
n=$(scaled 1000)
bridge=$("$RESOLVE_EX" "$host/big:v1" "$n" | awk '{print $3}')
gobench=$(cd go && VENDORAS_BENCH_REF="$host/big:v1" go test -run '^$' -bench '^BenchmarkResolve$' \
  -benchtime "${n}x" -count 1 . 2>&1 | awk '/^BenchmarkResolve/{print int($3 / 1000)}')
echo "  Rust -> cgo -> oras-go Resolve (examples/bench_resolve.rs): $bridge us/op"
echo "  oras-go Resolve alone (go/bench_test.go BenchmarkResolve):  ${gobench:-?} us/op"

# ---------------------------------------------------------- issue 3: P1, P3, P4
echo
layer=$(layer_of tree)
blob=$(blob_file "$layer")
printf '== issue 3 / P1: one oras directory artifact: %s files, %s MiB of files, %s MiB tar+gzip blob\n' \
  "$TREE_FILES" "$TREE_MIB" "$(( $(stat -c %s "$blob") >> 20 ))"
s1=$scratch/p1
mkdir -p "$s1"
cat >"$s1/vendir.yml" <<YML
apiVersion: vendir.k14s.io/v1alpha1
kind: Config
directories:
- path: vendor/tree
  contents:
  - path: .
    ociArtifact: {image: $host/tree:v1, plainHTTP: true}
YML
cold1() { rm -rf "$s1/vendor" "$s1/vendir.lock.yml" "$scratch/cache1"; flush; }
for _ in $(seq "$REPS"); do
  rm -rf "$out"; flush
  run "oras pull" -- "$ORAS" pull --plain-http -o "$out/oras" "$host/tree:v1"
  rm -rf "$out"; mkdir -p "$out/pipe"; flush
  run "curl|pigz -dc|tar -x" -- bash -o pipefail -c \
    "curl -sf http://$host/v2/tree/blobs/$layer | pigz -dc | tar -x -C $out/pipe"
  rm -rf "$out"; flush
  run "inflate-only (crate flate2: zlib-ng)" -- "$INFLATE_EX" "$blob"  # vendoras's own flate2
  run "inflate-only (bench/inflate zlib-rs)" -- "$INFLATE_RS" "$blob"
  run "inflate-only (bench/inflate zlib-ng)" -- "$INFLATE_NG" "$blob"
  cold1
  run "vendoras sync --no-cache" -- "$VENDORAS" sync --chdir "$s1" --no-cache
  cold1
  run "vendoras sync (cold)" -- "$VENDORAS" sync --chdir "$s1" --cache-dir "$scratch/cache1"
  flush
  run "vendoras sync (warm)" -- "$VENDORAS" sync --chdir "$s1" --cache-dir "$scratch/cache1"
done
# Same files as oras? (vendoras normalises modes and mtimes; compare contents.)
"$ORAS" pull --plain-http -o "$out/oras" "$host/tree:v1" >/dev/null
diff -rq "$out/oras/content" "$s1/vendor/tree/content" >/dev/null || echo "  WARNING: vendoras and oras trees differ"
rm -rf "$out"
python3 "$B/report.py" "$R" table "oras pull" "curl|pigz -dc|tar -x" "inflate-only (crate flate2: zlib-ng)" \
  "inflate-only (bench/inflate zlib-rs)" "inflate-only (bench/inflate zlib-ng)" "vendoras sync (cold)" "vendoras sync --no-cache" "vendoras sync (warm)"

# ---------------------------------------------------------------- issue 3: P2
echo
echo "== issue 3 / P2: $SMALL small artifacts (chart-like directories, ~40 KiB each)"
s2=$scratch/p2
mkdir -p "$s2"
{
  printf 'apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n'
  for i in $(seq 0 $((SMALL - 1))); do
    a=$(printf 'a%03d' "$i")
    printf -- '- path: vendor/%s\n  contents:\n  - path: .\n    ociArtifact: {image: %s/small/%s:v1, plainHTTP: true}\n' "$a" "$host" "$a"
  done
} >"$s2/vendir.yml"
{
  printf 'apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n'
  for i in $(seq 0 $((SMALL - 1))); do
    a=$(printf 'a%03d' "$i")
    printf -- '- path: vendor/%s\n  contents:\n  - path: .\n    image: {url: %s/small/%s:v1, dangerousSkipTLSVerify: true}\n' "$a" "$host" "$a"
  done
} >"$work/vendir-image.yml"
printf '#!/bin/sh\nset -e\nfor i in $(seq 0 %d); do a=$(printf a%%03d $i); "%s" pull --plain-http -o "%s/$a" "%s/small/$a:v1" >/dev/null; done\n' \
  $((SMALL - 1)) "$ORAS" "$out/seq" "$host" >"$work/oras-seq.sh"
for _ in $(seq "$REPS"); do
  rm -rf "$out"; flush
  run "$SMALL x oras pull (sequential)" -- sh "$work/oras-seq.sh"
  rm -rf "$out"
  rm -rf "$s2/vendor" "$s2/vendir.lock.yml" "$scratch/cache2"; flush
  run "vendoras sync, $SMALL artifacts (cold)" -- "$VENDORAS" sync --chdir "$s2" --cache-dir "$scratch/cache2"
  run "vendoras sync, $SMALL artifacts (warm)" -- "$VENDORAS" sync --chdir "$s2" --cache-dir "$scratch/cache2"
  if [ -n "$vendir_bin" ]; then
    rm -rf "$scratch/vd"; mkdir -p "$scratch/vd"; cp "$work/vendir-image.yml" "$scratch/vd/vendir.yml"; flush
    run "vendir sync (image:)" -- sh -c "cd '$scratch/vd' && '$vendir_bin' sync"
  fi
done
rm -rf "$out"
python3 "$B/report.py" "$R" table "$SMALL x oras pull (sequential)" "vendoras sync, $SMALL artifacts (cold)" \
  "vendoras sync, $SMALL artifacts (warm)" "vendir sync (image:)"
[ -z "$vendir_bin" ] && echo "  (vendir not installed: 'go install carvel.dev/vendir/cmd/vendir@latest' into $TOOLS to add it)"

# --------------------------------------------------------------------- summary
echo
echo "== targets (ratios of medians; <= target is met)"
S="python3 $B/report.py $R"
$S ratio "issue 2: pull wall, vendoras / oras pull" "vendoras pull (big)" "oras pull (big)" 1.10
$S rss "issue 2: pull peak RSS, vendoras" "vendoras pull (big)" 100
$S value "issue 2: resolve, bridge vs oras-go alone" "$bridge us vs ${gobench:-?} us per resolve"
$S ratio "P1: sync (cold) / oras pull" "vendoras sync (cold)" "oras pull" 0.5
$S ratio "P1: sync (cold) / curl|pigz -dc|tar -x" "vendoras sync (cold)" "curl|pigz -dc|tar -x" 1.0
$S ratio "P1: sync (cold) / inflate-only (same decoder)" "vendoras sync (cold)" "inflate-only (crate flate2: zlib-ng)" 1.2
$S ratio "P2: sync of $SMALL / $SMALL sequential oras pulls" "vendoras sync, $SMALL artifacts (cold)" "$SMALL x oras pull (sequential)" 0.25
[ -n "$vendir_bin" ] && $S ratio "P2: sync of $SMALL / vendir sync (image:)" "vendoras sync, $SMALL artifacts (cold)" "vendir sync (image:)" 0.25
$S ratio "P3: warm re-sync / cold (P1 artifact)" "vendoras sync (warm)" "vendoras sync (cold)" 0.1
$S ratio "P3: warm re-sync / cold ($SMALL artifacts)" "vendoras sync, $SMALL artifacts (warm)" "vendoras sync, $SMALL artifacts (cold)" 0.1
$S rss "P4: peak RSS during P1 (cold sync)" "vendoras sync (cold)" 100
$S ratio "inflate-only: zlib-ng / zlib-rs" "inflate-only (bench/inflate zlib-ng)" "inflate-only (bench/inflate zlib-rs)" -
$S ratio "P1: sync --no-cache / sync (cold, filling the cache)" "vendoras sync --no-cache" "vendoras sync (cold)" -
VENDORAS=$VENDORAS "$B/helm.sh" # issue 9: 50 charts from one chart repository vs vendir

# issue 8: http archives and GitHub release assets, vendoras vs vendir.
VENDORAS_BIN=$VENDORAS BENCH_REPS=$REPS "$B/http.sh"
VENDORAS=$VENDORAS "$B/git.sh"   # issue 8: git sources vs vendir
VENDORAS=$VENDORAS "$B/git-sparse.sh" # issue 15: one folder of a large repository vs vendir
"$B/image.sh" # issue 9: image: vs vendir and vs ociArtifact
# issue 16: verification cost per content, warm, cosign key vs unverified.
VENDORAS_BIN=$VENDORAS BENCH_REPS=$(( REPS > 5 ? REPS : 5 )) "$B/verify.sh"
"$B/corpus.sh" # issue 15: the corpus's real shapes, cold, warm and --locked, vs vendir

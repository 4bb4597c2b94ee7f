#!/usr/bin/env bash
# Issue 9 bench: N charts (default 50) from one chart repository, `vendir sync`
# (helm run per chart) vs `vendoras sync` (native, one index read), cold each
# time (fresh work dir; vendoras with a fresh cache). Prints the medians and the
# ratio against the target (vendoras <= 0.25x vendir). Not a test.
#
#   scripts/bench/helm.sh                      # 50 charts, 3 runs each
#   BENCH_CHARTS=10 BENCH_REPS=1 scripts/bench/helm.sh
#   VENDORAS=target/debug/vendoras scripts/bench/helm.sh   # another build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
TOOLS=${VENDORAS_TOOLS:-$ROOT/target/tools/bin}
N=${BENCH_CHARTS:-50}
REPS=${BENCH_REPS:-3}
if [ -z "${VENDORAS:-}" ]; then
  cargo build --release --locked -q --bin vendoras
  VENDORAS=$ROOT/target/release/vendoras
fi
VENDORAS=$(realpath "$VENDORAS")
for t in "$TOOLS/helm" "$TOOLS/vendir" python3; do
  command -v "$t" >/dev/null || { echo "bench/helm: $t not found (make tools)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/vendoras-bench-helm-XXXXXX)
srv=
cleanup() {
  if [ -n "$srv" ]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export HELM_CACHE_HOME=$work/helm/cache HELM_CONFIG_HOME=$work/helm/config HELM_DATA_HOME=$work/helm/data

echo "== helm: packaging $N charts"
mkdir -p "$work/repo" "$work/src"
for i in $(seq -w 1 "$N"); do
  c=$work/src/chart-$i
  mkdir -p "$c/templates"
  printf 'apiVersion: v2\nname: chart-%s\nversion: 1.0.%s\nappVersion: "1.0"\n' "$i" "$((10#$i))" >"$c/Chart.yaml"
  printf 'replicas: %s\nimage: example/app\n' "$i" >"$c/values.yaml"
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  n: "{{ .Values.replicas }}"\n' >"$c/templates/cm.yaml"
  "$TOOLS/helm" package "$c" -d "$work/repo" >/dev/null
done
"$TOOLS/helm" repo index "$work/repo"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/repo" >/dev/null 2>&1 &
srv=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/index.yaml" >/dev/null && break; sleep 0.1; done

{
  echo "apiVersion: vendir.k14s.io/v1alpha1"
  echo "kind: Config"
  echo "directories:"
  for i in $(seq -w 1 "$N"); do
    printf -- '- path: vendor/chart-%s\n  contents:\n  - path: .\n    helmChart:\n      name: chart-%s\n      repository:\n        url: http://127.0.0.1:%s/\n' "$i" "$i" "$port"
  done
} >"$work/vendir.yml"

# Median wall seconds of REPS cold runs of "$@" in a fresh directory.
measure() {
  local times=()
  for _ in $(seq "$REPS"); do
    local d
    d=$(mktemp -d "$work/run-XXXXXX")
    cp "$work/vendir.yml" "$d/"
    local s e
    s=$(date +%s.%N)
    (cd "$d" && "$@" >/dev/null 2>"$d.err") || { cat "$d.err" >&2; exit 1; }
    e=$(date +%s.%N)
    times+=("$(python3 -c "print($e - $s)")")
    [ "$(find "$d/vendor" -name Chart.yaml | wc -l)" -eq "$N" ] || { echo "bench/helm: $* did not write $N charts" >&2; exit 1; }
    rm -rf "$d"
  done
  printf '%s\n' "${times[@]}" | sort -n | python3 -c 'import sys; t=[float(x) for x in sys.stdin]; print(f"{t[len(t)//2]:.3f}")'
}

echo "== $N charts from one chart repository, $REPS cold run(s) each (median)"
theirs=$(measure env PATH="$TOOLS:$PATH" "$TOOLS/vendir" sync)
ours=$(measure "$VENDORAS" sync --no-cache)
ratio=$(python3 -c "print(f'{$ours / $theirs:.3f}')")
met=$(python3 -c "print('met' if $ours / $theirs <= 0.25 else 'NOT met')")
printf '  vendir sync    %8.3f s\n  vendoras sync  %8.3f s\n' "$theirs" "$ours"
echo "  vendoras / vendir = ${ratio}x (target <= 0.25x: $met)"

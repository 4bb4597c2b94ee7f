# Sourced by the git benches (git.sh, git-sparse.sh): the release binary (or
# $VENDORAS), vendir from the test tools, a scratch directory removed on exit
# (with the `git daemon` whose pid is in $daemon), and git isolated from the
# user's configuration. $1 names the bench in messages.
bench=$1
ROOT=$PWD
TOOLS=${VENDORAS_TOOLS:-$ROOT/target/tools/bin}
if [[ -z ${VENDORAS:-} ]]; then
  cargo build --release --locked -q --bin vendoras
  VENDORAS=$ROOT/target/release/vendoras
fi
VENDORAS=$(realpath "$VENDORAS")
VENDIR=$TOOLS/vendir
for t in git "$VENDIR" "$VENDORAS" python3; do
  command -v "$t" >/dev/null || { echo "bench/$bench: $t not found" >&2; exit 1; }
done

# On tmpfs by default, as bench.sh and http.sh: on ext4 a cold sync that writes
# thousands of files right after the previous run deleted as many measures the
# inode allocator (the same vendoras binary: 1.19 s, 1.48 s, 1.86 s in three
# back-to-back cold syncs of git.sh's 20 repositories; on tmpfs 0.70-0.73 s).
# BENCH_TMPDIR=/tmp measures that instead.
tmpdir=${BENCH_TMPDIR:-/dev/shm}
[[ -d $tmpdir && -w $tmpdir ]] || tmpdir=/tmp
tmp=$(mktemp -d "$tmpdir/vendoras-bench-$bench-XXXXXX")
daemon=
trap '[[ -n $daemon ]] && kill "$daemon" 2>/dev/null; rm -rf "$tmp"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 HOME=$tmp/home
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@x
mkdir -p "$tmp/home" "$tmp/srv"

# Serves the bare repository $1 as a forge keeps one: packed, with a bitmap.
# `git clone --bare` of a local directory copies its loose objects, and from
# loose objects every fetch makes the server's pack-objects compress and
# delta-search each blob again: 5 s of the 6.5 s of CPU one cold sync of
# git.sh's 20 repositories cost, for either tool. A push lands as a pack and
# forges repack; that is the server these benches mean to stand in for.
serve_packed() { git -C "$1" repack -q -a -d -b; }

# Seconds "$@" took (its output in $tmp/out.log, shown if it fails). Read from
# bash's own clock: a python3 per reading added 40-70 ms to every figure,
# more than a whole warm sync of the 20 repositories.
timed() {
  local s=$EPOCHREALTIME
  "$@" >"$tmp/out.log" 2>&1 || { echo "bench/$bench: $* failed:" >&2; cat "$tmp/out.log" >&2; exit 1; }
  python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$s" "$EPOCHREALTIME"; }

# `git daemon` for $tmp/srv on a free loopback port ($port; requests logged to
# $tmp/daemon.log). git daemon listens with a backlog of 5, so 8 jobs connecting
# at once overflow it now and then, and the dropped SYN's 1 s retransmit becomes
# the figure (cold syncs of git.sh at 1.8-1.9 s against 0.7-0.9 s, in 2 of 3
# runs). When systemd-socket-activate is there, it listens instead (backlog
# 4096, as a forge's front end would) and starts `git daemon --inetd` per
# connection, as `git daemon` itself forks per connection.
serve_git_daemon() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local serve=(--export-all --verbose --base-path="$tmp/srv")
  if command -v systemd-socket-activate >/dev/null; then
    systemd-socket-activate -l "127.0.0.1:$port" --inetd -a \
      git daemon --inetd --log-destination=stderr "${serve[@]}" "$tmp/srv" 2>"$tmp/daemon.log" &
    daemon=$!
    for _ in $(seq 50); do grep -q "Listening on" "$tmp/daemon.log" 2>/dev/null && break; sleep 0.1; done
  else
    git daemon --reuseaddr --listen=127.0.0.1 --port="$port" "${serve[@]}" "$tmp/srv" 2>"$tmp/daemon.log" &
    daemon=$!
    for _ in $(seq 50); do grep -q "Ready to rumble" "$tmp/daemon.log" 2>/dev/null && break; sleep 0.1; done
  fi
}

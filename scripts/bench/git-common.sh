# Sourced by the git benches (git.sh, git-sparse.sh): the release binary (or
# $VENDORAS), vendir from the test tools, a scratch directory removed on exit
# (with the `git daemon` whose pid is in $daemon), and git isolated from the
# user's configuration. $1 names the bench in messages.
ROOT=$PWD
TOOLS=${VENDORAS_TOOLS:-$ROOT/target/tools/bin}
if [[ -z ${VENDORAS:-} ]]; then
  cargo build --release --locked -q --bin vendoras
  VENDORAS=$ROOT/target/release/vendoras
fi
VENDORAS=$(realpath "$VENDORAS")
VENDIR=$TOOLS/vendir
for t in git "$VENDIR" "$VENDORAS" python3; do
  command -v "$t" >/dev/null || { echo "bench/$1: $t not found" >&2; exit 1; }
done

tmp=$(mktemp -d)
daemon=
trap '[[ -n $daemon ]] && kill "$daemon" 2>/dev/null; rm -rf "$tmp"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 HOME=$tmp/home
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@x
mkdir -p "$tmp/home" "$tmp/srv"

#!/usr/bin/env bash
# make bench, corpus row (issue 15, item 7): the real-world vendir.yml shapes of
# tests/corpus (each against its loopback stand-ins), one file at a time, synced by
# vendir v0.44.0 and by vendoras cold (empty cache), warm and --locked; prints the
# sums and their ratios. Runs tests/corpus.rs's ignored `corpus_bench` on a release
# build (so the vendoras it times is the release binary). Files whose sync fails on
# purpose (the corpus's deliberate differences) are listed, not counted. Not a test:
# it fails only when the build does.
#
#   scripts/bench/corpus.sh
#   BENCH_TMPDIR=/tmp scripts/bench/corpus.sh   # work dirs on ext4 instead of tmpfs
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tmpdir=${BENCH_TMPDIR:-/dev/shm}
[[ -d $tmpdir && -w $tmpdir ]] || tmpdir=/tmp
echo "== issue 15 / corpus: every real vendir.yml shape of tests/corpus, vendir vs vendoras (work dirs in $tmpdir)"
TMPDIR=$tmpdir cargo test --release --locked -q --test corpus -- --ignored --exact corpus_bench --nocapture 2>&1 \
  | grep -v -e '^running ' -e '^test result' -e '^$' -e '^\.$' -e '^test corpus_bench'

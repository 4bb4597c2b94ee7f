#!/usr/bin/env bash
# Installs what `make fuzz` needs when missing: a nightly toolchain (libFuzzer's
# instrumentation needs -Z flags) and cargo-fuzz 0.13.1 from crates.io.
# Idempotent.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"

CARGO_FUZZ_VERSION=0.13.1

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if [[ $(cargo fuzz --version 2>/dev/null) != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# vendoras — developer entry points. `make test` is what CI (.ci/run) runs.
TOOLS := $(abspath target/tools/bin)
export VENDORAS_TOOLS := $(TOOLS)

.PHONY: all build tools test lint bench quickstart

all: build

build:
	scripts/install-build-deps.sh
	cargo build --locked

# The README's main job: sync examples/quickstart (an OCI layout in the repo) offline.
quickstart:
	scripts/install-build-deps.sh
	cargo run --release --locked -- sync --chdir examples/quickstart

# Test dependencies: docker-registry, htpasswd, openssl, git, hg, ... and, in $(TOOLS),
# the oras CLI, cosign, vendir v0.44.0 (the reference for the non-OCI sources), helm
# and crane (fixture builders).
tools:
	TOOLS=$(TOOLS) scripts/install-test-deps.sh
	TOOLS=$(TOOLS) scripts/install-cosign.sh
	TOOLS=$(TOOLS) scripts/install-vendir.sh
	TOOLS=$(TOOLS) scripts/install-registry-clients.sh

test: tools
	cargo test --locked
	cd go && go test ./...
	cd go && go vet ./...

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	@out=$$(gofmt -l go); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	cd go && go vet ./...

# Figures and ratios against a loopback registry (not a test). BENCH_SCALE=0.05 for a
# quick look; see README "Benchmarks".
bench: tools
	scripts/bench.sh

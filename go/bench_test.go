package main

import (
	"context"
	"os"
	"testing"

	"oras.land/oras-go/v2/registry/remote"
)

// BenchmarkResolve is the "plain oras-go" baseline for the Rust bridge's
// per-resolve overhead: same repository setup, no shim, no JSON, no cgo.
//
//	VENDORAS_BENCH_REF=localhost:5000/bench:v1 go test -bench Resolve -run '^$'
func BenchmarkResolve(b *testing.B) {
	ref := os.Getenv("VENDORAS_BENCH_REF")
	if ref == "" {
		b.Skip("VENDORAS_BENCH_REF not set (e.g. localhost:5000/bench:v1, plain HTTP)")
	}
	repo, err := remote.NewRepository(ref)
	if err != nil {
		b.Fatal(err)
	}
	repo.PlainHTTP = true
	tag := repo.Reference.Reference
	ctx := context.Background()
	if _, err := repo.Resolve(ctx, tag); err != nil { // warm the connection
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := repo.Resolve(ctx, tag); err != nil {
			b.Fatal(err)
		}
	}
}

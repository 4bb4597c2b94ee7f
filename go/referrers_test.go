package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
)

// One repository's 404 from the referrers API sends the next repository of
// the same registry straight to the tag schema; a registry that serves the
// API is still asked.
func TestReferrersCapabilityIsLearntPerRegistry(t *testing.T) {
	for _, serves := range []bool{false, true} {
		var mu sync.Mutex
		seen := map[string]int{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[r.URL.Path]++
			mu.Unlock()
			if serves && strings.Contains(r.URL.Path, "/referrers/") {
				w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
				_ = json.NewEncoder(w).Encode(ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}})
				return
			}
			http.NotFound(w, r)
		}))
		host := strings.TrimPrefix(srv.URL, "http://")
		subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("subject"), Size: 7}
		api := func(repo string) string { return "/v2/" + repo + "/referrers/" + subject.Digest.String() }
		list := func(name string) {
			t.Helper()
			req := &openRequest{Kind: "remote", Repository: host + "/" + name}
			client, err := newAuthClient(req)
			if err != nil {
				t.Fatal(err)
			}
			repo, err := remote.NewRepository(host + "/" + name)
			if err != nil {
				t.Fatal(err)
			}
			repo.PlainHTTP = true
			repo.Client = client
			learnReferrersCapability(repo)
			if _, err := registry.Referrers(context.Background(), repo, subject, ""); err != nil && !isNotFound(err) {
				t.Fatalf("%s: %v", name, err)
			}
		}
		list("a")
		list("b")
		mu.Lock()
		a, b := seen[api("a")], seen[api("b")]
		mu.Unlock()
		if a != 1 {
			t.Fatalf("serves=%v: the first repository asked the API %d times, want 1", serves, a)
		}
		if want := map[bool]int{false: 0, true: 1}[serves]; b != want {
			t.Fatalf("serves=%v: the second repository asked the API %d times, want %d", serves, b, want)
		}
		srv.Close()
	}
}

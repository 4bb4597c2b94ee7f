package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeRegistry is just enough of the distribution API for the shim: manifests
// by tag/digest, blobs, paginated tags, no referrers API (404 -> oras-go falls
// back to the sha256-<hex> tag schema).
type fakeRegistry struct {
	mu        sync.Mutex
	manifests map[string][]byte // tag or digest -> bytes
	blobs     map[digest.Digest][]byte
	tags      []string
	user      string // basic auth required when set
	pass      string
	status    map[string]int // path -> forced status
	blobHook  func(w http.ResponseWriter, r *http.Request, b []byte) bool
	agents    []string
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{
		manifests: map[string][]byte{},
		blobs:     map[digest.Digest][]byte{},
		status:    map[string]int{},
	}
}

func (f *fakeRegistry) addBlob(b []byte) ocispec.Descriptor {
	d := digest.FromBytes(b)
	f.blobs[d] = b
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: int64(len(b))}
}

func (f *fakeRegistry) addManifest(tag string, layers ...ocispec.Descriptor) ocispec.Descriptor {
	cfg := f.addBlob([]byte("{}"))
	cfg.MediaType = ocispec.MediaTypeEmptyJSON
	b, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfg,
		Layers:    layers,
	})
	d := digest.FromBytes(b)
	f.manifests[d.String()] = b
	if tag != "" {
		f.manifests[tag] = b
		f.tags = append(f.tags, tag)
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: d, Size: int64(len(b))}
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.agents = append(f.agents, r.UserAgent())
	code, forced := f.status[r.URL.Path]
	f.mu.Unlock()
	if f.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != f.user || p != f.pass {
			w.Header().Set("Www-Authenticate", `Basic realm="fake"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
	}
	if forced {
		w.WriteHeader(code)
		return
	}
	path := r.URL.Path
	const prefix = "/v2/repo/"
	switch {
	case path == "/v2/":
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(path, prefix+"manifests/"):
		b, ok := f.manifests[strings.TrimPrefix(path, prefix+"manifests/")]
		if !ok {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
		w.Header().Set("Docker-Content-Digest", digest.FromBytes(b).String())
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(b)
		}
	case strings.HasPrefix(path, prefix+"blobs/"):
		d := digest.Digest(strings.TrimPrefix(path, prefix+"blobs/"))
		b, ok := f.blobs[d]
		if !ok {
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}`, http.StatusNotFound)
			return
		}
		if f.blobHook != nil && f.blobHook(w, r, b) {
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	case path == prefix+"tags/list":
		// One tag per page to prove every page is walked.
		last := r.URL.Query().Get("last")
		i := 0
		for i < len(f.tags) && last != "" && f.tags[i] <= last {
			i++
		}
		page := f.tags[i:min(i+1, len(f.tags))]
		if i+1 < len(f.tags) {
			w.Header().Set("Link", fmt.Sprintf(`</v2/repo/tags/list?n=1&last=%s>; rel="next"`, page[0]))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "repo", "tags": page})
	default:
		http.NotFound(w, r)
	}
}

func startRegistry(t *testing.T, f *fakeRegistry) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv
}

func remoteReq(srv *httptest.Server, extra map[string]any) map[string]any {
	req := map[string]any{
		"kind":       "remote",
		"repository": strings.TrimPrefix(srv.URL, "http://") + "/repo",
		"plain_http": true,
		"user_agent": "vendoras-test/1",
	}
	for k, v := range extra {
		req[k] = v
	}
	return req
}

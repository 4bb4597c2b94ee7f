package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
)

// Trust material for keyless verification: a trusted_root.json given by the
// user (private or air-gapped Sigstore: then no network call at all), or
// the Sigstore public-good root through TUF. The TUF client is sigstore-go's
// with a bounded HTTP timeout, the cache under the directory Rust passes
// (the user cache dir) and no LiveTrustedRoot, so no background refresh.
// The root is fetched at most once per process and cache directory.

const (
	defaultTUFTimeout = 60 * time.Second
	// tufCacheValidityDays: refresh the TUF metadata at most daily; expired
	// metadata is refreshed regardless (sigstore-go's rule).
	tufCacheValidityDays = 1
)

var (
	tufMu    sync.Mutex
	tufRoots = map[string]*root.TrustedRoot{}
)

func loadTrustedRoot(ctx context.Context, req *verifyRequest) (*root.TrustedRoot, *vdrError) {
	switch {
	case req.TrustedRootJSON != "":
		tr, err := root.NewTrustedRootFromJSON([]byte(req.TrustedRootJSON))
		if err != nil {
			return nil, invalidf("trusted root: %v", err)
		}
		return tr, nil
	case req.TrustedRootPath != "":
		tr, err := root.NewTrustedRootFromPath(req.TrustedRootPath)
		if err != nil {
			return nil, invalidf("trusted root %s: %v", req.TrustedRootPath, err)
		}
		return tr, nil
	}
	return publicGoodRoot(ctx, req.TUFCacheDir, req.TUFTimeoutSeconds)
}

func publicGoodRoot(ctx context.Context, cacheDir string, timeoutSeconds int) (*root.TrustedRoot, *vdrError) {
	tufMu.Lock()
	defer tufMu.Unlock()
	if tr, ok := tufRoots[cacheDir]; ok {
		return tr, nil
	}
	timeout := defaultTUFTimeout
	if timeoutSeconds > 0 {
		timeout = time.Duration(timeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	opts := tuf.DefaultOptions().WithContext(ctx).WithCacheValidity(tufCacheValidityDays)
	if cacheDir != "" {
		opts = opts.WithCachePath(cacheDir)
	} else {
		opts = opts.WithDisableLocalCache()
	}
	f := fetcher.NewDefaultFetcher()
	f.SetHTTPUserAgent("vendoras")
	f.SetHTTPClient(&http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second},
	})
	opts = opts.WithFetcher(f)

	type result struct {
		tr  *root.TrustedRoot
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("panic: %v", r)}
			}
		}()
		c, err := tuf.New(opts)
		if err != nil {
			done <- result{err: err}
			return
		}
		tr, err := root.GetTrustedRoot(c)
		done <- result{tr: tr, err: err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, newError(codeNetwork, fmt.Sprintf(
				"fetching the Sigstore public-good trusted root via TUF (cache %s): %v; "+
					"for private or air-gapped Sigstore give a trusted root file", cacheDir, r.err))
		}
		tufRoots[cacheDir] = r.tr
		return r.tr, nil
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			return nil, newError(codeNetwork, fmt.Sprintf(
				"fetching the Sigstore public-good trusted root via TUF timed out after %s", timeout))
		}
		return nil, newError(codeCancelled, "cancelled while fetching the Sigstore trusted root")
	}
}

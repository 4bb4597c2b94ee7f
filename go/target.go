package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
)

// readTarget is what both *remote.Repository and *oci.ReadOnlyStore offer:
// enough for oras.Resolve, Fetch, registry.Tags and registry.Referrers.
type readTarget interface {
	oras.ReadOnlyGraphTarget
	registry.TagLister
}

type target struct {
	rt readTarget
}

// close releases the target. Its transport is shared by every target with
// the same TLS settings (transport.go), so idle connections stay for reuse.
func (t *target) close() {}

// openRequest is the vdr_target_open request (docs/ffi.md). Unknown fields are
// ignored so either side can grow the request first.
type openRequest struct {
	Kind string `json:"kind"`

	// kind "remote"
	Repository      string         `json:"repository"`
	PlainHTTP       *bool          `json:"plain_http"`
	Insecure        bool           `json:"insecure"`
	CAFiles         []string       `json:"ca_files"`
	Credential      *credentialReq `json:"credential"`
	RegistryConfigs []string       `json:"registry_configs"`
	DockerConfig    string         `json:"docker_config"`
	UserAgent       string         `json:"user_agent"`
	// No-progress timeout of every transfer, in ms; 0 = 60 s (stall.go).
	StallTimeoutMS int64 `json:"stall_timeout_ms"`

	// kind "oci_layout"
	Path string `json:"path"`
}

func openTarget(reqJSON string) (uint64, *vdrError) {
	var req openRequest
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		return 0, invalidf("bad target request: %v", err)
	}
	var (
		t    *target
		verr *vdrError
	)
	switch req.Kind {
	case "remote":
		t, verr = openRemote(&req)
	case "oci_layout":
		t, verr = openLayout(&req)
	default:
		return 0, invalidf("unknown target kind %q", req.Kind)
	}
	if verr != nil {
		return 0, verr
	}
	return targetAdd(t), nil
}

// openRemote is oras option.Remote.NewRepository.
func openRemote(req *openRequest) (*target, *vdrError) {
	ref, err := registry.ParseReference(req.Repository)
	if err != nil {
		return nil, invalidf("%q: %v", req.Repository, err)
	}
	if ref.Reference != "" {
		return nil, invalidf("%q: repository must not carry a tag or digest", req.Repository)
	}
	repo, err := remote.NewRepository(req.Repository)
	if err != nil {
		return nil, invalidf("%q: %v", req.Repository, err)
	}
	repo.PlainHTTP = isPlainHTTP(repo.Reference.Registry, req.PlainHTTP)
	client, err := newAuthClient(req)
	if err != nil {
		verr := toError(nil, err)
		if verr.Code == codeInternal { // e.g. unparsable PEM or config.json
			verr = newError(codeInvalid, err.Error())
		}
		return nil, verr
	}
	repo.Client = client
	repo.SkipReferrersGC = true // as oras; we never delete anyway
	return &target{rt: repo}, nil
}

// openLayout is oras option.Target.NewReadonlyTarget for --oci-layout: a
// directory via os.DirFS, anything else as a tar archive. Read-only, so a
// vendored layout is never modified.
func openLayout(req *openRequest) (*target, *vdrError) {
	if req.Path == "" {
		return nil, invalidf("oci_layout target needs a path")
	}
	ctx := context.Background()
	info, err := os.Stat(req.Path)
	if err != nil {
		return nil, newError(codeIO, err.Error())
	}
	var store *oci.ReadOnlyStore
	if info.IsDir() {
		store, err = oci.NewFromFS(ctx, os.DirFS(req.Path))
	} else {
		store, err = oci.NewFromTar(ctx, req.Path)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%q does not look like a tar archive: %w", req.Path, err)
		}
	}
	if err != nil {
		// A broken layout is a local I/O problem, whatever the inner cause.
		return nil, newError(codeIO, err.Error())
	}
	return &target{rt: store}, nil
}

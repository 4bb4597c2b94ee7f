package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
)

type resolveRequest struct {
	Reference string `json:"reference"`
	Platform  string `json:"platform"`
}

func resolve(tid, oid uint64, reqJSON string) ([]byte, *vdrError) {
	t, ctx, verr := lookup(tid, oid)
	if verr != nil {
		return nil, verr
	}
	var req resolveRequest
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		return nil, invalidf("bad resolve request: %v", err)
	}
	if req.Reference == "" {
		return nil, invalidf("resolve needs a tag or digest")
	}
	var desc ocispec.Descriptor
	var err error
	if req.Platform != "" {
		p, perr := parsePlatform(req.Platform)
		if perr != nil {
			return nil, newError(codeInvalid, perr.Error())
		}
		// Reads the index body: retried whole if it stalls.
		desc, err = retryStalls(ctx, func() (ocispec.Descriptor, error) {
			return oras.Resolve(ctx, t, req.Reference, oras.ResolveOptions{TargetPlatform: p})
		})
	} else {
		desc, err = t.Resolve(ctx, req.Reference)
	}
	if err != nil {
		return nil, toError(ctx, err)
	}
	return marshalOut(desc)
}

// parsePlatform is oras option/platform.go parsePlatform:
// os[/arch[/variant]][:os_version]; a bare os takes the host's arch as oras does.
func parsePlatform(s string) (*ocispec.Platform, error) {
	var p ocispec.Platform
	platformPart, osVersion, _ := strings.Cut(s, ":")
	p.OSVersion = osVersion
	parts := strings.Split(platformPart, "/")
	switch len(parts) {
	case 3:
		p.Variant = parts[2]
		fallthrough
	case 2:
		p.Architecture = parts[1]
	case 1:
		p.Architecture = runtime.GOARCH
	default:
		return nil, fmt.Errorf("failed to parse platform %q: expected format os[/arch[/variant]]", s)
	}
	p.OS = parts[0]
	if p.OS == "" {
		return nil, fmt.Errorf("invalid platform: OS cannot be empty")
	}
	if p.Architecture == "" {
		return nil, fmt.Errorf("invalid platform: Architecture cannot be empty")
	}
	return &p, nil
}

func marshalOut(v any) ([]byte, *vdrError) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, newError(codeInternal, err.Error())
	}
	return b, nil
}

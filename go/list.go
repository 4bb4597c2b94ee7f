package main

import (
	"encoding/json"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
)

type tagsResponse struct {
	Tags []string `json:"tags"`
}

// listTags walks every page (registry.Tags); the OCI store lists index.json
// tags.
func listTags(tid, oid uint64) ([]byte, *vdrError) {
	t, ctx, verr := lookup(tid, oid)
	if verr != nil {
		return nil, verr
	}
	tags, err := retryStalls(ctx, func() ([]string, error) { return registry.Tags(ctx, t) })
	if err != nil {
		return nil, toError(ctx, err)
	}
	if tags == nil {
		tags = []string{} // always an array, never null
	}
	return marshalOut(tagsResponse{Tags: tags})
}

type referrersRequest struct {
	Descriptor   *ocispec.Descriptor `json:"descriptor"`
	ArtifactType string              `json:"artifact_type"`
}

type referrersResponse struct {
	Manifests []ocispec.Descriptor `json:"manifests"`
}

// referrers uses registry.Referrers: the Referrers API with the sha256-<hex>
// tag-schema fallback for remotes, the predecessor graph for OCI layouts.
func referrers(tid, oid uint64, reqJSON string) ([]byte, *vdrError) {
	t, ctx, verr := lookup(tid, oid)
	if verr != nil {
		return nil, verr
	}
	var req referrersRequest
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		return nil, invalidf("bad referrers request: %v", err)
	}
	if req.Descriptor == nil {
		return nil, invalidf("referrers request needs a descriptor")
	}
	if err := req.Descriptor.Digest.Validate(); err != nil {
		return nil, invalidf("bad descriptor digest %q: %v", req.Descriptor.Digest, err)
	}
	descs, err := registry.Referrers(ctx, t, *req.Descriptor, req.ArtifactType)
	if err != nil {
		return nil, toError(ctx, err)
	}
	if descs == nil {
		descs = []ocispec.Descriptor{}
	}
	return marshalOut(referrersResponse{Manifests: descs})
}

package main

import (
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

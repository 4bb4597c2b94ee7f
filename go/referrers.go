package main

import (
	"net/http"
	"regexp"
	"sync"

	"oras.land/oras-go/v2/registry/remote"
)

// Registries known, in this process, not to serve the OCI 1.1 referrers API.
// oras-go learns that per repository (its first Referrers call asks the API,
// gets a 404 and falls back to the sha256-<hex> tag); a sync verifying a
// hundred repositories on one registry would ask a hundred times. The API is
// a property of the registry, so one 404 from it tells every repository of
// that host to go to the tag schema at once.
var noReferrersAPI sync.Map // registry host -> true

// referrersAPIPath is the referrers API's path (distribution-spec v1.1).
var referrersAPIPath = regexp.MustCompile(`^/v2/.+/referrers/[a-z0-9]+:[a-f0-9]+$`)

// referrersWatch notes a registry whose referrers API answered 404.
type referrersWatch struct {
	base http.RoundTripper
}

func (w referrersWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusNotFound && req.Method == http.MethodGet &&
		referrersAPIPath.MatchString(req.URL.Path) {
		noReferrersAPI.Store(req.URL.Host, true)
	}
	return resp, err
}

// learnReferrersCapability tells repo what another repository of its registry
// already showed: no referrers API. A state already set stays.
func learnReferrersCapability(repo *remote.Repository) {
	if _, ok := noReferrersAPI.Load(repo.Reference.Host()); ok {
		_ = repo.SetReferrersCapability(false)
	}
}

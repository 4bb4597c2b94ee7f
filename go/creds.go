package main

import (
	"context"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

type credentialReq struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// storeOptions are the ones oras CLI uses (internal/credential/store.go). We
// only ever Get, so AllowPlaintextPut has no effect; DetectDefaultNativeStore
// stays false exactly like oras (it would pick "pass"/"secretservice" for a
// config without auths, which oras does not do).
var storeOptions = credentials.StoreOptions{AllowPlaintextPut: true}

// credentialFunc mirrors oras option.Remote.authClient:
//   - a non-empty static credential (oras -u/-p) wins;
//   - else every registry_configs file, first hit wins (NewStoreWithFallbacks);
//   - else the docker config path Rust resolved (oras: NewStoreFromDocker,
//     which reads DOCKER_CONFIG itself; Go's env is a stale snapshot, so the
//     path must come in the request);
//   - else anonymous.
func credentialFunc(c *credentialReq, registryConfigs []string, dockerConfig string) (auth.CredentialFunc, error) {
	if c != nil {
		cred := auth.Credential{
			Username:     c.Username,
			Password:     c.Password,
			AccessToken:  c.AccessToken,
			RefreshToken: c.RefreshToken,
		}
		if cred != auth.EmptyCredential {
			// Like oras: returned for whatever host asks (not StaticCredential,
			// which would also need the docker.io -> registry-1 mapping).
			return func(context.Context, string) (auth.Credential, error) {
				return cred, nil
			}, nil
		}
	}
	var paths []string
	switch {
	case len(registryConfigs) > 0:
		paths = registryConfigs
	case dockerConfig != "":
		paths = []string{dockerConfig}
	default:
		return nil, nil
	}
	stores := make([]credentials.Store, 0, len(paths))
	for _, p := range paths {
		s, err := credentials.NewStore(p, storeOptions)
		if err != nil {
			return nil, err
		}
		stores = append(stores, s)
	}
	return credentials.Credential(credentials.NewStoreWithFallbacks(stores[0], stores[1:]...)), nil
}

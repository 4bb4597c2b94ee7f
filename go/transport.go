package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// isPlainHTTP is oras option.Remote.isPlainHTTP: an explicit setting wins,
// otherwise plain HTTP only for "localhost" and "localhost:<port>".
func isPlainHTTP(registry string, explicit *bool) bool {
	if explicit != nil {
		return *explicit
	}
	host, _, _ := net.SplitHostPort(registry)
	return host == "localhost" || registry == "localhost"
}

// tlsConfig mirrors oras option.Remote.tlsConfig: CA files *replace* the
// system roots (oras crypto.LoadCertPool starts from an empty pool).
func tlsConfig(insecure bool, caFiles []string) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: insecure} //nolint:gosec // user asked for --insecure
	if len(caFiles) == 0 {
		return cfg, nil
	}
	pool := x509.NewCertPool()
	for _, path := range caFiles {
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("Failed to load certificate in file: " + path)
		}
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// transports holds one *http.Transport per TLS setting, shared by every
// target of the process: a sync opening a hundred repositories on one
// registry then reuses keep-alive connections instead of dialling (and
// handshaking) a hundred times. Keyed by the settings, not the config value.
var transports sync.Map // string -> *http.Transport

func sharedTransport(insecure bool, caFiles []string, cfg *tls.Config) (*http.Transport, error) {
	key, err := json.Marshal(struct {
		Insecure bool
		CAFiles  []string
	}{insecure, caFiles})
	if err != nil {
		return nil, err
	}
	if t, ok := transports.Load(string(key)); ok {
		return t.(*http.Transport), nil
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = cfg
	base.MaxIdleConnsPerHost = 16
	// Plain HTTP requests carry their caller's proxy settings (http.go);
	// registry requests keep Go's environment rule.
	base.Proxy = proxyFor
	t, _ := transports.LoadOrStore(string(key), base)
	return t.(*http.Transport), nil
}

// newAuthClient builds the same client stack as oras option.Remote.authClient
// (minus client certs, --resolve and custom headers, which vendoras does not
// expose): DefaultTransport clone + TLS -> stall timer -> retry.Transport ->
// auth.Client.
func newAuthClient(req *openRequest) (*auth.Client, error) {
	cfg, err := tlsConfig(req.Insecure, req.CAFiles)
	if err != nil {
		return nil, err
	}
	base, err := sharedTransport(req.Insecure, req.CAFiles, cfg)
	if err != nil {
		return nil, err
	}
	credFn, err := credentialFunc(req.Credential, req.RegistryConfigs, req.DockerConfig)
	if err != nil {
		return nil, err
	}
	stall := defaultStallTimeout
	if req.StallTimeoutMS > 0 {
		stall = time.Duration(req.StallTimeoutMS) * time.Millisecond
	}
	// The stall timer sits under the retry transport, so a request whose
	// response never starts is retried like any timeout (stall.go).
	client := &auth.Client{
		Client: &http.Client{Transport: referrersWatch{
			base: retry.NewTransport(&stallTransport{base: base, timeout: stall}),
		}},
		Cache:      auth.NewCache(),
		Credential: credFn,
	}
	if req.UserAgent != "" {
		client.SetUserAgent(req.UserAgent)
	}
	return client, nil
}

package testsigner

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// The identity lands in the SAN Fulcio would use: a URI for a CI workflow,
// an email otherwise; in both layouts.
func TestIdentityKinds(t *testing.T) {
	const digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	for _, tc := range []struct {
		identity   string
		uri, email string
	}{
		{"https://github.com/o/r/.github/workflows/w.yaml@refs/heads/main", "https://github.com/o/r/.github/workflows/w.yaml@refs/heads/main", ""},
		{"alice@example.com", "", "alice@example.com"},
	} {
		out, err := Sign(tc.identity, "https://issuer.example", digest, "r/x")
		if err != nil {
			t.Fatal(err)
		}
		var b bundle.Bundle
		if err := b.UnmarshalJSON(out.Bundle); err != nil {
			t.Fatal(err)
		}
		vc, err := b.VerificationContent()
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode([]byte(out.LegacyAnnotations["dev.sigstore.cosign/certificate"]))
		legacy, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		for layout, c := range map[string]*x509.Certificate{"bundle": vc.Certificate(), "legacy": legacy} {
			var uri, email string
			if len(c.URIs) == 1 {
				uri = c.URIs[0].String()
			}
			if len(c.EmailAddresses) == 1 {
				email = c.EmailAddresses[0]
			}
			if uri != tc.uri || email != tc.email || len(c.URIs)+len(c.EmailAddresses) != 1 {
				t.Errorf("%s %s: URIs %v, emails %v", tc.identity, layout, c.URIs, c.EmailAddresses)
			}
		}
	}
}

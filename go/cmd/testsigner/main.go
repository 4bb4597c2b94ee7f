// Command testsigner makes keyless cosign-style signatures for vendoras'
// integration tests, fully offline: a test Fulcio CA with sigstore-go's
// VirtualSigstore (Rekor log and timestamping authority) signs a manifest
// digest for a chosen certificate identity (an email SAN, or a URI SAN when
// it has a scheme, as for a CI workflow) and OIDC issuer, and writes the
// trusted_root.json that trusts it.
//
//	testsigner -identity ID -issuer URL -digest sha256:HEX -name REPO -out DIR
//
// writes into DIR:
//
//	bundle.json              cosign v3 layout: a Sigstore bundle v0.3 (DSSE envelope
//	                         around an in-toto statement whose subject is the digest)
//	legacy_payload.json      cosign <= v2 layout: the simplesigning payload ...
//	legacy_annotations.json  ... and its layer annotations (signature, certificate,
//	                         chain, Rekor bundle with SET, RFC 3161 timestamp)
//	trusted_root.json        trusts this signer (Fulcio CA, Rekor, TSA; no CT log,
//	                         as the virtual Fulcio issues no SCTs)
//	untrusted_root.json      an unrelated VirtualSigstore: trusts nothing above
//	blob.sigstore.json       `cosign sign-blob --bundle` (v3) of a file whose sha256
//	                         is the digest: bundle v0.3 with a message signature
//	blob.bundle              the same in cosign <= v2's sign-blob bundle format
//	attestation.json         a GitHub artifact attestation of that file (bundle v0.3,
//	                         DSSE, in-toto statement with SLSA provenance v1)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"vendoras.dev/shim/internal/testsigner"
)

func main() {
	identity := flag.String("identity", "", "certificate identity (email, or URI with a scheme)")
	issuer := flag.String("issuer", "", "OIDC issuer")
	digest := flag.String("digest", "", "manifest digest to sign, sha256:<hex>")
	name := flag.String("name", "", "repository name for the claim (docker-reference)")
	out := flag.String("out", "", "output directory")
	flag.Parse()
	if *identity == "" || *issuer == "" || !strings.HasPrefix(*digest, "sha256:") || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*identity, *issuer, *digest, *name, *out); err != nil {
		fmt.Fprintln(os.Stderr, "testsigner:", err)
		os.Exit(1)
	}
}

func run(identity, issuer, digest, name, out string) error {
	o, err := testsigner.Sign(identity, issuer, digest, name)
	if err != nil {
		return err
	}
	ann, err := json.MarshalIndent(o.LegacyAnnotations, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for file, b := range map[string][]byte{
		"bundle.json":             o.Bundle,
		"legacy_payload.json":     o.LegacyPayload,
		"legacy_annotations.json": ann,
		"trusted_root.json":       o.TrustedRoot,
		"untrusted_root.json":     o.UntrustedRoot,
		"blob.sigstore.json":      o.BlobBundle,
		"blob.bundle":             o.BlobLegacyBundle,
		"attestation.json":        o.Attestation,
	} {
		if err := os.WriteFile(filepath.Join(out, file), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

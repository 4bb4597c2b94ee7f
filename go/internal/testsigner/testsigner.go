// Package testsigner makes keyless cosign-style signatures for tests, fully
// offline, on sigstore-go's VirtualSigstore (fake Fulcio CA, Rekor log and
// timestamping authority): both the cosign v3 bundle and the cosign <= v2
// .sig layer of a manifest digest, and the trusted_root.json that trusts
// them. Used by go/cmd/testsigner (the integration tests) and the Go unit
// tests of the shim.
package testsigner

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Output is one signing: both layouts and the roots.
type Output struct {
	// Bundle is the cosign v3 layout: a Sigstore bundle v0.3 (DSSE envelope
	// around an in-toto statement whose subject is the digest).
	Bundle []byte
	// LegacyPayload and LegacyAnnotations are the cosign <= v2 layout: the
	// simplesigning payload and its layer annotations (signature,
	// certificate, chain, Rekor bundle with SET, RFC 3161 timestamp).
	LegacyPayload     []byte
	LegacyAnnotations map[string]string
	// TrustedRoot trusts this signer (Fulcio CA, Rekor, TSA; no CT log, as
	// the virtual Fulcio issues no SCTs).
	TrustedRoot []byte
	// UntrustedRoot is an unrelated VirtualSigstore's: it trusts nothing above.
	UntrustedRoot []byte
}

// Sign signs digest (sha256:<hex>) for the certificate identity (email SAN)
// and OIDC issuer; name is the repository the claims name.
func Sign(identity, issuer, digest, name string) (*Output, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	other, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	var out Output
	if out.TrustedRoot, err = trustedRoot(vs); err != nil {
		return nil, err
	}
	if out.UntrustedRoot, err = trustedRoot(other); err != nil {
		return nil, err
	}
	if out.Bundle, err = v3Bundle(vs, identity, issuer, digest, name); err != nil {
		return nil, err
	}
	if out.LegacyPayload, out.LegacyAnnotations, err = legacySignature(vs, identity, issuer, digest, name); err != nil {
		return nil, err
	}
	return &out, nil
}

func trustedRoot(vs *ca.VirtualSigstore) ([]byte, error) {
	// VirtualSigstore keys its logs by the hex log id but sets ID to that
	// hex text; a trusted_root.json carries the raw id, so fix it up or the
	// file would not name the log that signed.
	logs := map[string]*root.TransparencyLog{}
	for k, tl := range vs.RekorLogs() {
		raw, err := hex.DecodeString(k)
		if err != nil {
			return nil, err
		}
		c := *tl
		c.ID = raw
		logs[k] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(),
		map[string]*root.TransparencyLog{}, vs.TimestampingAuthorities(), logs)
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// v3Bundle is what `cosign sign` (v3) attaches as a referrer.
func v3Bundle(vs *ca.VirtualSigstore, identity, issuer, digest, name string) ([]byte, error) {
	statement, err := json.Marshal(map[string]any{
		"_type": "https://in-toto.io/Statement/v1",
		"subject": []any{map[string]any{
			"name":   name,
			"digest": map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")},
		}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	if err != nil {
		return nil, err
	}
	// Within the leaf certificate's 10 minutes, as VirtualSigstore.Attest.
	entity, err := vs.AttestAtTime(identity, issuer, statement, time.Now().Add(5*time.Minute), true)
	if err != nil {
		return nil, err
	}
	vc, _ := entity.VerificationContent()
	sc, _ := entity.SignatureContent()
	env := sc.EnvelopeContent().RawEnvelope()
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, err
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		return nil, err
	}
	entries, _ := entity.TlogEntries()
	tle, err := protoEntry(entries[0])
	if err != nil {
		return nil, err
	}
	// The inclusion promise (SET) too, as Rekor v1 gives it: it is what makes
	// the integrated time a verified timestamp (cosign verify requires one).
	set, err := vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
		IntegratedTime: tle.IntegratedTime,
		LogIndex:       tle.LogIndex,
		LogID:          hex.EncodeToString(tle.LogId.KeyId),
	})
	if err != nil {
		return nil, err
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	ts, _ := entity.Timestamps()
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_Certificate{
				Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw},
			},
			TlogEntries:               []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: rfc3161(ts)},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     payload,
			PayloadType: env.PayloadType,
			Signatures:  []*protodsse.Signature{{Sig: sig}},
		}},
	}
	b, err := bundle.NewBundle(pb) // validates
	if err != nil {
		return nil, err
	}
	return b.MarshalJSON()
}

func rfc3161(ts [][]byte) []*protocommon.RFC3161SignedTimestamp {
	var out []*protocommon.RFC3161SignedTimestamp
	for _, t := range ts {
		out = append(out, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: t})
	}
	return out
}

// protoEntry completes sigstore-go's entry proto with the kind and version
// of the canonicalized body.
func protoEntry(e *tlog.Entry) (*protorekor.TransparencyLogEntry, error) {
	tle := e.TransparencyLogEntry()
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(tle.CanonicalizedBody, &kv); err != nil {
		return nil, err
	}
	tle.KindVersion = &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion}
	return tle, nil
}

// legacySignature is what `cosign sign --new-bundle-format=false` (<= v2
// layout) pushes as one layer of the sha256-<hex>.sig manifest.
func legacySignature(vs *ca.VirtualSigstore, identity, issuer, digest, name string) ([]byte, map[string]string, error) {
	payload, err := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": name},
			"image":    map[string]string{"docker-manifest-digest": digest},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	if err != nil {
		return nil, nil, err
	}
	entity, err := vs.SignAtTime(identity, issuer, payload, time.Now().Add(5*time.Minute))
	if err != nil {
		return nil, nil, err
	}
	vc, _ := entity.VerificationContent()
	sc, _ := entity.SignatureContent()
	certPEM, err := cryptoutils.MarshalCertificateToPEM(vc.Certificate())
	if err != nil {
		return nil, nil, err
	}
	fulcio := vs.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority)
	chainPEM, err := cryptoutils.MarshalCertificatesToPEM(append(fulcio.Intermediates, fulcio.Root))
	if err != nil {
		return nil, nil, err
	}
	entries, _ := entity.TlogEntries()
	tle := entries[0].TransparencyLogEntry()
	rp := tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
		IntegratedTime: tle.IntegratedTime,
		LogIndex:       tle.LogIndex,
		LogID:          hex.EncodeToString(tle.LogId.KeyId),
	}
	set, err := vs.RekorSignPayload(rp)
	if err != nil {
		return nil, nil, err
	}
	rekorBundle, err := json.Marshal(map[string]any{
		"SignedEntryTimestamp": base64.StdEncoding.EncodeToString(set),
		"Payload": map[string]any{
			"body":           rp.Body,
			"integratedTime": rp.IntegratedTime,
			"logIndex":       rp.LogIndex,
			"logID":          rp.LogID,
		},
	})
	if err != nil {
		return nil, nil, err
	}
	ts, _ := entity.Timestamps()
	ann := map[string]string{
		"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sc.MessageSignatureContent().Signature()),
		"dev.sigstore.cosign/certificate":    string(certPEM),
		"dev.sigstore.cosign/chain":          string(chainPEM),
		"dev.sigstore.cosign/bundle":         string(rekorBundle),
	}
	if len(ts) > 0 {
		tsJSON, _ := json.Marshal(map[string]string{"SignedRFC3161Timestamp": base64.StdEncoding.EncodeToString(ts[0])})
		ann["dev.sigstore.cosign/rfc3161timestamp"] = string(tsJSON)
	}
	return payload, ann, nil
}

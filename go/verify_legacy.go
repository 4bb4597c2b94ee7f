package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// rekorBundle is cosign's dev.sigstore.cosign/bundle annotation: a Rekor
// entry with its signed entry timestamp (SET).
type rekorBundle struct {
	SignedEntryTimestamp string `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

// legacyBundle rebuilds, from a cosign <= v2 signature layer, the Sigstore
// bundle (v0.1: certificate chain, message signature over the payload,
// Rekor entry with its SET, RFC 3161 timestamps) that cosign itself builds
// when it verifies such a signature, so one verifier (sigstore-go) checks
// both layouts.
func legacyBundle(c *candidate) (*bundle.Bundle, error) {
	sig, err := decodeB64(c.annotations[annSignature])
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("no readable %s annotation", annSignature)
	}
	certPEM := c.annotations[annCertificate]
	if certPEM == "" {
		return nil, fmt.Errorf("no certificate (%s annotation): signed with a key, not keyless", annCertificate)
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(certPEM))
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("unreadable certificate annotation: %v", err)
	}
	chain := []*protocommon.X509Certificate{{RawBytes: certs[0].Raw}}
	if chainPEM := c.annotations[annChain]; chainPEM != "" {
		more, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(chainPEM))
		if err != nil {
			return nil, fmt.Errorf("unreadable certificate chain annotation: %v", err)
		}
		for _, m := range more {
			chain = append(chain, &protocommon.X509Certificate{RawBytes: m.Raw})
		}
	}
	sum := sha256.Sum256(c.payload)
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_X509CertificateChain{
				X509CertificateChain: &protocommon.X509CertificateChain{Certificates: chain},
			},
			TimestampVerificationData: &protobundle.TimestampVerificationData{},
		},
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sum[:]},
			Signature:     sig,
		}},
	}
	if raw := c.annotations[annRekorBundle]; raw != "" {
		entry, err := legacyTlogEntry(raw)
		if err != nil {
			return nil, err
		}
		pb.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{entry}
	}
	if raw := c.annotations[annRFC3161]; raw != "" {
		var ts struct {
			SignedRFC3161Timestamp string `json:"SignedRFC3161Timestamp"`
		}
		if err := json.Unmarshal([]byte(raw), &ts); err != nil {
			return nil, fmt.Errorf("unreadable %s annotation: %v", annRFC3161, err)
		}
		der, err := decodeB64(ts.SignedRFC3161Timestamp)
		if err != nil {
			return nil, fmt.Errorf("unreadable %s annotation: %v", annRFC3161, err)
		}
		pb.VerificationMaterial.TimestampVerificationData.Rfc3161Timestamps = append(
			pb.VerificationMaterial.TimestampVerificationData.Rfc3161Timestamps,
			&protocommon.RFC3161SignedTimestamp{SignedTimestamp: der})
	}
	if len(pb.VerificationMaterial.TlogEntries) == 0 {
		// v0.1 insists on an inclusion promise when there are entries only,
		// but reads as "legacy"; v0.2 carries timestamps alone just as well.
		pb.MediaType = "application/vnd.dev.sigstore.bundle+json;version=0.2"
	}
	return bundle.NewBundle(pb)
}

func legacyTlogEntry(raw string) (*protorekor.TransparencyLogEntry, error) {
	var rb rekorBundle
	if err := json.Unmarshal([]byte(raw), &rb); err != nil {
		return nil, fmt.Errorf("unreadable %s annotation: %v", annRekorBundle, err)
	}
	body, err := decodeB64(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("unreadable Rekor entry body: %v", err)
	}
	set, err := decodeB64(rb.SignedEntryTimestamp)
	if err != nil {
		return nil, fmt.Errorf("unreadable Rekor signed entry timestamp: %v", err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("unreadable Rekor log id: %v", err)
	}
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kv); err != nil {
		return nil, fmt.Errorf("unreadable Rekor entry body: %v", err)
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: set},
		CanonicalizedBody: body,
	}, nil
}

func (p *policy) checkLegacyKeyless(c *candidate, where string) (*verifyResponse, *failure) {
	b, err := legacyBundle(c)
	if err != nil {
		return nil, &failure{rankSignature, fmt.Sprintf("%s: %v", where, err)}
	}
	return p.keyless(c, b, verify.WithArtifact(bytes.NewReader(c.payload)), where)
}

package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
)

// fixture is an OCI layout built with oras-go's own writer:
//
//	v1    -> image manifest (config + one layer)
//	multi -> index [linux/amd64 -> manifest, linux/arm64/v8 -> other manifest]
//	sig   -> manifest whose subject is v1 (a referrer)
type fixture struct {
	dir                  string
	layer, layerBytes    []byte
	layerDesc, manifest  ocispec.Descriptor
	armManifest, index   ocispec.Descriptor
	referrer             ocispec.Descriptor
	referrerArtifactType string
}

func newLayout(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := oci.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, referrerArtifactType: "application/vnd.example.sig"}
	f.layerBytes = []byte("hello from a layer\n")
	f.layerDesc, err = oras.PushBytes(ctx, store, ocispec.MediaTypeImageLayer, f.layerBytes)
	if err != nil {
		t.Fatal(err)
	}
	pack := func(artifactType string, opts oras.PackManifestOptions) ocispec.Descriptor {
		opts.ManifestAnnotations = map[string]string{ocispec.AnnotationCreated: "2000-01-01T00:00:00Z"}
		d, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, artifactType, opts)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	f.manifest = pack("application/vnd.example.thing", oras.PackManifestOptions{Layers: []ocispec.Descriptor{f.layerDesc}})
	f.armManifest = pack("application/vnd.example.arm", oras.PackManifestOptions{})
	f.referrer = pack(f.referrerArtifactType, oras.PackManifestOptions{Subject: &f.manifest})
	amd, arm := f.manifest, f.armManifest
	amd.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	idx, _ := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{amd, arm},
	})
	f.index, err = oras.PushBytes(ctx, store, ocispec.MediaTypeImageIndex, idx)
	if err != nil {
		t.Fatal(err)
	}
	for ref, d := range map[string]ocispec.Descriptor{"v1": f.manifest, "multi": f.index, "sig": f.referrer} {
		if err := store.Tag(ctx, d, ref); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// tarLayout packs the layout directory into a tar file (oras --oci-layout
// accepts both).
func tarLayout(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "layout.tar")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(out)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func openOK(t *testing.T, req any) uint64 {
	t.Helper()
	id, e := openTarget(mustJSON(t, req))
	if e != nil {
		t.Fatalf("openTarget: %+v", e)
	}
	t.Cleanup(func() { _ = targetClose(id) })
	return id
}

func wantCode(t *testing.T, e *vdrError, code int32) {
	t.Helper()
	if code == codeOK {
		if e != nil {
			t.Fatalf("want ok, got %+v", e)
		}
		return
	}
	if e == nil {
		t.Fatalf("want code %d (%s), got ok", code, kindNames[code])
	}
	if e.Code != code || e.Kind != kindNames[code] {
		t.Fatalf("want code %d (%s), got %+v", code, kindNames[code], e)
	}
}

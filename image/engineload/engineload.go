// Package engineload adds layers and config changes to an image that is
// already in a Docker Engine's image store, without sending the base
// image's layers through the Engine again.
//
// `docker load` skips a layer whose chain ID the Engine already holds
// without reading its file, so a tarball in the `docker save` format that
// lists the base image's layers but carries only the new ones is enough.
// Writing a 366 MB base again through go-containerregistry's daemon.Write,
// or having the Engine's BuildKit diff a new layer against it, costs
// seconds; this costs what the new layers weigh.
package engineload

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"
)

// Client is what Append needs of the Engine's API client.
type Client interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageHistory(ctx context.Context, image string, opts ...client.ImageHistoryOption) (client.ImageHistoryResult, error)
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (client.ImageLoadResult, error)
}

// Layer is one layer to add, with the history entry that describes it.
type Layer struct {
	Layer     v1.Layer
	CreatedBy string
}

// Request says what to add to Base and what to call the result.
type Request struct {
	// Base is the image in the Engine's store to build on: a name or an ID.
	Base string
	// Tags name the result (for example "example/algo:latest"); at least one.
	Tags []string
	// Layers are added on top of Base's layers, in order.
	Layers []Layer
	// Edit, when set, changes the config after the layers are added
	// (environment, labels, entrypoint and so on).
	Edit func(*v1.ConfigFile) error
	// Created is the new image's creation time; zero keeps Base's.
	Created time.Time
	// Known names images the Engine may hold that share layers with the
	// result (typically the previous build under the same tag): a new
	// layer that such an image already has at the same position is not
	// sent again. Names the Engine does not hold are ignored.
	Known []string
}

// Result describes the image the Engine now holds.
type Result struct {
	// ID is the image ID ("sha256:" and the config's digest).
	ID string
	// Config is the config the image was loaded with.
	Config *v1.ConfigFile
}

// BaseConfig rebuilds the image config of ref from what the Engine's
// inspect and history endpoints report.
func BaseConfig(ctx context.Context, dc Client, ref string) (*v1.ConfigFile, error) {
	ins, err := dc.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", ref, err)
	}
	cf := &v1.ConfigFile{
		Architecture: ins.Architecture,
		OS:           ins.Os,
		Variant:      ins.Variant,
		Author:       ins.Author,
		RootFS:       v1.RootFS{Type: "layers"},
	}
	if ins.Created != "" {
		t, err := time.Parse(time.RFC3339Nano, ins.Created)
		if err != nil {
			return nil, fmt.Errorf("inspecting %s: creation time %q: %w", ref, ins.Created, err)
		}
		cf.Created = v1.Time{Time: t}
	}
	if ins.Config != nil {
		raw, err := json.Marshal(ins.Config)
		if err != nil {
			return nil, fmt.Errorf("inspecting %s: %w", ref, err)
		}
		if err := json.Unmarshal(raw, &cf.Config); err != nil {
			return nil, fmt.Errorf("inspecting %s: reading its config: %w", ref, err)
		}
	}
	if ins.RootFS.Type != "" {
		cf.RootFS.Type = ins.RootFS.Type
	}
	for _, l := range ins.RootFS.Layers {
		h, err := v1.NewHash(l)
		if err != nil {
			return nil, fmt.Errorf("inspecting %s: layer %q: %w", ref, l, err)
		}
		cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, h)
	}
	hist, err := dc.ImageHistory(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("reading the history of %s: %w", ref, err)
	}
	// The endpoint lists the newest entry first, and sizes instead of
	// empty_layer; an entry of size 0 beyond the layer count is empty.
	layers := len(cf.RootFS.DiffIDs)
	entries := hist.Items
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		h := v1.History{
			Created:   v1.Time{Time: time.Unix(e.Created, 0).UTC()},
			CreatedBy: e.CreatedBy,
			Comment:   e.Comment,
		}
		if e.Size == 0 && countLayers(cf.History) >= layers {
			h.EmptyLayer = true
		}
		cf.History = append(cf.History, h)
	}
	if countLayers(cf.History) != layers {
		// History that does not account for every layer is useless to
		// keep: describe each layer once instead.
		cf.History = nil
		for range layers {
			cf.History = append(cf.History, v1.History{Created: cf.Created, CreatedBy: "(from " + ref + ")"})
		}
	}
	return cf, nil
}

func countLayers(h []v1.History) int {
	n := 0
	for _, e := range h {
		if !e.EmptyLayer {
			n++
		}
	}
	return n
}

// Append loads into the Engine the image made of req.Base plus req.Layers,
// with req.Edit applied to its config. Only the new layers cross the API;
// the Engine finds the base's layers in its own store.
func Append(ctx context.Context, dc Client, req Request) (Result, error) {
	if len(req.Tags) == 0 {
		return Result{}, errors.New("engineload: no tag for the image")
	}
	cf, err := BaseConfig(ctx, dc, req.Base)
	if err != nil {
		return Result{}, err
	}
	present := map[v1.Hash]bool{}
	for _, d := range cf.RootFS.DiffIDs {
		present[d] = true
	}
	// The Engine skips a layer by its chain ID, so a layer can be left out
	// only where a known image has the same layers below it.
	var chains [][]v1.Hash
	for _, ref := range req.Known {
		ins, err := dc.ImageInspect(ctx, ref)
		if err != nil {
			continue
		}
		var chain []v1.Hash
		for _, l := range ins.RootFS.Layers {
			h, err := v1.NewHash(l)
			if err != nil {
				chain = nil
				break
			}
			chain = append(chain, h)
		}
		chains = append(chains, chain)
	}
	held := func(upTo []v1.Hash) bool {
		for _, c := range chains {
			if len(c) >= len(upTo) && slices.Equal(c[:len(upTo)], upTo) {
				return true
			}
		}
		return false
	}
	var fresh []v1.Layer
	when := req.Created
	if when.IsZero() {
		when = cf.Created.Time
	}
	for i, l := range req.Layers {
		d, err := l.Layer.DiffID()
		if err != nil {
			return Result{}, fmt.Errorf("layer %d (%s): %w", i+1, l.CreatedBy, err)
		}
		cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, d)
		cf.History = append(cf.History, v1.History{Created: v1.Time{Time: when}, CreatedBy: l.CreatedBy})
		if held(cf.RootFS.DiffIDs) {
			present[d] = true
		}
		if !present[d] {
			present[d] = true
			fresh = append(fresh, l.Layer)
		}
	}
	if !req.Created.IsZero() {
		cf.Created = v1.Time{Time: req.Created}
	}
	if req.Edit != nil {
		if err := req.Edit(cf); err != nil {
			return Result{}, err
		}
	}
	raw, err := json.Marshal(cf)
	if err != nil {
		return Result{}, fmt.Errorf("encoding the image config: %w", err)
	}
	sum := sha256.Sum256(raw)
	id := hex.EncodeToString(sum[:])

	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTarball(pw, id, raw, cf.RootFS.DiffIDs, fresh, req.Tags)) }()
	resp, err := dc.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		pr.CloseWithError(err)
		return Result{}, fmt.Errorf("loading %s into the Docker Engine: %w", req.Tags[0], err)
	}
	defer resp.Close()
	if err := StreamError(resp); err != nil {
		pr.CloseWithError(err)
		return Result{}, fmt.Errorf("loading %s into the Docker Engine: %w", req.Tags[0], err)
	}
	// Drain whatever the Engine did not read (it stops at an error).
	_, _ = io.Copy(io.Discard, pr)
	return Result{ID: "sha256:" + id, Config: cf}, nil
}

// writeTarball writes a `docker save` tarball: the config, the new layers
// and manifest.json naming every layer (files of the base's layers are
// absent, and the Engine never opens them).
func writeTarball(w io.Writer, id string, config []byte, diffIDs []v1.Hash, fresh []v1.Layer, tags []string) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	file := func(name string, size int64, body io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		n, err := io.Copy(tw, body)
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("%s: wrote %d bytes, expected %d", name, n, size)
		}
		return nil
	}
	if err := file(id+".json", int64(len(config)), strings.NewReader(string(config))); err != nil {
		return err
	}
	for _, l := range fresh {
		d, err := l.DiffID()
		if err != nil {
			return err
		}
		size, err := uncompressedSize(l)
		if err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
		err = file(d.Hex+"/layer.tar", size, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
	}
	paths := make([]string, len(diffIDs))
	for i, d := range diffIDs {
		paths[i] = d.Hex + "/layer.tar"
	}
	manifest, err := json.Marshal([]struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{{Config: id + ".json", RepoTags: tags, Layers: paths}})
	if err != nil {
		return err
	}
	if err := file("manifest.json", int64(len(manifest)), strings.NewReader(string(manifest))); err != nil {
		return err
	}
	return tw.Close()
}

// uncompressedSize is the size of l's uncompressed tar, which a tar header
// needs before the bytes.
func uncompressedSize(l v1.Layer) (int64, error) {
	type sizer interface{ UncompressedSize() (int64, error) }
	if s, ok := l.(sizer); ok {
		if n, err := s.UncompressedSize(); err == nil {
			return n, nil
		}
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(io.Discard, rc)
}

// StreamError returns the first error in the Engine's JSON message stream
// (the answer to a load, for example); the Engine reports failures there,
// not in the HTTP status.
func StreamError(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the Engine's load output: %w", err)
	}
	return nil
}

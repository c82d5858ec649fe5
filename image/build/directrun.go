package build

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"
	"github.com/tonistiigi/fsutil"

	"github.com/sagekit/sagekit/image/engineload"
)

// defaultPath is the PATH BuildKit gives an image built FROM scratch.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// emptyTar is a tar with no entries: the layer BuildKit makes for a
// WORKDIR that already exists.
var emptyTar = make([]byte, 1024)

// direct assembles an image as ko does: each COPY becomes a layer made
// here, and the image is the base in the Engine's store plus those layers,
// loaded with engineload.
type direct struct {
	opts     Options
	plan     *directPlan
	fs       fsutil.FS
	ctxDir   string
	log      *slog.Logger
	cacheDir string
	prog     *directProgress
}

// directLayer is one layer of the image being assembled.
type directLayer struct {
	layer     v1.Layer
	diffID    v1.Hash
	createdBy string
}

// run assembles the image, loads it under the name temp and returns its
// ID.
func (d *direct) run(ctx context.Context, temp string) (string, error) {
	dc := d.opts.Docker
	p := d.plan
	now := time.Now().UTC()
	if d.opts.SourceDateEpoch != nil {
		now = d.opts.SourceDateEpoch.UTC()
	}
	buildTime := now

	var baseCfg *v1.ConfigFile
	var baseID string
	total := 1
	for _, c := range p.cmds {
		switch c.name {
		case "copy", "add", "workdir":
			total++
		}
	}
	step := 1
	fromName := fmt.Sprintf("[%d/%d] FROM %s", step, total, cmpOr(p.base, "scratch"))
	done := d.prog.start(fromName)
	if p.base != "" {
		ins, err := dc.ImageInspect(ctx, p.base)
		if err != nil {
			done(false, err)
			return "", fmt.Errorf("inspecting base image %s: %w", p.base, err)
		}
		baseID = ins.ID
		if baseCfg, err = engineload.BaseConfig(ctx, dc, baseID); err != nil {
			done(false, err)
			return "", err
		}
	} else {
		pl := platformOf(p.platform)
		baseCfg = &v1.ConfigFile{
			Architecture: pl.Architecture,
			OS:           pl.OS,
			RootFS:       v1.RootFS{Type: "layers"},
			Config:       v1.Config{Env: []string{defaultPath}, WorkingDir: "/"},
		}
	}
	done(true, nil)

	ctxDone := d.prog.start("[internal] load build context")
	excludes, err := readDockerignore(d.ctxDir)
	if err != nil {
		ctxDone(false, err)
		return "", err
	}
	ix, err := indexContext(ctx, d.fs, excludes)
	ctxDone(false, err)
	if err != nil {
		return "", err
	}

	st := &stageState{cfg: cloneConfig(baseCfg.Config), args: map[string]string{}}
	view := &fsView{layers: map[string]os.FileMode{}}
	if baseID != "" {
		view.base = newBaseFS(dc, baseID, d.cacheDir)
		defer view.base.close(ctx)
	}
	var layers []directLayer
	var history []v1.History
	for _, c := range p.cmds {
		switch c.name {
		case "copy", "add":
			step++
			words, err := p.words(st, c, c.args)
			if err != nil {
				return "", err
			}
			sources, rawDest := words[:len(words)-1], words[len(words)-1]
			name := c.upper()
			instr := strings.Join(append(append([]string{name}, c.flags...), words...), " ")
			stepDone := d.prog.start(fmt.Sprintf("[%d/%d] %s", step, total, instr))
			dest := absDest(st.cfg.WorkingDir, rawDest)
			var chmod *os.FileMode
			for _, f := range c.flags {
				if m, ok := chmodFlag(f); ok {
					chmod = &m
				}
			}
			cl, err := planCopy(ctx, ix, view, p.file, c.line, name, sources, dest, c.name == "add", chmod, buildTime)
			if err != nil {
				stepDone(false, err)
				return "", err
			}
			dl, cached, err := d.layer(ix.fs, cl, name+" "+strings.Join(sources, " ")+" "+dest)
			stepDone(cached, err)
			if err != nil {
				return "", err
			}
			dl.createdBy = instr + " # buildkit"
			layers = append(layers, dl)
			history = append(history, v1.History{Created: v1.Time{Time: now}, CreatedBy: dl.createdBy, Comment: "buildkit.dockerfile.v0"})
			for _, e := range cl.entries {
				view.layers[e.name] = e.mode
			}
		case "workdir":
			step++
			wd, err := p.word(st, c, strings.Join(c.args, " "))
			if err != nil {
				return "", err
			}
			if !path.IsAbs(wd) {
				wd = path.Join(cmpOr(st.cfg.WorkingDir, "/"), wd)
			}
			wd = path.Clean(wd)
			st.cfg.WorkingDir = wd
			stepDone := d.prog.start(fmt.Sprintf("[%d/%d] WORKDIR %s", step, total, wd))
			dl, err := d.workdirLayer(ctx, view, wd, buildTime, st.cfg.User)
			stepDone(false, err)
			if err != nil {
				return "", err
			}
			dl.createdBy = "WORKDIR " + wd
			layers = append(layers, dl)
			history = append(history, v1.History{Created: v1.Time{Time: now}, CreatedBy: dl.createdBy, Comment: "buildkit.dockerfile.v0"})
		default:
			if err := p.apply(st, c); err != nil {
				return "", err
			}
			history = append(history, v1.History{Created: v1.Time{Time: now}, CreatedBy: c.original, Comment: "buildkit.dockerfile.v0", EmptyLayer: true})
		}
	}
	if len(d.opts.Labels) > 0 {
		if st.cfg.Labels == nil {
			st.cfg.Labels = map[string]string{}
		}
		for k, v := range d.opts.Labels {
			st.cfg.Labels[k] = v
		}
	}

	expDone := d.prog.start("exporting to image")
	id, err := d.load(ctx, temp, baseID, baseCfg, st.cfg, layers, history, now)
	expDone(false, err)
	return id, err
}

// layer makes (or finds in the cache) the tar of a planned COPY layer.
func (d *direct) layer(fs fsutil.FS, cl *copyLayer, instr string) (directLayer, bool, error) {
	key, err := cl.key(fs, instr, d.opts.SourceDateEpoch)
	if err != nil {
		return directLayer{}, false, err
	}
	tarPath := filepath.Join(d.cacheDir, "layers", key+".tar")
	recPath := filepath.Join(d.cacheDir, "layers", key+".json")
	var rec cacheRecord
	if !d.opts.NoCache && readJSON(recPath, &rec) == nil {
		if fi, err := os.Stat(tarPath); err == nil && fi.Size() == rec.Size {
			if h, err := v1.NewHash(rec.DiffID); err == nil {
				l, err := newFileLayer(tarPath, h, rec.Size)
				return directLayer{layer: l, diffID: h}, true, err
			}
		}
	}
	var size int64
	h := sha256.New()
	err = writeFileAtomic(tarPath, func(w io.Writer) error {
		cw := &countWriter{w: io.MultiWriter(w, h)}
		err := cl.writeTar(cw, fs)
		size = cw.n
		return err
	})
	if err != nil {
		return directLayer{}, false, fmt.Errorf("writing the layer for %s: %w", instr, err)
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	rec = cacheRecord{DiffID: diffID.String(), Size: size}
	if err := writeFileAtomic(recPath, func(w io.Writer) error { return json.NewEncoder(w).Encode(rec) }); err != nil {
		return directLayer{}, false, err
	}
	l, err := newFileLayer(tarPath, diffID, size)
	return directLayer{layer: l, diffID: diffID}, false, err
}

// workdirLayer is the layer BuildKit's WORKDIR makes: the directory and
// its missing parents, or nothing when it exists.
func (d *direct) workdirLayer(ctx context.Context, view *fsView, wd string, buildTime time.Time, user string) (directLayer, error) {
	cl := &copyLayer{}
	for p := wd; p != "/"; p = path.Dir(p) {
		m, ok, err := view.kind(ctx, p)
		if err != nil {
			return directLayer{}, err
		}
		if ok {
			if !m.IsDir() {
				return directLayer{}, fallback("%s: WORKDIR %s: %s is not a directory in the image", d.plan.file, wd, p)
			}
			break
		}
		if user != "" && user != "root" && user != "0" && user != "0:0" {
			return directLayer{}, fallback("%s: WORKDIR %s is created for USER %s", d.plan.file, wd, user)
		}
		cl.entries = append([]*layerEntry{{name: p, mode: os.ModeDir | 0o755, mtime: buildTime, created: true}}, cl.entries...)
	}
	if len(cl.entries) == 0 {
		l, err := newBytesLayer(emptyTar)
		if err != nil {
			return directLayer{}, err
		}
		dl, err := l.DiffID()
		return directLayer{layer: l, diffID: dl}, err
	}
	for _, e := range cl.entries {
		view.layers[e.name] = e.mode
	}
	dl, _, err := d.layer(d.fs, cl, "WORKDIR "+wd)
	return dl, err
}

// load puts the image into the Engine under temp, unless the Engine holds
// the very same image already (an unchanged rebuild), and returns its ID.
func (d *direct) load(ctx context.Context, temp, baseID string, baseCfg *v1.ConfigFile, cfg v1.Config, layers []directLayer, history []v1.History, created time.Time) (string, error) {
	dc := d.opts.Docker
	// The record maps what the image is made of to the image ID it got,
	// so an unchanged rebuild keeps its ID (and creation time), as a
	// BuildKit cache hit does.
	h := sha256.New()
	fmt.Fprintf(h, "sagekit direct image v1\nbase %s\nplatform %s\n", baseID, d.plan.platform)
	for _, l := range layers {
		fmt.Fprintf(h, "layer %s %q\n", l.diffID, l.createdBy)
	}
	cj, _ := json.Marshal(cfg)
	h.Write(cj)
	if d.opts.SourceDateEpoch != nil {
		fmt.Fprintf(h, "\nepoch %d", d.opts.SourceDateEpoch.Unix())
	}
	recPath := filepath.Join(d.cacheDir, "images", hex.EncodeToString(h.Sum(nil)))
	if b, err := os.ReadFile(recPath); err == nil && !d.opts.NoCache {
		id := strings.TrimSpace(string(b))
		if _, err := dc.ImageInspect(ctx, id); err == nil {
			if _, err := dc.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: temp}); err == nil {
				d.log.Debug("unchanged image", "id", id)
				return id, nil
			}
		}
	}

	edit := func(cf *v1.ConfigFile) error {
		cf.Config = cfg
		cf.History = append(slices.Clone(baseCfg.History), history...)
		cf.Created = v1.Time{Time: created}
		return nil
	}
	var id string
	if baseID != "" {
		req := engineload.Request{Base: baseID, Tags: []string{temp}, Edit: edit, Created: created, Known: d.opts.Tags}
		for _, l := range layers {
			req.Layers = append(req.Layers, engineload.Layer{Layer: l.layer, CreatedBy: l.createdBy})
		}
		res, err := engineload.Append(ctx, dc, req)
		if err != nil {
			return "", err
		}
		id = res.ID
	} else {
		cf := &v1.ConfigFile{
			Architecture: baseCfg.Architecture,
			OS:           baseCfg.OS,
			RootFS:       v1.RootFS{Type: "layers"},
		}
		for _, l := range layers {
			cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, l.diffID)
		}
		if err := edit(cf); err != nil {
			return "", err
		}
		var err error
		if id, err = loadScratch(ctx, dc, temp, cf, layers); err != nil {
			return "", err
		}
	}
	_ = writeFileAtomic(recPath, func(w io.Writer) error { _, err := io.WriteString(w, id+"\n"); return err })
	return id, nil
}

// loadScratch loads an image with no base: a `docker save` tar of the
// config and every layer.
func loadScratch(ctx context.Context, dc *client.Client, tag string, cf *v1.ConfigFile, layers []directLayer) (string, error) {
	raw, err := json.Marshal(cf)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	id := hex.EncodeToString(sum[:])
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(func() error {
			tw := tar.NewWriter(pw)
			file := func(name string, size int64, r io.Reader) error {
				if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
					return err
				}
				_, err := io.Copy(tw, r)
				return err
			}
			if err := file(id+".json", int64(len(raw)), strings.NewReader(string(raw))); err != nil {
				return err
			}
			var paths []string
			seen := map[v1.Hash]bool{}
			for _, l := range layers {
				p := l.diffID.Hex + "/layer.tar"
				paths = append(paths, p)
				if seen[l.diffID] {
					continue
				}
				seen[l.diffID] = true
				size, err := l.layer.(interface{ UncompressedSize() (int64, error) }).UncompressedSize()
				if err != nil {
					return err
				}
				rc, err := l.layer.Uncompressed()
				if err != nil {
					return err
				}
				err = file(p, size, rc)
				rc.Close()
				if err != nil {
					return err
				}
			}
			m, err := json.Marshal([]map[string]any{{"Config": id + ".json", "RepoTags": []string{tag}, "Layers": paths}})
			if err != nil {
				return err
			}
			if err := file("manifest.json", int64(len(m)), strings.NewReader(string(m))); err != nil {
				return err
			}
			return tw.Close()
		}())
	}()
	err = loadImage(ctx, dc, pr)
	pr.CloseWithError(err)
	if err != nil {
		return "", err
	}
	return "sha256:" + id, nil
}

// directBuilder assembles the image without BuildKit: for a Dockerfile whose one
// stage only copies context files and sets config, on scratch or a base in
// the Engine's store. It refuses (a *fallbackError) anything else.
type directBuilder struct{}

func (directBuilder) Name() string { return ViaDirect }

func (directBuilder) Build(ctx context.Context, j *Job) (*Result, error) {
	opts, log := j.opts, j.log
	plan, err := planDirect(opts, j.platforms, filepath.Base(j.dockerfile), j.src)
	if err != nil {
		return nil, err
	}
	temp := fmt.Sprintf("%s:%s-direct", tempRepo, newRunID())
	log.Debug("temporary image name", "name", temp)
	// Removed on every way out: a failure may come after the load.
	defer func() { _, _ = j.docker.ImageRemove(context.WithoutCancel(ctx), temp, client.ImageRemoveOptions{}) }()
	id, err := assembleDirect(ctx, opts, log, plan, j.contextDir, j.ctxFS, temp)
	if err != nil {
		return nil, err
	}
	res := &Result{Tags: opts.Tags, Tagged: plan.platform, Via: ViaDirect, Images: []PlatformImage{{Platform: plan.platform, ID: id}}}
	for _, t := range opts.Tags {
		if _, err := j.docker.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: t}); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", t, err)
		}
	}
	return res, nil
}

func assembleDirect(ctx context.Context, opts Options, log *slog.Logger, plan *directPlan, contextDir string, ctxFS fsutil.FS, temp string) (string, error) {
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		if uc, err := os.UserCacheDir(); err == nil {
			cacheDir = filepath.Join(uc, "sagekit", "build")
		}
	}
	if cacheDir == "" || os.MkdirAll(cacheDir, 0o755) != nil {
		tmp, err := os.MkdirTemp("", "sagekit-layers-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(tmp)
		cacheDir = tmp
	}
	log.Info("assembling the image without BuildKit (only COPY and config steps)", "base", cmpOr(plan.base, "scratch"))
	prog := newDirectProgress(ctx, opts.Progress, "")
	d := &direct{opts: opts, plan: plan, fs: ctxFS, ctxDir: contextDir, log: log, cacheDir: cacheDir, prog: prog}
	id, err := d.run(ctx, temp)
	if perr := prog.close(); err == nil && perr != nil {
		err = perr
	}
	return id, err
}

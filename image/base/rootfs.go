package base

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	gofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sagekit/sagekit/internal/extract"
)

// slimDpkg keeps docs, man pages and translations out of every package
// installed later, as Debian's slim images do.
const slimDpkg = `# sagekit: keep images slim
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
`

// slimGlobs are removed from the base rootfs to match slimDpkg.
var slimGlobs = []string{
	"usr/share/man/*", "usr/share/groff/*", "usr/share/info/*", "usr/share/lintian/*",
	"usr/share/linda/*",
}

// debootstrap writes a minbase rootfs of Suite for arch into dir.
func debootstrap(ctx context.Context, mirror, arch, dir string, log io.Writer) error {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return errors.New("debootstrap is not installed: run `apt-get install debootstrap` (as root)")
	}
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--arch="+arch,
		"--include=ca-certificates", Suite, dir, mirror)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running debootstrap %s for %s from %s: %w (its log: %s)", Suite, arch, mirror, err, filepath.Join(dir, "debootstrap", "debootstrap.log"))
	}
	return nil
}

// debianInfo reads the release date of the Suite's InRelease file that apt
// used, for the image labels.
func debianInfo(dir string) (date string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "var/lib/apt/lists/*_InRelease"))
	more, _ := filepath.Glob(filepath.Join(dir, "var/lib/apt/lists/*_Release"))
	for _, m := range append(matches, more...) {
		f, err := os.Open(m)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Date: "); ok {
				f.Close()
				return v
			}
		}
		f.Close()
	}
	return ""
}

// clean removes from a rootfs what an image must not carry: the contents
// of /proc, /sys and /dev (the runtime provides them), apt's lists and
// caches, logs, temp files and the build host's resolv.conf and hostname.
func clean(dir string) error {
	globs := []string{
		"proc/*", "sys/*", "dev/*", "tmp/*", "var/tmp/*", "run/*",
		"var/lib/apt/lists/*", "var/cache/apt/*", "var/cache/debconf/*-old", "var/lib/dpkg/*-old",
		"var/log/*.log", "var/log/apt/*", "etc/resolv.conf", "etc/hostname",
		"usr/sbin/policy-rc.d", "debootstrap",
	}
	for _, g := range globs {
		matches, err := filepath.Glob(filepath.Join(dir, g))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return fmt.Errorf("cleaning the rootfs: %w", err)
			}
		}
	}
	return os.MkdirAll(filepath.Join(dir, "var/lib/apt/lists/partial"), 0o755)
}

// slim removes docs and man pages from the base rootfs and tells dpkg to
// leave them out of later installs.
func slim(dir string) error {
	for _, g := range slimGlobs {
		matches, _ := filepath.Glob(filepath.Join(dir, g))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	// Docs except copyright files, translations except locale.alias.
	err := filepath.WalkDir(filepath.Join(dir, "usr/share/doc"), func(p string, d gofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() != "copyright" {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, gofs.ErrNotExist) {
		return err
	}
	locales, _ := filepath.Glob(filepath.Join(dir, "usr/share/locale/*"))
	for _, m := range locales {
		if filepath.Base(m) != "locale.alias" {
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	cfg := filepath.Join(dir, "etc/dpkg/dpkg.cfg.d/sagekit-slim")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		return err
	}
	return os.WriteFile(cfg, []byte(slimDpkg), 0o644)
}

// unpack unpacks a layer or rootfs tar into dir, keeping owners, modes and
// times, within dir.
func unpack(ctx context.Context, tarPath, dir string) error {
	if err := extract.File(ctx, tarPath, dir, extract.WithRootfs()); err != nil {
		return fmt.Errorf("extracting %s: %w", tarPath, err)
	}
	return nil
}

// aptInstall installs pkgs into the rootfs dir with apt-get in a chroot.
func aptInstall(ctx context.Context, dir, mirror string, components, pkgs, stubs []string, log io.Writer) (err error) {
	list := filepath.Join(dir, "tmp/sagekit.sources.list")
	comps := strings.Join(append([]string{"main"}, components...), " ")
	if err := os.WriteFile(list, []byte(fmt.Sprintf("deb %s %s %s\n", mirror, Suite, comps)), 0o644); err != nil {
		return err
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err == nil {
		_ = os.WriteFile(filepath.Join(dir, "etc/resolv.conf"), resolv, 0o644)
	}
	if err := os.WriteFile(filepath.Join(dir, "usr/sbin/policy-rc.d"), []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		return err
	}
	for _, m := range [][]string{{"-t", "proc", "proc", filepath.Join(dir, "proc")}, {"--bind", "/dev", filepath.Join(dir, "dev")}} {
		if out, err := exec.CommandContext(ctx, "mount", m...).CombinedOutput(); err != nil {
			return fmt.Errorf("mounting %s for the chroot (sagekit base needs root): %w: %s", m[len(m)-1], err, out)
		}
		target := m[len(m)-1]
		defer func() {
			if out, uerr := exec.Command("umount", "-l", target).CombinedOutput(); uerr != nil && err == nil {
				err = fmt.Errorf("unmounting %s: %w: %s", target, uerr, out)
			}
		}()
	}
	apt := []string{"-o", "Dir::Etc::SourceList=/tmp/sagekit.sources.list", "-o", "Dir::Etc::SourceParts=/nonexistent", "-o", "Acquire::Retries=3"}
	var steps [][]string
	for _, stub := range stubs {
		deb, err := writeStub(dir, stub)
		if err != nil {
			return err
		}
		steps = append(steps, []string{"dpkg-deb", "--build", deb, deb + ".deb"}, []string{"dpkg", "-i", deb + ".deb"})
	}
	steps = append(steps,
		append(append([]string{"apt-get"}, apt...), "update"),
		append(append(append([]string{"apt-get"}, apt...), "install", "-y", "--no-install-recommends"), pkgs...),
		[]string{"apt-get", "clean"},
	)
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, "chroot", append([]string{dir}, s...)...)
		cmd.Env = []string{"DEBIAN_FRONTEND=noninteractive", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("running %s in the chroot: %w", strings.Join(s, " "), err)
		}
	}
	return nil
}

// fileState is what decides whether a file changed between snapshots.
type fileState struct {
	mode  gofs.FileMode
	size  int64
	mtime int64
	ctime int64
	ino   uint64
}

type snapshot map[string]fileState

// takeSnapshot records every path under dir.
func takeSnapshot(dir string) (snapshot, error) {
	s := snapshot{}
	err := filepath.WalkDir(dir, func(p string, d gofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		s[rel] = stateOf(fi)
		return nil
	})
	return s, err
}

func stateOf(fi gofs.FileInfo) fileState {
	st := fileState{mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := statSys(fi); ok {
		st.ctime, st.ino = sys.ctime, sys.ino
	}
	return st
}

// writeLayer writes the tree under dir as a layer tar at dst. With before
// set, only what changed since that snapshot goes in, and what was removed
// becomes a whiteout. Entries are in name order with owners and times
// from the files, so the same tree gives the same bytes.
func writeLayer(dir, dst string, before snapshot) (err error) {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	links := map[uint64]string{}
	present := map[string]bool{}
	err = filepath.WalkDir(dir, func(p string, d gofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		present[rel] = true
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if before != nil {
			if old, ok := before[rel]; ok && old == stateOf(fi) {
				return nil
			}
		}
		return addEntry(tw, p, rel, fi, links)
	})
	if err != nil {
		return err
	}
	if before != nil {
		var gone []string
		for rel := range before {
			if !present[rel] && present[filepath.Dir(rel)] || !present[rel] && filepath.Dir(rel) == "." {
				gone = append(gone, rel)
			}
		}
		sort.Strings(gone)
		for _, rel := range gone {
			wh := filepath.Join(filepath.Dir(rel), ".wh."+filepath.Base(rel))
			if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(wh), Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

func addEntry(tw *tar.Writer, p, rel string, fi gofs.FileInfo, links map[uint64]string) error {
	var link string
	switch {
	case fi.Mode()&gofs.ModeSymlink != 0:
		l, err := os.Readlink(p)
		if err != nil {
			return err
		}
		link = l
	case fi.Mode().IsRegular(), fi.IsDir():
	default:
		return nil // devices, sockets and fifos stay out
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = filepath.ToSlash(rel)
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if sys, ok := statSys(fi); ok {
		hdr.Uid, hdr.Gid = sys.uid, sys.gid
		if fi.Mode().IsRegular() && sys.nlink > 1 {
			if first, ok := links[sys.ino]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				return tw.WriteHeader(hdr)
			}
			links[sys.ino] = hdr.Name
		}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	src, err := os.Open(p)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(tw, src)
	return err
}

// writeStub writes the tree of an empty package named name under the
// rootfs' /tmp and returns its path inside the chroot.
func writeStub(dir, name string) (string, error) {
	rel := "/tmp/stub-" + name
	ctl := filepath.Join(dir, rel, "DEBIAN", "control")
	if err := os.MkdirAll(filepath.Dir(ctl), 0o755); err != nil {
		return "", err
	}
	control := fmt.Sprintf("Package: %s\nVersion: 0~sagekit.stub\nArchitecture: all\nMaintainer: sagekit <noreply@sagekit.dev>\nDescription: empty stand-in for %s\n sagekit base installs this instead of %s, which is needed only to build software.\n", name, name, name)
	return rel, os.WriteFile(ctl, []byte(control), 0o644)
}

package runtimebin

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	for _, tt := range []struct {
		arch    string
		machine elf.Machine
	}{{"amd64", elf.EM_X86_64}, {"arm64", elf.EM_AARCH64}} {
		t.Run(tt.arch, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "linux-"+tt.arch, Name)
			// The test runs inside the module, so without the embed tag and
			// with no file next to the test binary it builds from source.
			if err := Write(context.Background(), tt.arch, dst, "."); err != nil {
				t.Fatalf("Write(%s): %v", tt.arch, err)
			}
			fi, err := os.Stat(dst)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o111 == 0 {
				t.Errorf("%s mode %v, want executable", dst, fi.Mode())
			}
			f, err := elf.Open(dst)
			if err != nil {
				t.Fatalf("%s is not an ELF binary: %v", dst, err)
			}
			defer f.Close()
			if f.Machine != tt.machine || f.FileHeader.OSABI != elf.ELFOSABI_NONE && f.FileHeader.OSABI != elf.ELFOSABI_LINUX {
				t.Errorf("%s is %v/%v, want %v", dst, f.Machine, f.FileHeader.OSABI, tt.machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("%s is dynamically linked", dst)
				}
			}
		})
	}
}

func TestWriteUnsupported(t *testing.T) {
	err := Write(context.Background(), "s390x", filepath.Join(t.TempDir(), "rt"), ".")
	if !errors.Is(err, ErrNotFound) || !bytes.Contains([]byte(err.Error()), []byte("linux/amd64, linux/arm64")) {
		t.Errorf("Write(s390x) = %v, want ErrNotFound naming the supported platforms", err)
	}
}

// TestWriteBuildsOnce: a process builds the runtime from source once per
// architecture, even after the first destination is gone (a build's
// staging directory is removed after each build); later writes need no
// go command.
func TestWriteBuildsOnce(t *testing.T) {
	first := filepath.Join(t.TempDir(), "staging", Name)
	if err := Write(context.Background(), "amd64", first, "."); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Dir(first)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir()) // no go command from here on
	second := filepath.Join(t.TempDir(), "again", Name)
	if err := Write(context.Background(), "amd64", second, "."); err != nil {
		t.Fatalf("second Write: %v", err)
	}
	got, err := os.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("second Write gave %d bytes, want the %d bytes of the first", len(got), len(want))
	}
}

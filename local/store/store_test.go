package store

import (
	"errors"
	"testing"
)

type rec struct{ A string }

func TestStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Create(Models, "m1", rec{"x"}); !ok || err != nil {
		t.Fatalf("Create = %v, %v", ok, err)
	}
	if ok, _ := s.Create(Models, "m1", rec{"y"}); ok {
		t.Fatal("Create of an existing name succeeded")
	}
	if err := s.Put(Models, "m2", rec{"z"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var r rec
	if err := s.Get(Models, "m1", &r); err != nil || r.A != "x" {
		t.Errorf("Get(m1) = %+v, %v, want x", r, err)
	}
	var names []string
	s.Each(Models, func(n string, _ []byte) bool { names = append(names, n); return true })
	if len(names) != 2 || names[0] != "m1" || names[1] != "m2" {
		t.Errorf("Each = %v, want [m1 m2]", names)
	}
	s.Delete(Models, "m1")
	if err := s.Get(Models, "m1", &r); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := Open(dir); err == nil {
		s2.Close()
		t.Fatal("a second Open of the same directory succeeded")
	}
}

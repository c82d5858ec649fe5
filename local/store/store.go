// Package store keeps sagekit local's records (training jobs, models,
// endpoint configurations, endpoints) in a bbolt file under the state
// directory, one bucket per kind, each record a JSON document keyed by its
// name, so a restart finds them all.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrNotFound is returned by Get for a name with no record.
var ErrNotFound = errors.New("no such record")

// Kinds of record.
const (
	TrainingJobs    = "training-jobs"
	Models          = "models"
	EndpointConfigs = "endpoint-configs"
	Endpoints       = "endpoints"
	TransformJobs   = "transform-jobs"
	// Scaling holds Application Auto Scaling's targets, policies and
	// activities.
	Scaling = "scaling"
)

// FileName is the database's file in the state directory.
const FileName = "sagekit-local.db"

// Store is the database. Its methods are safe for concurrent use.
type Store struct{ db *bolt.DB }

// Open opens (creating if needed) the database in dir. A second process
// on the same directory waits up to 2 s for the lock, then gets an error.
func Open(dir string) (*Store, error) {
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening %s (is another sagekit local using --state %s?): %w", path, dir, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, k := range []string{TrainingJobs, Models, EndpointConfigs, Endpoints, TransformJobs, Scaling} {
			if _, err := tx.CreateBucketIfNotExists([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialising %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Put writes v under kind/name.
func (s *Store) Put(kind, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s %s: %w", kind, name, err)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(kind)).Put([]byte(name), b)
	})
}

// Create writes v under kind/name unless a record is there already;
// created is false then.
func (s *Store) Create(kind, name string, v any) (created bool, err error) {
	b, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("encoding %s %s: %w", kind, name, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(kind))
		if bk.Get([]byte(name)) != nil {
			return nil
		}
		created = true
		return bk.Put([]byte(name), b)
	})
	return created, err
}

// Get decodes the record kind/name into v.
func (s *Store) Get(kind, name string, v any) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(kind)).Get([]byte(name))
		if b == nil {
			return ErrNotFound
		}
		return json.Unmarshal(b, v)
	})
}

// Delete removes kind/name; deleting a missing record is not an error.
func (s *Store) Delete(kind, name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(kind)).Delete([]byte(name))
	})
}

// Each calls f with every record of kind, in name order, until f returns
// false.
func (s *Store) Each(kind string, f func(name string, raw []byte) bool) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(kind)).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if !f(string(k), v) {
				return nil
			}
		}
		return nil
	})
}

// Command inputs is a test image's entrypoint: `train` reads every channel
// as its inputdataconfig.json says (Pipe: the FIFOs <channel>_0 and
// <channel>_1, each to EOF; File and FastFile: every file of the
// directory, and whether it can write there), lists the checkpoints it
// starts with, writes a new one and deletes "old.ckpt", and leaves what it
// saw in /opt/ml/model/report.json.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

type channel struct {
	Mode     string   `json:"mode"`
	Epochs   []string `json:"epochs,omitempty"`
	Files    []string `json:"files,omitempty"`
	Writable bool     `json:"writable"`
}

type report struct {
	Channels    map[string]channel `json:"channels"`
	Checkpoints map[string]string  `json:"checkpoints"`
	LocalPath   string             `json:"local_path"`
}

func main() {
	if len(os.Args) < 2 || os.Args[1] != "train" {
		fmt.Fprintln(os.Stderr, "inputs: this image only trains")
		os.Exit(1)
	}
	if err := train(); err != nil {
		os.WriteFile("/opt/ml/output/failure", []byte(err.Error()), 0o644)
		fmt.Fprintln(os.Stderr, "inputs:", err)
		os.Exit(1)
	}
}

func train() error {
	var idc map[string]struct{ TrainingInputMode string }
	if err := readJSON("/opt/ml/input/config/inputdataconfig.json", &idc); err != nil {
		return err
	}
	rep := report{Channels: map[string]channel{}, Checkpoints: map[string]string{}}
	for name, c := range idc {
		ch := channel{Mode: c.TrainingInputMode}
		base := filepath.Join("/opt/ml/input/data", name)
		if c.TrainingInputMode == "Pipe" {
			for epoch := range 2 {
				b, err := readFIFO(fmt.Sprintf("%s_%d", base, epoch))
				if err != nil {
					return err
				}
				ch.Epochs = append(ch.Epochs, string(b))
			}
		} else {
			err := filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					b, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					rel, _ := filepath.Rel(base, p)
					ch.Files = append(ch.Files, rel+"="+string(b))
				}
				return err
			})
			if err != nil {
				return err
			}
			if f, err := os.Create(filepath.Join(base, "probe")); err == nil {
				ch.Writable = true
				f.Close()
			}
		}
		rep.Channels[name] = ch
	}
	var cc struct{ LocalPath string }
	if err := readJSON("/opt/ml/input/config/checkpointconfig.json", &cc); err == nil {
		rep.LocalPath = cc.LocalPath
		entries, _ := os.ReadDir(cc.LocalPath)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(cc.LocalPath, e.Name()))
			rep.Checkpoints[e.Name()] = string(b)
		}
		if err := os.WriteFile(filepath.Join(cc.LocalPath, "new.ckpt"), []byte("written by the job"), 0o644); err != nil {
			return err
		}
		os.Remove(filepath.Join(cc.LocalPath, "old.ckpt"))
	}
	b, _ := json.Marshal(rep)
	fmt.Println(string(b))
	return os.WriteFile("/opt/ml/model/report.json", b, 0o644)
}

// readFIFO opens path once it exists (the next epoch's FIFO appears after
// the previous is read) and reads it to EOF.
func readFIFO(path string) ([]byte, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s did not appear", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

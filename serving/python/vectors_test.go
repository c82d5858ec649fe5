package python_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/serving"
	"github.com/sagekit/sagekit/serving/python"
	"github.com/sagekit/sagekit/serving/worker"
)

// inferenceVectors is serving/testdata/vectors/inference.json: requests to
// an inference.py and the answers the inference toolkit gives (or, for a
// listed deviation, sagekit's documented answer).
type inferenceVectors struct {
	Toolkit map[string]string `json:"toolkit"`
	Count   int               `json:"count"`
	Vectors []inferenceVector `json:"vectors"`
}

type inferenceVector struct {
	ID        string            `json:"id"`
	Source    string            `json:"source"`
	Handler   string            `json:"handler"`
	Env       map[string]string `json:"env"`
	Headers   [][2]string       `json:"headers"`
	Body      string            `json:"body"`
	BodyB64   string            `json:"body_b64"`
	Deviation string            `json:"deviation"`
	Want      vectorAnswer      `json:"want"`
	Toolkit   *vectorAnswer     `json:"toolkit"`
}

type vectorAnswer struct {
	LoadError    bool   `json:"load_error"`
	Status       int    `json:"status"`
	ContentType  string `json:"content_type"`
	Body         string `json:"body"`
	BodyB64      string `json:"body_b64"`
	ErrorMessage string `json:"error_message"`
}

// pyAddress is a Python object's address in an error message, which
// differs from run to run.
var pyAddress = regexp.MustCompile(` at 0x[0-9a-f]+>`)

func loadInferenceVectors(t *testing.T) inferenceVectors {
	t.Helper()
	b, err := os.ReadFile(testdata(t, "vectors", "inference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs inferenceVectors
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatalf("parsing inference.json: %v", err)
	}
	if len(vs.Vectors) != vs.Count {
		t.Fatalf("inference.json holds %d vectors, says %d", len(vs.Vectors), vs.Count)
	}
	return vs
}

// TestInferenceToolkitVectors runs every inference vector through the
// adapter behind the serving front, over HTTP: each answer must be the
// toolkit's, or sagekit's documented one where a deviation is listed.
func TestInferenceToolkitVectors(t *testing.T) {
	t.Parallel()
	py := interpreter(t, "numpy", "scipy")
	vs := loadInferenceVectors(t)
	checkVectorTags(t, vs)
	groups := map[string][]inferenceVector{}
	var keys []string
	for _, v := range vs.Vectors {
		k := v.Handler + "\x00" + envKey(v.Env)
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], v)
	}
	script := install(t)
	dir := testdata(t, "vectors")
	var passed, failed int
	for _, k := range keys {
		group := groups[k]
		env := []string{"SAGEMAKER_BASE_DIR=" + t.TempDir()}
		for name, val := range group[0].Env {
			env = append(env, name+"="+val)
		}
		sort.Strings(env)
		command := python.HandlerCommand(py, script, group[0].Handler)
		if group[0].Want.LoadError {
			for _, v := range group {
				if err := loadFails(t, command, dir, env); err != nil {
					failed++
					t.Errorf("%s (%s): %v", v.ID, v.Source, err)
				} else {
					passed++
				}
			}
			continue
		}
		url := servePool(t, command, dir, strings.TrimPrefix(env[0], "SAGEMAKER_BASE_DIR="), env, 1)
		for _, v := range group {
			if err := checkVector(url, v); err != nil {
				failed++
				t.Errorf("%s (%s): %v", v.ID, v.Source, err)
			} else {
				passed++
			}
		}
	}
	t.Logf("inference vectors: %d of %d match", passed, passed+failed)
}

func envKey(env map[string]string) string {
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, "\x00")
}

// vectorTag is where a vector was read: repository@commit:path#Lline.
var vectorTag = regexp.MustCompile(`^([\w.-]+/[\w.-]+)@([0-9a-f]{12}):([\w./-]+)#L([1-9][0-9]*)$`)

// checkVectorTags checks that every vector names the file, line and commit
// it was read from, and that every deviation is in docs/contract.md's
// table.
func checkVectorTags(t *testing.T, vs inferenceVectors) {
	t.Helper()
	contract, err := os.ReadFile(filepath.Join("..", "..", "docs", "contract.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, v := range vs.Vectors {
		if seen[v.ID] {
			t.Errorf("vector id %s is used twice", v.ID)
		}
		seen[v.ID] = true
		m := vectorTag.FindStringSubmatch(v.Source)
		if m == nil {
			t.Errorf("%s: source %q is not repository@commit:path#Lline", v.ID, v.Source)
			continue
		}
		if full := vs.Toolkit[m[1]]; !strings.HasPrefix(full, m[2]) {
			t.Errorf("%s: commit %s is not the recorded %s commit %q", v.ID, m[2], m[1], full)
		}
		if v.Deviation != "" {
			if v.Toolkit == nil {
				t.Errorf("%s: deviation %s without the toolkit's answer", v.ID, v.Deviation)
			}
			if !bytes.Contains(contract, []byte("| "+v.Deviation+" |")) {
				t.Errorf("%s: deviation %s is not in the deviations table of docs/contract.md", v.ID, v.Deviation)
			}
		}
	}
}

func loadFails(t *testing.T, command []string, dir string, env []string) error {
	pool, err := worker.New(command, worker.WithWorkers(1), worker.WithDir(dir),
		worker.WithEnv(append(os.Environ(), env...)), worker.WithOutput(io.Discard, io.Discard))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	defer pool.Close(ctx)
	s := serving.New(pool)
	if err := s.Load(ctx); err == nil {
		return fmt.Errorf("the model loaded; want model_fn's exception to stop it")
	}
	return nil
}

func checkVector(url string, v inferenceVector) error {
	body := []byte(v.Body)
	if v.BodyB64 != "" {
		var err error
		if body, err = base64.StdEncoding.DecodeString(v.BodyB64); err != nil {
			return err
		}
	}
	req, err := http.NewRequest(http.MethodPost, url+"/invocations", bytes.NewReader(body))
	if err != nil {
		return err
	}
	for _, h := range v.Headers {
		// As sent: a vector's header name keeps its spelling.
		req.Header[h[0]] = append(req.Header[h[0]], h[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	w := v.Want
	if resp.StatusCode != w.Status {
		return fmt.Errorf("status %d, want %d (body %.300q)", resp.StatusCode, w.Status, got)
	}
	if w.Status != http.StatusOK {
		msg := pyAddress.ReplaceAllString(string(got), " at 0x…>")
		if msg != w.ErrorMessage && !strings.HasPrefix(msg, w.ErrorMessage+"\nTraceback (most recent call last):") {
			return fmt.Errorf("error body %.400q, want the message %q and the traceback", msg, w.ErrorMessage)
		}
		return nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != w.ContentType {
		return fmt.Errorf("Content-Type %q, want %q", ct, w.ContentType)
	}
	want := []byte(w.Body)
	if w.BodyB64 != "" {
		if want, err = base64.StdEncoding.DecodeString(w.BodyB64); err != nil {
			return err
		}
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("body %q, want %q", got, want)
	}
	return nil
}

// TestInferenceVectorsInContract: docs/contract.md states how many
// inference vectors there are (at least 150), that all of them match, and
// how many hold a deviation, as inference.json has them.
func TestInferenceVectorsInContract(t *testing.T) {
	vs := loadInferenceVectors(t)
	deviating := 0
	for _, v := range vs.Vectors {
		if v.Deviation != "" {
			deviating++
		}
	}
	testenv.VectorsInContract(t, "inference", len(vs.Vectors), deviating)
}

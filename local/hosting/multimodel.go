package hosting

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sagekit/sagekit/local/data"
	"github.com/sagekit/sagekit/local/wire"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// modelCache is a multi-model variant's models: each TargetModel is
// fetched from the prefix and unpacked once, into dir/<name>/model, which
// every instance sees at /opt/ml/models/<name>/model.
type modelCache struct {
	prefix data.Location
	dir    string
	limits platform.ExtractLimits

	mu      sync.Mutex
	fetched map[string]*fetch
}

type fetch struct {
	once sync.Once
	err  error
}

// modelName is the name a TargetModel is loaded under: a digest, as
// SageMaker names the directories under /opt/ml/models, so any key is a
// safe path element and URL segment.
func modelName(target string) string {
	sum := sha256.Sum256([]byte(target))
	return hex.EncodeToString(sum[:16])
}

// get fetches and unpacks target once; concurrent callers wait for the
// first.
func (c *modelCache) get(ctx context.Context, mover *data.Mover, target string) (string, error) {
	name := modelName(target)
	c.mu.Lock()
	f := c.fetched[name]
	if f == nil {
		f = &fetch{}
		c.fetched[name] = f
	}
	c.mu.Unlock()
	f.once.Do(func() {
		base := filepath.Join(c.dir, name)
		archive, err := mover.File(ctx, c.prefix.Join(strings.Split(target, "/")...), filepath.Join(c.dir, "."+name+".tar.gz"))
		if err == nil {
			err = platform.UnpackModel(ctx, archive, filepath.Join(base, "model"), c.limits)
		}
		if err == nil {
			err = os.Chmod(filepath.Join(base, "model"), 0o755)
		}
		if archive != "" && c.prefix.Scheme == "s3" {
			os.Remove(archive)
		}
		if err != nil {
			os.RemoveAll(base)
			f.err = err
		}
	})
	if f.err != nil {
		// The next request tries again.
		c.mu.Lock()
		if c.fetched[name] == f {
			delete(c.fetched, name)
		}
		c.mu.Unlock()
	}
	return name, f.err
}

// checkTarget refuses a TargetModel that is not a relative key.
func checkTarget(target string) *wire.Error {
	if len(target) > 1024 || strings.HasPrefix(target, "/") || path.Clean(target) != target || strings.HasPrefix(target, "..") {
		return &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("TargetModel %q is not a relative path under the model's ModelDataUrl", target)}
	}
	return nil
}

// loadModel makes sure the instance's container has loaded target
// (POST /models, as SageMaker does before the first request for it) and
// returns the route that invokes it.
func (m *Manager) loadModel(ctx context.Context, v *variant, in *instance, target string) (string, *wire.Error) {
	if e := checkTarget(target); e != nil {
		return "", e
	}
	name, err := v.models.get(ctx, m.mover, target)
	if err != nil {
		return "", &wire.Error{Code: wire.CodeRuntimeValidation, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("Failed to download model data for TargetModel %q of variant %s: %v", target, v.name, err)}
	}
	route := optml.RouteModels + "/" + name + "/invoke"
	if _, ok := in.loaded.Load(name); ok {
		return route, nil
	}
	body, _ := json.Marshal(map[string]string{"model_name": name, "url": path.Join(optml.At("/opt/ml").Models(), name, "model")})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.eps[0].URL+optml.RouteModels, bytes.NewReader(body))
	if err != nil {
		return "", wire.Internal("%v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return "", &wire.Error{Code: wire.CodeModelError, Status: http.StatusFailedDependency,
			Message: fmt.Sprintf("Loading TargetModel %q into the container of variant %s: %v", target, v.name, err)}
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// 409: another request loaded it first.
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusConflict {
		return "", &wire.Error{Code: wire.CodeModelError, Status: http.StatusFailedDependency,
			Message: fmt.Sprintf("Loading TargetModel %q: the container answered %d with message \"%s\"", target, resp.StatusCode, strings.TrimSpace(string(out))),
			Fields:  map[string]any{"OriginalStatusCode": resp.StatusCode, "OriginalMessage": string(out)}}
	}
	in.loaded.Store(name, true)
	return route, nil
}

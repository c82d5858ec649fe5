package worker_test

import (
	"context"
	"testing"

	"github.com/sagekit/sagekit/sdk/serve"
)

// BenchmarkInvoke is the front's side of one request to a worker: taking
// an idle worker, the exchange over its socket and the answer. The test
// worker's own costs are in its process, not counted here; its answer
// carries a Content-Type and two X-Amzn-SageMaker-* headers.
func BenchmarkInvoke(b *testing.B) {
	f := startPool(b, 1, nil)
	req := &serve.Request{Body: []byte("5.1,3.5,1.4,0.2\n"), ContentType: "text/csv", Accept: "text/csv"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := f.pool.Invoke(ctx, req)
		if err != nil || resp.Status != 201 {
			b.Fatalf("Invoke = %v, %v", resp, err)
		}
	}
}

package worker

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadResponse(t *testing.T) {
	// Three answers on one keep-alive connection, then one delimited by its end.
	stream := "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nX-Amzn-SageMaker-Custom-Attributes: a=1\r\nx-amzn-sagemaker-new-session-id: s\r\nX-Other: dropped\r\nContent-Length: 2\r\n\r\n0\n" +
		"HTTP/1.1 507 Insufficient Storage\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.0 200 OK\nContent-Type: application/json\n\n{\"a\":1}"
	br := bufio.NewReaderSize(strings.NewReader(stream), 16) // lines longer than the buffer too
	type answer struct {
		Status string
		Code   int
		Header http.Header
		Close  bool
		Body   string
	}
	want := []answer{
		{"200 OK", 200, http.Header{"Content-Type": {"text/csv"}, "X-Amzn-Sagemaker-Custom-Attributes": {"a=1"}, "X-Amzn-Sagemaker-New-Session-Id": {"s"}}, false, "0\n"},
		{"507 Insufficient Storage", 507, http.Header{}, false, "abcde"},
		{"204 No Content", 204, http.Header{}, false, ""},
		{"200 OK", 200, http.Header{"Content-Type": {"application/json"}}, true, `{"a":1}`},
	}
	for i, w := range want {
		resp, body, err := readResponse(br, 1<<20)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		got := answer{resp.Status, resp.StatusCode, resp.Header, resp.Close, string(body)}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("answer %d (-want +got):\n%s", i, diff)
		}
	}
	for _, bad := range []string{"", "HTTP/1.1 2xx OK\r\n\r\n", "SSH-2.0\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n"} {
		if _, _, err := readResponse(bufio.NewReader(strings.NewReader(bad)), 1<<20); err == nil {
			t.Errorf("readResponse(%q) succeeded", bad)
		}
	}
	if _, _, err := readResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12345")), 4); err == nil {
		t.Error("a body over the limit was read")
	}
}

package worker

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/sdk/serve"
)

func TestReadResponse(t *testing.T) {
	// Three answers on one keep-alive connection, then one delimited by its end.
	stream := "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nX-Amzn-SageMaker-Custom-Attributes: a=1\r\nx-amzn-sagemaker-new-session-id: s\r\nX-Other: dropped\r\nContent-Length: 2\r\n\r\n0\n" +
		"HTTP/1.1 507 Insufficient Storage\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.0 200 OK\nContent-Type: application/json\n\n{\"a\":1}"
	br := bufio.NewReaderSize(strings.NewReader(stream), 16) // lines longer than the buffer too
	type answer struct {
		Resp  *serve.Response
		Close bool
	}
	want := []answer{
		{&serve.Response{Status: 200, ContentType: "text/csv", CustomAttributes: "a=1", Header: http.Header{"X-Amzn-Sagemaker-New-Session-Id": {"s"}}, Body: []byte("0\n")}, false},
		{&serve.Response{Status: 507, Body: []byte("abcde")}, false},
		{&serve.Response{Status: 204}, false},
		{&serve.Response{Status: 200, ContentType: "application/json", Body: []byte(`{"a":1}`)}, true},
	}
	var last string
	for i, w := range want {
		resp, closing, err := readResponse(br, 1<<20, &last)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if diff := cmp.Diff(w, answer{resp, closing}); diff != "" {
			t.Errorf("answer %d (-want +got):\n%s", i, diff)
		}
	}
	for _, bad := range []string{"", "HTTP/1.1 2xx OK\r\n\r\n", "HTTP/1.1 +20 OK\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n", "SSH-2.0\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n"} {
		if _, _, err := readResponse(bufio.NewReader(strings.NewReader(bad)), 1<<20, &last); err == nil {
			t.Errorf("readResponse(%q) succeeded", bad)
		}
	}
	if _, _, err := readResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12345")), 4, &last); err == nil {
		t.Error("a body over the limit was read")
	}
}

// The Content-Type string of one answer is reused by the next that names
// the same type, and a new type replaces it.
func TestReadResponseReusesType(t *testing.T) {
	stream := strings.Repeat("HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 1\r\n\r\n0", 2) +
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1\r\n\r\n0"
	br := bufio.NewReader(strings.NewReader(stream))
	var last string
	var types []string
	for range 3 {
		resp, _, err := readResponse(br, 1<<20, &last)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, resp.ContentType)
	}
	if types[0] != "text/csv" || types[2] != "application/json" || last != "application/json" {
		t.Errorf("Content-Types %q, last %q; want text/csv twice, then application/json", types, last)
	}
	if unsafe.StringData(types[0]) != unsafe.StringData(types[1]) {
		t.Error("the repeated Content-Type was allocated again")
	}
}

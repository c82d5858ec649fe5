package serving

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sagekit/sagekit/sdk/optml"
)

// The access-log line is the JSON object slog's JSONHandler writes for
//
//	logger.Info("request", "method", ..., "path", ..., "status", ...,
//		"bytes_in", ..., "bytes_out", ..., "ms", ..., "remote", ...,
//		["inference_id", ...])
//
// formatted here by hand: at tens of thousands of requests per second the
// generic handler (attribute records, reflection-free but general
// formatting, the caller's program counter) costs more than the rest of the
// front together.

// inferenceIDKey is the inference id header as net/http stores it.
var inferenceIDKey = http.CanonicalHeaderKey(optml.HeaderInferenceID)

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// writeAccessLine writes one access-log line to the access-log writer in a
// single Write call.
func (s *Server) writeAccessLine(r *http.Request, status int, bytesOut int64, d time.Duration, now time.Time) {
	bp := linePool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"time":"`...)
	b = now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, r.URL.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, r.ContentLength, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, bytesOut, 10)
	b = append(b, `,"ms":`...)
	b = strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'g', -1, 64)
	b = append(b, `,"remote":`...)
	b = appendJSONString(b, r.RemoteAddr)
	if id := r.Header[inferenceIDKey]; len(id) > 0 && id[0] != "" {
		b = append(b, `,"inference_id":`...)
		b = appendJSONString(b, id[0])
	}
	b = append(b, "}\n"...)
	s.o.accessWriter.Write(b)
	*bp = b
	linePool.Put(bp)
}

// appendJSONString appends s as a JSON string: plain printable ASCII as is,
// anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// logAccess writes the access-log line through a *slog.Logger, without the
// program counter slog.Logger would look up for every line.
func logAccess(l *slog.Logger, r *http.Request, status int, bytesOut int64, d time.Duration, now time.Time) {
	ctx := r.Context()
	h := l.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	rec := slog.NewRecord(now, slog.LevelInfo, "request", 0)
	rec.AddAttrs(
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes_in", r.ContentLength),
		slog.Int64("bytes_out", bytesOut),
		slog.Float64("ms", float64(d.Microseconds())/1000),
		slog.String("remote", r.RemoteAddr),
	)
	if id := r.Header.Get(optml.HeaderInferenceID); id != "" {
		rec.AddAttrs(slog.String("inference_id", id))
	}
	h.Handle(ctx, rec)
}

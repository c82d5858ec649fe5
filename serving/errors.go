package serving

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/sagekit/sagekit/sdk/serve"
)

var jsonContentType = []string{"application/json"}

// errorBody is the JSON every error from the stack itself carries, shaped
// like the inference toolkit's model server errors.
type errorBody struct {
	Code    int    `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// writeError is the one place where an error becomes an HTTP status and body.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(errorBody{Code: status, Type: errorType(status), Message: msg})
	b = append(b, '\n')
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	w.Write(b)
}

func errorType(status int) string {
	switch status {
	case http.StatusRequestEntityTooLarge:
		return "PayloadTooLarge"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusGatewayTimeout:
		return "Timeout"
	case http.StatusRequestTimeout:
		return "RequestTimeout"
	case http.StatusNotFound:
		return "NotFound"
	case http.StatusConflict:
		return "Conflict"
	case http.StatusInsufficientStorage:
		return "OutOfResources"
	case http.StatusBadGateway:
		return "WorkerFailed"
	}
	if status >= 500 {
		return "InternalServerError"
	}
	return "BadRequest"
}

// statusOf maps a handler error to its HTTP status.
func statusOf(err error) (int, string) {
	var se *serve.Error
	if errors.As(err, &se) && se.Status >= 400 && se.Status <= 599 {
		return se.Status, se.Message
	}
	if errors.Is(err, serve.ErrOutOfResources) {
		return http.StatusInsufficientStorage, err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

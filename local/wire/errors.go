package wire

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Error codes SageMaker and the services beside it return.
const (
	CodeValidation       = "ValidationException"
	CodeNotFound         = "ResourceNotFound"
	CodeInUse            = "ResourceInUse"
	CodeLimitExceeded    = "ResourceLimitExceeded"
	CodeUnknownOperation = "UnknownOperationException"
	CodeSerialization    = "SerializationException"
	CodeInternal         = "InternalFailure"
	CodeMissingAuth      = "MissingAuthenticationTokenException"
	// Runtime (REST-JSON) codes.
	CodeModelError         = "ModelError"
	CodeRuntimeValidation  = "ValidationError"
	CodeServiceUnavailable = "ServiceUnavailable"
	// Logs and Application Auto Scaling spell not-found their own way.
	CodeLogsNotFound       = "ResourceNotFoundException"
	CodeScalingValidation  = "ValidationException"
	CodeScalingNotFound    = "ObjectNotFoundException"
	CodeLogsAlreadyExists  = "ResourceAlreadyExistsException"
	CodeLogsInvalidParam   = "InvalidParameterException"
	CodeScalingConcurrency = "ConcurrentUpdateException"
)

// Error is an error as an AWS service returns it: a code botocore turns
// into an exception class, a message, and the HTTP status.
type Error struct {
	Code    string
	Message string
	Status  int
	// Fields are extra members of the error body (ModelError's
	// OriginalStatusCode, OriginalMessage, LogStreamArn).
	Fields map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Validation is a 400 ValidationException.
func Validation(format string, a ...any) *Error {
	return &Error{Code: CodeValidation, Message: fmt.Sprintf(format, a...), Status: http.StatusBadRequest}
}

// NotFound is SageMaker's 400 ResourceNotFound.
func NotFound(format string, a ...any) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf(format, a...), Status: http.StatusBadRequest}
}

// InUse is SageMaker's 400 ResourceInUse.
func InUse(format string, a ...any) *Error {
	return &Error{Code: CodeInUse, Message: fmt.Sprintf(format, a...), Status: http.StatusBadRequest}
}

// Internal is a 500 InternalFailure: something on this machine (the
// container engine, the disk) failed.
func Internal(format string, a ...any) *Error {
	return &Error{Code: CodeInternal, Message: fmt.Sprintf(format, a...), Status: http.StatusInternalServerError}
}

// WriteJSON writes v as a JSON 1.1 answer.
func WriteJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, Internal("encoding the answer: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Write(b)
}

// WriteError writes e as JSON 1.1 and REST-JSON services do: the code in
// __type and X-Amzn-ErrorType, the message in message.
func WriteError(w http.ResponseWriter, e *Error) {
	body := map[string]any{"__type": e.Code, "message": e.Message}
	for k, v := range e.Fields {
		body[k] = v
	}
	if e.Code == CodeModelError || strings.HasPrefix(e.Code, "Model") {
		body["Message"] = e.Message
	}
	b, _ := json.Marshal(body)
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(status)
	w.Write(b)
}

package serving

import (
	"log"

	"github.com/sagekit/sagekit/internal/redact"
)

// scrubbed makes l remove credentials from what it writes: an
// http.Server's ErrorLog, where net/http may quote what a client sent.
func scrubbed(l *log.Logger) *log.Logger {
	l.SetOutput(redact.Writer(l.Writer()))
	return l
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"
)

// Progress modes of --progress, the same on build, base, test, run and push.
const (
	progressAuto    = "auto"    // tty on a terminal, else plain
	progressPlain   = "plain"   // one line per step
	progressTTY     = "tty"     // a redrawn status line where the command has one
	progressRawJSON = "rawjson" // one JSON object per event
	progressQuiet   = "quiet"   // nothing but errors
)

var progressModes = []string{progressAuto, progressPlain, progressTTY, progressRawJSON, progressQuiet}

// progressFlag is the --progress flag every long-running command shares.
type progressFlag struct{ mode string }

func (p *progressFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.mode, "progress", progressAuto,
		"progress on stderr: auto (tty on a terminal, else plain), plain, tty, rawjson (JSON lines) or quiet")
	cmd.RegisterFlagCompletionFunc("progress", cobra.FixedCompletions(progressModes, cobra.ShellCompDirectiveNoFileComp))
}

// resolve checks the mode and turns auto into tty or plain for stderr.
func (p progressFlag) resolve(stderr io.Writer) (string, error) {
	switch p.mode {
	case progressPlain, progressTTY, progressRawJSON, progressQuiet:
		return p.mode, nil
	case progressAuto, "":
		if isTerminal(stderr) {
			return progressTTY, nil
		}
		return progressPlain, nil
	}
	return "", fmt.Errorf("--progress %s: use %s", p.mode, strings.Join(progressModes, ", "))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// progressLogger is where a library's steps go for a resolved mode:
// "sagekit: step k=v" lines, JSON lines, or nowhere.
func progressLogger(mode string, w io.Writer) *slog.Logger {
	switch mode {
	case progressQuiet:
		return slog.New(slog.DiscardHandler)
	case progressRawJSON:
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(&stepHandler{w: w})
}

// jsonLines writes one JSON object per call, safe for concurrent use.
type jsonLines struct {
	mu sync.Mutex
	w  io.Writer
}

func (j *jsonLines) write(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	fmt.Fprintf(j.w, "%s\n", b)
}

// stepHandler prints a library's Info records as "sagekit: message k=v"
// lines, next to BuildKit's progress.
type stepHandler struct {
	w     io.Writer
	attrs []slog.Attr
}

func (h *stepHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *stepHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("sagekit: ")
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *stepHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &stepHandler{w: h.w, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

func (h *stepHandler) WithGroup(string) slog.Handler { return h }

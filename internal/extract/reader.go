package extract

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// ErrNotTar is returned when the input does not start as a tar does. An
// empty input, or a tar with no entry, is an empty archive instead: Next
// returns io.EOF at once.
var ErrNotTar = errors.New("not a tar archive")

// Reader reads the entries of a tar archive, gzip-compressed or not (told
// by its first bytes), within Limits: every sagekit code path that reads a
// tar, even only its headers, reads it through a Reader.
type Reader struct {
	raw, dec counter
	br       *bufio.Reader
	zr       *gzip.Reader
	tr       *tar.Reader
	o        options
	entries  int64
	declared int64 // sum of the entries' sizes
	produced int64 // bytes handed out by Read
	err      error // the first limit exceeded: sticky
}

// NewReader returns a Reader of the archive r. Only WithLimits and
// WithFlags matter here. When r is an uncompressed file (an io.ReadSeeker),
// entries skipped by Next are skipped by seeking, as with tar.NewReader.
func NewReader(r io.Reader, opts ...Option) *Reader {
	x := &Reader{o: newOptions(opts)}
	x.raw.r = r
	if rs, ok := r.(io.ReadSeeker); ok && !isGzip(rs) {
		x.raw.check = x.checkRatio
		x.tr = tar.NewReader(&seekCounter{&x.raw, rs})
		return x
	}
	x.br = bufio.NewReaderSize(&x.raw, 64<<10)
	return x
}

// isGzip reads the first two bytes of rs and seeks back.
func isGzip(rs io.ReadSeeker) bool {
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return true // cannot seek back: read it as a stream
	}
	var magic [2]byte
	n, _ := io.ReadFull(rs, magic[:])
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return true
	}
	return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b
}

// seekCounter is a counter whose reader can also seek.
type seekCounter struct {
	*counter
	s io.Seeker
}

func (c *seekCounter) Seek(off int64, whence int) (int64, error) { return c.s.Seek(off, whence) }

// Next advances to the next entry, as tar.Reader.Next does. Past a limit it
// returns a *LimitError; a stream that is no tar at all gives ErrNotTar.
func (x *Reader) Next() (*tar.Header, error) {
	if x.err != nil {
		return nil, x.err
	}
	if x.o.limitErr != nil {
		x.err = fmt.Errorf("reading the archive limits: %w", x.o.limitErr)
		return nil, x.err
	}
	if x.tr == nil {
		var src io.Reader = x.br
		if magic, _ := x.br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			zr, err := gzip.NewReader(x.br)
			if err != nil {
				return nil, fmt.Errorf("reading the gzip header: %w", err)
			}
			x.zr, src = zr, zr
		}
		x.dec.r, x.dec.check = src, x.checkRatio
		x.tr = tar.NewReader(&x.dec)
	}
	first := x.entries == 0
	h, err := x.tr.Next()
	if x.err != nil {
		return nil, x.err
	}
	if err != nil {
		if first && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %v", ErrNotTar, err)
		}
		return nil, err
	}
	x.entries++
	if l := x.o.limits.Entries; l > 0 && x.entries > l {
		return nil, x.fail("entries", l, EnvMaxEntries, FlagMaxEntries)
	}
	if h.Size > 0 {
		x.declared += h.Size
		if l := x.o.limits.Bytes; l > 0 && (x.declared > l || x.declared < 0) {
			return nil, x.fail("size", l, EnvMaxBytes, FlagMaxBytes)
		}
	}
	return h, nil
}

// Read reads the current entry's content.
func (x *Reader) Read(p []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	n, err := x.tr.Read(p)
	x.produced += int64(n)
	if lerr := x.checkRatio(); lerr != nil {
		return n, lerr
	}
	if x.err != nil {
		return n, x.err
	}
	return n, err
}

// Close releases the gzip reader; it does not close the underlying reader.
func (x *Reader) Close() error {
	if x.zr != nil {
		return x.zr.Close()
	}
	return nil
}

// checkRatio compares what came out, of the decompressor or of sparse
// entries, with what was read from the archive.
func (x *Reader) checkRatio() error {
	if x.err != nil {
		return x.err
	}
	l := x.o.limits.Ratio
	if l <= 0 {
		return nil
	}
	// What bufio holds ahead is not read yet.
	in := x.raw.n
	if x.br != nil {
		in -= int64(x.br.Buffered())
	}
	out := max(x.dec.n, x.produced)
	if out > ratioFloor && out/l > in {
		return x.fail("ratio", l, EnvMaxRatio, FlagMaxRatio)
	}
	return nil
}

func (x *Reader) fail(what string, limit int64, env, flag string) error {
	if !x.o.flags {
		flag = ""
	}
	x.err = &LimitError{What: what, Limit: limit, Env: env, Flag: flag}
	return x.err
}

// counter counts the bytes read through it and, after each read, runs
// check, whose error ends the stream.
type counter struct {
	r     io.Reader
	n     int64
	check func() error
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.check != nil {
		if cerr := c.check(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

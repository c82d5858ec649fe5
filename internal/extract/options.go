package extract

// Option changes how an archive is unpacked.
type Option func(*options)

type options struct {
	limits   Limits
	flags    bool
	readable bool
	rootfs   bool
}

func newOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	o.limits = o.limits.withDefaults()
	return o
}

// WithLimits sets the limits; default DefaultMaxBytes, DefaultMaxEntries
// and DefaultMaxRatio.
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l } }

// WithFlags makes limit errors name the --max-extract-* flags beside the
// environment variables: for commands that have them. Default: only the
// variables are named.
func WithFlags() Option { return func(o *options) { o.flags = true } }

// WithReadable makes every file and directory readable (and directories
// searchable) by all users, for a directory an image mounts and reads as
// another user. Default: the archive's permission bits, directories
// always writable by their owner.
func WithReadable() Option { return func(o *options) { o.readable = true } }

// WithRootfs unpacks an image's root file system: owners, set-id bits and
// modification times are kept (as root does with tar -xp), and links are
// read as inside a chroot, where an absolute target starts at the
// directory and ".." stops there. Default: owners are the caller, and
// absolute or escaping link targets are refused.
func WithRootfs() Option { return func(o *options) { o.rootfs = true } }

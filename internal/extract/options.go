package extract

import "sync"

// Option changes how an archive is unpacked.
type Option func(*options)

type options struct {
	limits   Limits
	limitErr error // the process's default limits could not be read
	flags    bool
	readable bool
	rootfs   bool
}

func newOptions(opts []Option) options {
	defaults.RLock()
	o := options{limits: defaults.limits, limitErr: defaults.err}
	defaults.RUnlock()
	for _, f := range opts {
		f(&o)
	}
	o.limits = o.limits.withDefaults()
	return o
}

// WithLimits sets the limits; default those SetDefaultLimits set, else
// DefaultMaxBytes, DefaultMaxEntries and DefaultMaxRatio.
func WithLimits(l Limits) Option { return func(o *options) { o.limits, o.limitErr = l, nil } }

// defaults are the limits of an unpacking given no WithLimits.
var defaults struct {
	sync.RWMutex
	limits Limits
	err    error
}

// SetDefaultLimits sets, for the whole process, the limits of every
// unpacking given no WithLimits. A binary's main sets what the
// SAGEKIT_MAX_EXTRACT_* variables say (LimitsFromEnv), so that the
// variable a LimitError names raises that limit wherever an archive is
// read. A non-nil err (a malformed variable) is what each such unpacking
// returns instead, before it reads anything.
func SetDefaultLimits(l Limits, err error) {
	defaults.Lock()
	defaults.limits, defaults.err = l, err
	defaults.Unlock()
}

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

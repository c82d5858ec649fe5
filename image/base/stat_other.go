//go:build !linux

package base

import gofs "io/fs"

type sysStat struct {
	ctime    int64
	ino      uint64
	nlink    uint64
	uid, gid int
}

// statSys has nothing to offer off Linux, where sagekit base does not run.
func statSys(gofs.FileInfo) (sysStat, bool) { return sysStat{}, false }

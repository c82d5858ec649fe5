package base

import (
	gofs "io/fs"
	"syscall"
)

type sysStat struct {
	ctime    int64
	ino      uint64
	nlink    uint64
	uid, gid int
}

func statSys(fi gofs.FileInfo) (sysStat, bool) {
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return sysStat{}, false
	}
	return sysStat{ctime: s.Ctim.Sec*1e9 + s.Ctim.Nsec, ino: s.Ino, nlink: uint64(s.Nlink), uid: int(s.Uid), gid: int(s.Gid)}, true
}

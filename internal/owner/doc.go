// Package owner labels what sagekit creates in the container engine with the
// process that created it, and removes what a process that has since died
// left behind (a run killed with SIGKILL, a crashed test binary).
//
// An owner is a process id, the process's start time and the PID namespace
// and boot it lives in, so that neither a reused pid nor a sagekit in another
// container or on another machine sharing the engine is mistaken for the
// owner: what another namespace or boot created is left alone. The reaper
// only talks to the engine's API; it needs no image.
package owner

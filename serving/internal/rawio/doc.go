// Package rawio reads and writes sockets with non-blocking system calls made
// without the Go scheduler's system-call hand-off (syscall.RawSyscall).
//
// A socket read or write through net.Conn enters the scheduler's system-call
// state: when it lasts longer than one tick of the runtime's monitor thread
// (20 µs, which a loopback TCP write that wakes its reader often does on a
// busy machine), the monitor hands the processor to another thread and keeps
// polling every 20 µs. With one processor (GOMAXPROCS=1) every such hand-off
// wakes a thread and moves the request to it. On a non-blocking socket a read
// or write never waits, so the hand-off buys nothing: the call returns
// EAGAIN instead, and the connection's poller waits. Conn keeps the work on
// the thread that runs it, and the monitor thread goes back to sleeping.
//
// ReadFD is the same for a non-blocking file descriptor read in a loop,
// such as a pipe polled for worker output: a poll that would otherwise
// enter the scheduler's system-call state wakes the monitor thread from its
// long sleep whenever the program is idle, and it then polls every 20 µs
// for the next millisecond.
//
// Connections from Wrap also offer TryRead and TryWrite (Trier), which
// never wait, so that a server can set a deadline only when it is about to.
//
// DialUnix connects to a unix socket whose input is waited for through an
// epoll instance of its own, so that the peer reading what was written (which
// makes a unix socket report output room) does not wake the process.
//
// Under the race detector, and off Linux, Wrap and WrapListener return what
// they are given: the detector does not see memory the kernel writes in a
// raw call.
package rawio

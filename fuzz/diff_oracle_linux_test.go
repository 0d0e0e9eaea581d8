package fuzz

import "golang.org/x/sys/unix"

// limitOracleMemory bounds the address space of the oracle process.
func limitOracleMemory(pid int, bytes uint64) {
	lim := unix.Rlimit{Cur: bytes, Max: bytes}
	unix.Prlimit(pid, unix.RLIMIT_AS, &lim, nil)
}

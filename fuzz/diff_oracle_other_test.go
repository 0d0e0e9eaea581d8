//go:build !linux

package fuzz

// limitOracleMemory is a no-op where prlimit is not available; the
// oracle then relies on the fuzz inputs being small.
func limitOracleMemory(pid int, bytes uint64) {}
